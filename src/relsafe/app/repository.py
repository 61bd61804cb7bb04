"""An opened repository: its git, journal, configuration and this run's log, as every command needs them."""

from __future__ import annotations

import email.message
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from relsafe.core.errors import UsageError
from relsafe.journal.records import Release
from relsafe.journal.runlog import RunLog
from relsafe.journal.store import Journal
from relsafe.model.config import Config, load_config
from relsafe.model.project import Project, detect_project, find_project_root
from relsafe.model.project_lock import read_lock
from relsafe.steps.table import STEP_NAMES, STEPS
from relsafe.tools import home, leftovers
from relsafe.tools.git import Git


def open_git(path: Path) -> Git:
    """The repository at `--path`, refused unless it is a folder in a work tree with a first commit: what
    every command needs before it reads a journal or plans a release."""
    if not path.exists():
        raise UsageError(f"option --path: {path.absolute()}: no such folder")
    if not path.is_dir():
        raise UsageError(f"option --path: {path.absolute()}: expected a folder, found a file")
    git = Git(path, RunLog(None))
    if git.resolve("HEAD") is None:
        raise UsageError(
            f"{git.root}: the repository has no commits yet; there is nothing to release",
            hint="commit the project first (`git add -A && git commit`)",
        )
    return git


@dataclass
class Repository:
    """An opened repository: its git, journal, configuration, and this run's log.

    `subdir` is the project's folder inside the repository: "" at its root, or
    the package of a monorepo that `--path` (or the current folder) named.
    """

    git: Git
    journal: Journal
    config: Config
    log: RunLog
    subdir: str = ""
    cleaned_up: list[str] = field(default_factory=list)  # what killed runs had left, ended and removed

    @classmethod
    def open(cls, path: Path, *, keep_log: bool = True) -> Repository:
        """keep_log=False for read-only commands (`--plan`), which must leave nothing behind.

        The others (release, its rehearsal, resume, abort) first end what a
        killed relsafe left running here and remove its temp folder, then
        record this run, so that the next one can do the same for it.
        """
        git = open_git(path)
        journal = Journal(git.common_dir, STEP_NAMES)
        log = RunLog(journal.new_log() if keep_log else None)
        git.log = log
        cleaned_up = []
        if keep_log:
            cleaned_up = leftovers.clean_up_after_killed_runs(journal.runs_dir)
            for line in cleaned_up:
                log.write(line)
            leftovers.record_in(journal.runs_dir)
        root = find_project_root(path, git.root)
        config = load_config(root, STEPS)
        home.use_scratch_home(config.scratch_home)
        subdir = "" if root == git.root else root.relative_to(git.root).as_posix()
        return cls(git, journal, config, log, subdir, cleaned_up)

    @property
    def project_root(self) -> Path:
        return self.git.root / self.subdir

    def project(self, *, check_backend: bool = True) -> Project:
        """The detected project, with its [test] dependencies checked against it before anything changes.
        check_backend=False (`--plan`) asks the build backend only for a name no file states: a setup.py
        project's code is not run just to show a plan."""
        from relsafe.wheeltest.requirements import check_test_dependencies

        project = detect_project(
            self.project_root,
            self.git.root,
            self.config,
            self.git.tags_reachable(),
            self._backend_metadata,
            check_backend=check_backend,
        )
        check_test_dependencies(self.config, project.root, project.name, project.extras)
        if self.config.test_lock:  # a missing or unreadable lock is found now, not by smoke after the bump
            read_lock(project.root, self.config.test_lock, project.name)
        return project

    def _backend_metadata(self) -> email.message.Message:
        """What the backend reports for HEAD, read from an export: a backend writes (egg-info) where it runs."""
        from relsafe.tools.backend_metadata import read_backend_metadata

        with tempfile.TemporaryDirectory(prefix="relsafe-project-") as folder:
            self.git.export("HEAD", Path(folder))
            return read_backend_metadata(Path(folder) / self.subdir, isolated=self.config.build_isolation, log=self.log)

    def close(self, release: Release) -> None:
        """Move the ended release to history and remove what its steps made, keeping its artifacts.

        A build checkout is a git worktree: it is removed through git, so that
        `git worktree list` keeps no entry of it.
        """
        self.journal.finish(release)
        release_folder = self.journal.folder(release.id)
        for folder in release_folder.scratch():
            if release_folder.is_checkout(folder):
                self.git.remove_worktree(folder)
            elif folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
            else:
                folder.unlink(missing_ok=True)
