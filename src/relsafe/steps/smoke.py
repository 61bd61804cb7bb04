"""smoke: install the built wheel in fresh environments and test it there, away from the source tree.

This is what catches a package that works from the source tree and breaks
once installed: a data file the wheel lacks, a wrong package path, a
version left behind.
"""

from __future__ import annotations

import shutil
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from relsafe.core.errors import StepFailed
from relsafe.steps.build import recorded_artifacts
from relsafe.steps.context import Context
from relsafe.steps.contract import Step
from relsafe.tools import process
from relsafe.tools import venv as venvs
from relsafe.wheeltest.probe import top_level_modules, verify_installed
from relsafe.wheeltest.provenance import install_recorder
from relsafe.wheeltest.requirements import group_requirements, wheel_requirement
from relsafe.wheeltest.suite import run_suite


class Smoke(Step):
    name = "smoke"
    concurrent = True
    title = "Test the wheel in fresh venvs"

    def __init__(self) -> None:
        self._prepared: dict[str, Future[venvs.Venv]] = {}
        self._executor: ThreadPoolExecutor | None = None

    def pythons(self, ctx: Context) -> list[str]:
        return list(ctx.config.test_pythons) or [sys.executable]

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        inputs: dict[str, Any] = {
            "artifacts": {a["name"]: a["sha256"] for a in recorded_artifacts(ctx)},
            "pythons": self.pythons(ctx),
            "command": ctx.config.test_command,
        }
        # only when set, so that a release recorded before these keys existed still resumes
        for key, value in (("extras", ctx.config.test_extras), ("groups", ctx.config.test_groups)):
            if value:
                inputs[key] = list(value)
        return inputs

    def _venv_dir(self, ctx: Context, index: int) -> Path:
        return ctx.work_dir / self.name / f"venv-{index}"

    def _fresh_venv(self, ctx: Context, index: int, python: str) -> venvs.Venv:
        venv = venvs.create(self._venv_dir(ctx, index), python, ctx.log)
        requirements = [*ctx.config.test_requires, *group_requirements(ctx.config, ctx.project.root)]
        venvs.install(venv, requirements, ctx.log, what="installing [test] requires and groups")
        return venv

    def prepare(self, ctx: Context) -> None:
        """Create the venvs and install the test requirements while the build runs."""
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="smoke-venv")
        for index, python in enumerate(self.pythons(ctx)):
            self._prepared[python] = self._executor.submit(self._fresh_venv, ctx, index, python)
        self._executor.shutdown(wait=False)

    def _venv(self, ctx: Context, index: int, python: str) -> venvs.Venv:
        future = self._prepared.pop(python, None)
        if future is not None:
            try:
                return future.result()
            except StepFailed:
                pass  # made again below, so the failure is reported from the step itself
        return self._fresh_venv(ctx, index, python)

    def wheel(self, ctx: Context) -> Path:
        name: str = next(a["name"] for a in recorded_artifacts(ctx) if a["kind"] == "wheel")
        return ctx.artifacts_dir / name

    def install_wheel(self, ctx: Context, venv: venvs.Venv, wheel: Path) -> float:
        requirement = wheel_requirement(wheel, ctx.project.name, ctx.config.test_extras)
        return venvs.install(venv, [requirement], ctx.log, what=f"installing {wheel.name}{self._extras(ctx)}")

    def _extras(self, ctx: Context) -> str:
        extras = ctx.config.test_extras
        return f" with extras {', '.join(extras)}" if extras else ""

    def run(self, ctx: Context) -> dict[str, Any]:
        return self.test_wheel(ctx, self.wheel(ctx))

    def test_wheel(self, ctx: Context, wheel: Path) -> dict[str, Any]:
        """Install the wheel in each fresh venv, check it imports at the right version, run the tests."""
        results: list[dict[str, Any]] = []
        for index, python in enumerate(self.pythons(ctx)):
            venv = self._venv(ctx, index, python)
            install_seconds = self.install_wheel(ctx, venv, wheel)
            site_packages = venvs.site_packages(venv, ctx.log)
            install_recorder(site_packages[0])  # before any interpreter starts in the venv: it reads the .pth
            # Three read-only looks at one venv, side by side; their errors in this order, as when they ran in turn.
            *_, tests = process.side_by_side(
                partial(venvs.pip_check, venv, ctx.log),
                partial(verify_installed, venv, wheel, ctx.project.name, ctx.release.version, ctx.log, venv.path),
                partial(
                    run_suite,
                    venv,
                    ctx.config,
                    ctx.project.root,
                    top_level_modules(wheel),
                    site_packages,
                    ctx.log,
                    ctx.note,
                ),
            )
            ctx.note(
                f"{Path(python).name}: venv {venv.seconds:.1f}s, install {install_seconds:.1f}s, "
                f"tests {tests['seconds']:.1f}s — {tests['summary']}"
            )
            results.append(
                {
                    "python": python,
                    "venv_seconds": round(venv.seconds, 2),
                    "install_seconds": round(install_seconds, 2),
                    "tests": tests,
                }
            )
            shutil.rmtree(venv.path, ignore_errors=True)
        return {"environments": results, "summary": "; ".join(r["tests"]["summary"] for r in results)}
