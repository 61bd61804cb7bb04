"""smoke: install the built wheel in fresh environments and test it there, away from the source tree.

This is what catches a package that works from the source tree and breaks
once installed: a data file the wheel lacks, a wrong package path, a
version left behind. The testing itself is relsafe.wheeltest's (verify-stage
does it again with the staged wheel); this step hands it the wheel the build
recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from relsafe.steps.context import Context
from relsafe.steps.contract import Step
from relsafe.wheeltest.environment import Wheel
from relsafe.wheeltest.session import Session, inputs


class Smoke(Step):
    name = "smoke"
    concurrent = True
    title = "Test the wheel in fresh venvs"

    def __init__(self) -> None:
        self._session: Session | None = None

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {"artifacts": ctx.release.artifact_hashes(), **inputs(ctx.config)}

    def prepare(self, ctx: Context) -> None:
        """Create the venvs and install the test requirements while the build runs."""
        self._session_for(ctx).prepare()

    def wheel(self, ctx: Context) -> Path:
        return ctx.folder.dist / next(a.name for a in ctx.release.artifacts() if a.kind == "wheel")

    def run(self, ctx: Context) -> dict[str, Any]:
        return self._session_for(ctx).run(Wheel(self.wheel(ctx)), ctx.release.version, ctx.note)

    def _session_for(self, ctx: Context) -> Session:
        """One session from prepare to run, so that run takes the venvs prepare started."""
        if self._session is None:
            self._session = Session(ctx.project, ctx.config, ctx.folder.wheel_tests(self.name), ctx.log)
        return self._session
