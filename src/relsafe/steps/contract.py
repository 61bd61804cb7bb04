"""The contract every step keeps: check reads the world, run acts, verify proves it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from relsafe.steps.context import Context

DONE, READY, BLOCKED = "done", "ready", "blocked"


@dataclass
class Check:
    """What a step found before acting.

    DONE carries the outputs found in the world (a tag that already exists on
    the right commit), so resume records them instead of repeating the work.
    """

    state: str
    reasons: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def ready(cls) -> Check:
        return cls(READY)

    @classmethod
    def done(cls, **outputs: Any) -> Check:
        return cls(DONE, outputs=outputs)

    @classmethod
    def blocked(cls, *reasons: str) -> Check:
        return cls(BLOCKED, reasons=list(reasons))


class Step:
    """Base of the steps; subclasses set `name` and override what they need.

    `produces` marks steps whose outputs later steps need: when one of them
    cannot finish in a rehearsal, the rehearsal stops there instead of
    collecting further blockers. `concurrent` marks read-only checks of the
    built files that may run beside their concurrent neighbours.
    `changes_world` marks steps whose effect outlives the journal and the
    release's temp folders (a commit, files on an index, a tag, remote refs):
    a resumed release asks preflight's questions about the world again before
    the first of them that still has work to do.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    produces: ClassVar[bool] = False
    concurrent: ClassVar[bool] = False
    changes_world: ClassVar[bool] = False

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        """The inputs this step's result depends on; a change makes resume refuse."""
        return {}

    def prepare(self, ctx: Context) -> None:
        """Start side-effect-free groundwork early (venvs while the build runs); may be skipped."""

    prepares_with_preflight: ClassVar[bool] = False
    """Its groundwork touches neither the repository nor the release's folder (a build environment in the
    run's temp folder, an import), so it may start beside preflight rather than after it."""

    def check(self, ctx: Context) -> Check:
        return Check.ready()

    def run(self, ctx: Context) -> dict[str, Any]:
        return {}

    def verify(self, ctx: Context) -> None:
        """Raise StepFailed when the postcondition does not hold; read-only."""
