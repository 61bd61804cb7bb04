"""The steps relsafe implements, in pipeline order.

Steps are imported lazily: `relsafe --help` must not pay for build, twine
or bump-my-version.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from relsafe.model.config import DEFAULT_STEPS_EXCLUDED, PIPELINE_ORDER

if TYPE_CHECKING:
    from relsafe.model.config import Config
    from relsafe.steps.contract import Step

IMPLEMENTED: dict[str, str] = {
    "preflight": "relsafe.steps.preflight:Preflight",
    "bump": "relsafe.steps.bump:Bump",
    "build": "relsafe.steps.build:Build",
    "inspect": "relsafe.steps.inspect:Inspect",
    "smoke": "relsafe.steps.smoke:Smoke",
    "stage": "relsafe.steps.stage:Stage",
    "verify-stage": "relsafe.steps.verify_stage:VerifyStage",
    "gate": "relsafe.steps.gate:Gate",
    "tag": "relsafe.steps.tag:Tag",
    "push": "relsafe.steps.push:Push",
    "watch": "relsafe.steps.watch:Watch",
}


def known_steps() -> tuple[str, ...]:
    return tuple(name for name in PIPELINE_ORDER if name in IMPLEMENTED)


def default_steps() -> tuple[str, ...]:
    return tuple(name for name in known_steps() if name not in DEFAULT_STEPS_EXCLUDED)


def load(name: str, config: Config) -> Step:
    """The step for a pipeline name; `gate:<name>` is the [[gate]] of that name."""
    if name.startswith("gate:"):
        from relsafe.steps.gate import Gate

        gate = next(g for g in config.gates if "gate:" + g.name == name)
        return Gate(gate)
    module, _, attribute = IMPLEMENTED[name].partition(":")
    step: Step = getattr(import_module(module), attribute)()
    return step
