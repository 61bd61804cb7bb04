"""One wheel tested in every [test] python: install it, then pip check, the import probe and the tests.

smoke tests the wheel it built and verify-stage the one it downloaded from
the staging index; both hold a Session, prepare it while earlier steps run,
and record what run() returns. The four looks at an installed venv (pip
check, the import probe, the tests, what the wheel installed) only read it,
so they run side by side.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from relsafe.journal.runlog import RunLog
from relsafe.model.config import Config
from relsafe.model.project import Project
from relsafe.tools import process
from relsafe.tools import venv as venvs
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

    def run(self, wheel: Wheel, version: str, note: Callable[[str], None]) -> dict[str, Any]:
        """Install the wheel in each fresh venv, check it imports at `version`, run the tests; raise StepFailed
        on the first problem. Each venv is removed once its python passed."""
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
            # Four read-only looks at one venv, side by side; their errors in this order, as when they ran in turn.
            *_, tests, tested = process.side_by_side(
                partial(venvs.pip_check, venv, self.log),
                partial(verify_installed, venv, wheel.path, self.project.name, version, self.log, venv.path),
                partial(run_suite, venv, self.config, self.project.root, modules, site_packages, self.log, note),
                partial(tested_environment, venv, python, site_packages, self.project.name, extras, self.log),
            )
            note(
                f"{Path(python).name}: venv {venv.seconds:.1f}s, install {install_seconds:.1f}s, "
                f"tests {tests['seconds']:.1f}s — {tests['summary']}"
            )
            results.append(
                {
                    "python": python,
                    "venv_seconds": round(venv.seconds, 2),
                    "install_seconds": round(install_seconds, 2),
                    "tests": tests,
                    # what the wheel brought into the venv, for audit-deps (journal.records.TestedEnvironment)
                    "markers": tested.markers,
                    "installed": [item.as_dict() for item in tested.installed],
                }
            )
            shutil.rmtree(venv.path, ignore_errors=True)
        summary = "; ".join(r["tests"]["summary"] for r in results)
        pinned = f" (test dependencies at the versions {lock.path} pins)" if lock is not None else ""
        return {"environments": results, "summary": summary + pinned}
