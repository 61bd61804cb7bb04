"""The one step table: every step's name, implementation, what it needs and whether it runs by default.

Adding a step is one module under `steps/` plus one row here. Implementations are named, not imported:
`relsafe --help` must not pay for build, twine or bump-my-version.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from relsafe.model.config import Config
    from relsafe.steps.contract import Step


@dataclass(frozen=True)
class StepRow:
    name: str
    implementation: str
    """`module:Class`, imported when the step is first loaded."""
    needs: tuple[str, ...] = ()
    """The steps whose work this one uses (the built files, the staged ones, the tag to push): a list of steps
    that names this one must name them too."""
    default: bool = True
    """Whether a release runs it when release.toml lists no steps."""


STEPS: tuple[StepRow, ...] = (
    StepRow("preflight", "relsafe.steps.preflight:Preflight"),
    StepRow("bump", "relsafe.steps.bump:Bump"),
    StepRow("build", "relsafe.steps.build:Build"),
    StepRow("inspect", "relsafe.steps.inspect:Inspect", needs=("build",)),
    StepRow("smoke", "relsafe.steps.smoke:Smoke", needs=("build",)),
    StepRow("audit-deps", "relsafe.steps.audit_deps:AuditDeps", needs=("build", "smoke")),
    StepRow("stage", "relsafe.steps.stage:Stage", needs=("build",)),
    StepRow("verify-stage", "relsafe.steps.verify_stage:VerifyStage", needs=("build", "stage")),
    StepRow("gate", "relsafe.steps.gate:Gate"),
    StepRow("tag", "relsafe.steps.tag:Tag"),
    StepRow("push", "relsafe.steps.push:Push", needs=("tag",)),
    StepRow("watch", "relsafe.steps.watch:Watch", needs=("build",), default=False),
)
"""In pipeline order."""

STEP_NAMES: tuple[str, ...] = tuple(row.name for row in STEPS)
DEFAULT_STEPS: tuple[str, ...] = tuple(row.name for row in STEPS if row.default)
_BY_NAME = {row.name: row for row in STEPS}


def load(name: str, config: Config) -> Step:
    """The step for a pipeline name; `gate:<name>` is the [[gate]] of that name."""
    if name.startswith("gate:"):
        from relsafe.steps.gate import Gate

        gate = next(g for g in config.gates if "gate:" + g.name == name)
        return Gate(gate)
    module, _, attribute = _BY_NAME[name].implementation.partition(":")
    step: Step = getattr(import_module(module), attribute)()
    return step
