"""The environments a wheel is tested in: a fresh venv per [test] python, test requirements first, then the wheel.

Fresh, because a venv that ever held the source tree (an editable install, a
stale copy of the package) can hide what the wheel lacks. The test
requirements do not depend on the wheel, so the venvs can be made while the
build runs; the wheel goes in last, with its extras, once it exists.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from relsafe.core.errors import RelsafeError, StepFailed
from relsafe.journal.runlog import RunLog
from relsafe.model.config import Config
from relsafe.model.project_lock import LockPins, read_lock
from relsafe.tools import venv as venvs
from relsafe.wheeltest.requirements import group_requirements, wheel_requirement

PREPARING_AT_ONCE = 2  # venvs made side by side at most, beside the build that runs meanwhile


def pythons(config: Config) -> list[str]:
    """The interpreters to test with: [test] pythons, or the one running relsafe when none is set."""
    return list(config.test_pythons) or [sys.executable]


@dataclass(frozen=True)
class Wheel:
    """A wheel file to test, and where its dependencies come from."""

    path: Path
    index_url: str | None = None
    """Dependencies from this index only; None leaves pip's and uv's configuration as the machine has it."""
    origin: str = ""
    """Where the file came from, as the log line says it after the file name (empty for a local build)."""


class Environments:
    """The fresh venvs of one step under `folder` (venv-0, venv-1, … in [test] pythons order).

    prepare() starts them in the background; take() hands one over, made now
    if it was not prepared or its preparation failed, so that a failure is
    reported by the step itself rather than by groundwork nobody waited for.
    """

    def __init__(self, folder: Path, config: Config, project_root: Path, log: RunLog, project_name: str) -> None:
        self.folder = folder
        self.config = config
        self.project_root = project_root
        self.project_name = project_name
        self.log = log
        self._prepared: dict[str, Future[venvs.Venv]] = {}

    def lock(self) -> LockPins | None:
        """The pins of [test] lock, None without one."""
        if not self.config.test_lock:
            return None
        return read_lock(self.project_root, self.config.test_lock, self.project_name)

    def constraints(self) -> Path | None:
        """[test] lock as a constraints file beside the venvs (written again each time: it is tiny), or None."""
        pins = self.lock()
        if pins is None:
            return None
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "lock-constraints.txt"
        path.write_text(pins.constraints(), encoding="utf-8")
        return path

    def prepare(self) -> None:
        """Start making every venv and installing the test requirements; returns at once.

        The requirements are read here, in the caller's thread, before the bump that runs next may rewrite
        pyproject.toml: a background thread reading it meanwhile could find it half written (bump-my-version
        rewrites a file in place) and take the [dependency-groups] for missing. A broken group leaves the
        venvs unprepared; the step that takes one reads the groups again and reports it.
        """
        try:
            requirements, constraints = self._requirements(), self.constraints()
        except RelsafeError:
            return
        executor = ThreadPoolExecutor(max_workers=PREPARING_AT_ONCE, thread_name_prefix=f"{self.folder.name}-venv")
        for index, python in enumerate(pythons(self.config)):
            self._prepared[python] = executor.submit(self._fresh, index, python, requirements, constraints)
        executor.shutdown(wait=False)

    def take(self, index: int, python: str) -> venvs.Venv:
        """The venv for the index-th python, with the test requirements installed."""
        future = self._prepared.pop(python, None)
        if future is not None:
            try:
                return future.result()
            except StepFailed:
                pass  # made again below, so the failure is reported from the step itself
        return self._fresh(index, python, self._requirements(), self.constraints())

    def _requirements(self) -> list[str]:
        return [*self.config.test_requires, *group_requirements(self.config, self.project_root)]

    def _fresh(self, index: int, python: str, requirements: list[str], constraints: Path | None) -> venvs.Venv:
        venv = venvs.create(self.folder / f"venv-{index}", python, self.log)
        pinned = f" at the versions {self.config.test_lock} pins" if constraints else ""
        venvs.install(
            venv, requirements, self.log, what=f"installing [test] requires and groups{pinned}", constraints=constraints
        )
        return venv


def install_wheel(
    venv: venvs.Venv,
    wheel: Wheel,
    project_name: str,
    extras: Sequence[str],
    log: RunLog,
    constraints: Path | None = None,
) -> float:
    """Install the wheel with the [test] extras (its dependencies at the lock's versions, given `constraints`,
    which never pin the project itself); returns the seconds it took."""
    with_extras = f" with extras {', '.join(extras)}" if extras else ""
    return venvs.install(
        venv,
        [wheel_requirement(wheel.path, project_name, extras)],
        log,
        index_url=wheel.index_url,
        what=f"installing {wheel.path.name}{with_extras}{wheel.origin}",
        constraints=constraints,
    )
