"""One wheel tested in every [test] python: install it, then pip check, the import probe and the tests.

smoke tests the wheel it built and verify-stage the one it downloaded from
the staging index; both hold a Session, prepare it while earlier steps run,
and record what run() returns. The four looks at an installed venv (pip
check, the import probe, the tests, what the wheel installed) only read it,
so they run side by side.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from relsafe.journal.records import TestedEnvironment
from relsafe.journal.runlog import RunLog
from relsafe.model.config import Config
from relsafe.model.project import Project
from relsafe.tools import process
from relsafe.tools import venv as venvs
from relsafe.wheeltest.difference import describe, differences
from relsafe.wheeltest.environment import Environments, Wheel, install_wheel, pythons
from relsafe.wheeltest.installed import tested_environment
from relsafe.wheeltest.probe import top_level_modules, verify_installed
from relsafe.wheeltest.provenance import install_recorder
from relsafe.wheeltest.suite import run_suite


def inputs(config: Config) -> dict[str, Any]:
    """The [test] settings a result depends on, for a step's fingerprint: a change makes resume refuse."""
    found: dict[str, Any] = {"pythons": pythons(config), "command": config.test_command}
    # only when set, so that a release recorded before these keys existed still resumes
    for key, value in (("extras", config.test_extras), ("groups", config.test_groups), ("lock", config.test_lock)):
        if value:
            found[key] = value if isinstance(value, str) else list(value)
    return found


class Session:
    """Testing a wheel of `project` in fresh venvs under `folder`, one per [test] python."""

    def __init__(self, project: Project, config: Config, folder: Path, log: RunLog) -> None:
        self.project = project
        self.config = config
        self.log = log
        self.environments = Environments(folder, config, project.root, log, project.name)

    def prepare(self) -> None:
        """Make the venvs and install the test requirements in the background (the wheel may not exist yet)."""
        self.environments.prepare()

    def run(
        self,
        wheel: Wheel,
        version: str,
        note: Callable[[str], None],
        tested: Mapping[str, TestedEnvironment] | None = None,
        always: str | None = None,
    ) -> dict[str, Any]:
        """Install the wheel in each fresh venv, check it imports at `version`, run the tests; raise StepFailed
        on the first problem. Each venv is removed once its python passed.

        `tested` (verify-stage): the environments smoke tested, by python; the tests then run only in a venv
        that differs from its python's (wheeltest.difference), and each result says which it did and why.
        `always`: why the tests run again whatever the venvs hold, recorded with each result.
        """
        results: list[dict[str, Any]] = []
        lock = self.environments.lock()
        if lock is not None:
            note(f"test dependencies and the wheel's own at the versions {lock.path} pins ({len(lock.pins)} pins)")
        constraints = self.environments.constraints()
        for index, python in enumerate(pythons(self.config)):
            venv = self.environments.take(index, python)
            extras = self.config.test_extras
            install_seconds = install_wheel(venv, wheel, self.project.name, extras, self.log, constraints)
            site_packages = venvs.site_packages(venv, self.log)
            install_recorder(site_packages[0])  # before any interpreter starts in the venv: it reads the .pth
            modules = top_level_modules(wheel.path)
            suite = partial(run_suite, venv, self.config, self.project.root, modules, site_packages, self.log, note)
            look = partial(
                tested_environment, venv, python, site_packages, self.project.name, self.config.test_extras, self.log
            )
            checks = (
                partial(venvs.pip_check, venv, self.log),
                partial(verify_installed, venv, wheel.path, self.project.name, version, self.log, venv.path),
            )
            # read-only looks at one venv, side by side; their errors in this order, as when they ran in turn
            if tested is None:
                *_, tests, found = process.side_by_side(*checks, suite, look)
                if always:
                    tests = {**tests, "ran": True, "reason": always}
            else:
                *_, (tests, found) = process.side_by_side(
                    *checks, partial(_tests_unless_same, tested.get(python), look, suite)
                )
            note(f"{Path(python).name}: venv {venv.seconds:.1f}s, install {install_seconds:.1f}s, {_tests_line(tests)}")
            results.append(
                {
                    "python": python,
                    "venv_seconds": round(venv.seconds, 2),
                    "install_seconds": round(install_seconds, 2),
                    "tests": tests,
                    # what the wheel brought into the venv, for audit-deps (journal.records.TestedEnvironment)
                    "markers": found.markers,
                    "installed": [item.as_dict() for item in found.installed],
                }
            )
            shutil.rmtree(venv.path, ignore_errors=True)
        summary = "; ".join(r["tests"]["summary"] for r in results)
        pinned = f" (test dependencies at the versions {lock.path} pins)" if lock is not None else ""
        return {"environments": results, "summary": summary + pinned}


def _tests_unless_same(
    tested: TestedEnvironment | None,
    look: Callable[[], TestedEnvironment],
    suite: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Any], TestedEnvironment]:
    """Compare the venv with smoke's, then run the suite only when they differ."""
    found = look()
    differ = differences(tested, found)
    if not differ:
        count = len(found.installed)
        reason = (
            f"the venv is smoke's: the same {count} dependenc{'y' if count == 1 else 'ies'} (versions and files) "
            "and the same interpreter, and the wheel's sha256 is the tested one"
        )
        summary = "tests not run again: the venv is smoke's"
        return {"ran": False, "reason": reason, "seconds": 0.0, "summary": summary}, found
    return {**suite(), "ran": True, "reason": "it differs from smoke's: " + describe(differ)}, found


def _tests_line(tests: Mapping[str, Any]) -> str:
    if tests.get("ran") is False:
        return f"tests not run again: {tests['reason']}"
    why = f" (run again: {tests['reason']})" if "reason" in tests else ""
    return f"tests {tests['seconds']:.1f}s — {tests['summary']}{why}"
