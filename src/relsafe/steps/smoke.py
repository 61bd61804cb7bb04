"""smoke: install the built wheel in fresh environments and test it there, away from the source tree.

This is what catches a package that works from the source tree and breaks
once installed: a data file the wheel lacks, a wrong package path, a
version left behind.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from relsafe.artifacts.distribution import wheel_members
from relsafe.core.errors import StepFailed
from relsafe.journal.runlog import RunLog
from relsafe.steps.build import recorded_artifacts
from relsafe.steps.context import Context
from relsafe.steps.contract import Step
from relsafe.tools import process
from relsafe.tools import venv as venvs
from relsafe.wheeltest.folder import smoke_folder
from relsafe.wheeltest.provenance import install_recorder, read_record, recorder_environment
from relsafe.wheeltest.requirements import group_requirements, wheel_requirement

TALLY_LINE = re.compile(r"\b\d+ (passed|failed|skipped|errors?)\b|^OK\b|^Ran \d+ tests?|no tests ran")
SUMMARY_LINE = re.compile(r"^(FAILED|ERROR) |^=+ .*(failed|error|passed|no tests ran).* =+$|^\d+ (failed|passed)")
IMPORT_PROBE = """
import importlib, importlib.metadata, json
result = {"modules": {}, "metadata": None, "errors": {}}
for name in MODULES:
    try:
        module = importlib.import_module(name)
        result["modules"][name] = getattr(module, "__version__", None)
    except Exception as error:
        result["errors"][name] = f"{type(error).__name__}: {error}"
try:
    result["metadata"] = importlib.metadata.version(DIST)
except importlib.metadata.PackageNotFoundError as error:
    result["errors"]["metadata"] = str(error)
print("RELSAFE-PROBE " + json.dumps(result))
"""


def top_level_modules(wheel: Path) -> list[str]:
    """The importable names a wheel installs at the top of site-packages."""
    names = set()
    for member in wheel_members(wheel):
        top, separator, rest = member.partition("/")
        if top.endswith((".dist-info", ".data")):
            continue
        if separator and rest == "__init__.py":
            names.add(top)
        elif not separator and top.endswith(".py"):
            names.add(top.removesuffix(".py"))
        elif not separator and top.endswith((".so", ".pyd")):
            names.add(top.split(".")[0])
    return sorted(names)


def same_version(found: object, release: str) -> bool:
    """Equal as PEP 440 versions: a zero-padded 2026.07.23 in __version__ is the release 2026.7.23."""
    try:
        return Version(str(found)) == Version(release)
    except InvalidVersion:
        return False


def failing_lines(output: str) -> list[str]:
    """The test runner's own summary: which tests failed, and the tally."""
    lines = [line for line in output.splitlines() if SUMMARY_LINE.search(line.strip())]
    return lines[-12:] or output.strip().splitlines()[-12:]


def verify_installed(
    venv: venvs.Venv, wheel: Path, dist_name: str, version: str, log: RunLog, cwd: Path
) -> dict[str, Any]:
    """Import every top-level module and compare __version__ and the metadata version with the release."""
    modules = top_level_modules(wheel)
    code = IMPORT_PROBE.replace("MODULES", repr(modules)).replace("DIST", repr(dist_name))
    done = venvs.run_python(venv, code, log, cwd=cwd)
    probe = next((line for line in done.output.splitlines() if line.startswith("RELSAFE-PROBE ")), None)
    if probe is None:
        raise StepFailed("importing the installed package failed", details=done.tail())
    result = json.loads(probe.removeprefix("RELSAFE-PROBE "))
    problems = [f"import {name}: {message}" for name, message in result["errors"].items()]
    if result["metadata"] is not None and not same_version(result["metadata"], version):
        problems.append(f"installed metadata says version {result['metadata']}, the release is {version}")
    for name, found in result["modules"].items():
        if found is not None and not same_version(found, version):
            problems.append(f"{name}.__version__ is {found!r}, the release is {version!r}")
    if problems:
        raise StepFailed("the installed wheel is not right: " + problems[0], details=problems)
    return {"modules": modules, "version": version}


def run_tests(ctx: Context, venv: venvs.Venv, modules: list[str], site_packages: list[Path]) -> dict[str, Any]:
    """Run [test] command from a folder outside the repository and prove the wheel's modules came from the venv
    (the import recorder must be installed in `site_packages` already)."""
    with smoke_folder(ctx.project.root, ctx.config.test_paths) as folder:
        record = folder.path / ".relsafe-imports.jsonl"
        done = venvs.run_command(
            venv,
            ctx.config.test_command,
            ctx.log,
            cwd=folder.path,
            extra_env=recorder_environment(record, modules),
            passed=ctx.config.test_env,
        )
        imported, foreign = read_record(record, site_packages)
    for note in folder.notes:
        ctx.note(note)
    if foreign:
        raise StepFailed(
            f"the tests did not test the wheel: {foreign[0].describe()}",
            hint="make the tests import the installed package (no sys.path edits, no editable installs), "
            "then `relsafe abort` and release again",
            details=[item.describe() for item in foreign],
        )
    if done.returncode != 0:
        raise StepFailed(
            f"the tests failed against the installed wheel ({ctx.config.test_command!r}, exit {done.returncode})",
            hint="fix the code, then `relsafe abort` and release again; the full output is in the log",
            details=failing_lines(done.output),
        )
    lines = [line.strip() for line in done.output.splitlines() if line.strip()]
    # the runner's tally (`12 passed in 0.3s`, unittest's `OK`); quiet settings can leave only progress dots
    tally = next((line.strip("= ") for line in reversed(lines) if TALLY_LINE.search(line)), None)
    summary = tally or f"exit 0 ({len(lines)} line(s) of output, no tally)"
    return {
        "command": ctx.config.test_command,
        "seconds": round(done.seconds, 2),
        "summary": summary,
        "imported_from": {name: where for name, where in sorted(imported.items()) if "." not in name},
    }


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
                partial(run_tests, ctx, venv, top_level_modules(wheel), site_packages),
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
