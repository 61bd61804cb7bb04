"""`release --dry-run`: the real steps, run for real, against a sandbox that is thrown away.

The sandbox is a clone of HEAD with a throwaway bare clone as its remote and
the embedded index as its staging index. A clone rather than a worktree:
tags and commits made in a worktree would land in the real repository's
refs. The real repository, remote and indexes are only read. Every blocker
is collected instead of stopping at the first; only the rehearsal's record
is written, into the real journal's history. Ctrl-C or SIGTERM stops it the
same way: sandbox removed, record written (as interrupted), nothing to resume.
A rehearsal killed outright leaves its sandbox and index to the next run
(tools.leftovers).

While a real release is in progress, a real release would be refused before
its first step: the rehearsal says so as its one blocker and runs nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from relsafe.app.release import Options, context_for, in_progress, new_release
from relsafe.app.repository import Repository
from relsafe.core import interruption
from relsafe.core.errors import ExitCode, Interrupted, RelsafeError
from relsafe.engine.pipeline import Blocker, Observer, Pipeline
from relsafe.journal.records import Release, Status
from relsafe.journal.runlog import RunLog
from relsafe.journal.store import Journal
from relsafe.steps.context import StagingTarget
from relsafe.steps.table import STEP_NAMES
from relsafe.tools.git import Git
from relsafe.tools.localindex import LocalIndex

STOPPED = "the rehearsal was stopped; it changed nothing, and there is nothing to resume"


@dataclass
class RehearsalOutcome:
    release: Release
    blockers: list[Blocker]
    record: Path
    log_path: Path | None
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        if not self.blockers:
            return ExitCode.OK
        return max(blocker.exit_code for blocker in self.blockers)


def _sandbox_repository(real: Git, release: Release, folder: Path, log: RunLog) -> Git:
    remote = folder / "remote.git"
    real.clone(str(real.root), remote, bare=True)
    work = folder / "work"
    real.clone(str(remote), work)
    sandbox = Git(work, log)
    sandbox.module_store = real.common_dir / "modules"  # read only: the build clones submodules from it
    sandbox.checkout_branch(release.branch, release.base_commit)
    for key in ("user.name", "user.email", "user.signingkey"):
        value = real.config_value(key)
        if value:
            sandbox.set_config(key, value)
    if release.remote != "origin":
        sandbox.set_remote_url(release.remote, str(remote))
    return sandbox


def rehearse(path: Path, request: str, observer: Observer, options: Options) -> RehearsalOutcome:
    """Rehearse a release of `request`; Ctrl-C or SIGTERM removes the sandbox, records the rehearsal as interrupted
    and raises Interrupted (a rehearsal leaves nothing to resume)."""
    try:
        real = Repository.open(path)
        current = real.journal.current()
        release = _new_release(real, request, current)
    except KeyboardInterrupt:
        raise Interrupted(STOPPED) from None
    release.rehearsal = True
    try:
        blockers = _in_progress_blockers(current) or _in_sandbox(real, release, observer, options)
    except KeyboardInterrupt:
        with interruption.deferred():
            release.mark_interrupted()
            real.journal.finish(release)
        interrupted = Interrupted(STOPPED)
        interrupted.log_path = real.log.path
        raise interrupted from None
    release.blockers = [blocker.as_dict() for blocker in blockers]
    release.status = Status.BLOCKED if blockers else Status.REHEARSED
    record = real.journal.finish(release)
    warnings = release.preflight_warnings
    return RehearsalOutcome(release, blockers, record, real.log.path, warnings)


def _new_release(real: Repository, request: str, current: Release | None) -> Release:
    """The release to rehearse. While another is in progress, the project and version are read from its
    bumped files, which may not allow the request: a real release says first that one is in progress."""
    try:
        return new_release(real, real.project(), request)
    except RelsafeError:
        if current is None:
            raise
        raise in_progress(current) from None


def _in_progress_blockers(current: Release | None) -> list[Blocker]:
    if current is None:
        return []
    refusal = in_progress(current)
    return [Blocker("preflight", refusal.message, refusal.exit_code)]


def _in_sandbox(real: Repository, release: Release, observer: Observer, options: Options) -> list[Blocker]:
    """The pipeline's blockers against a sandbox that is removed whatever happens, Ctrl-C and SIGTERM included."""
    folder = Path(tempfile.mkdtemp(prefix="relsafe-rehearsal-"))
    local_index = LocalIndex(folder / "index", log_path=folder / "index.log")
    try:
        sandbox_git = _sandbox_repository(real.git, release, folder, real.log)
        sandbox = Repository(
            sandbox_git, Journal(sandbox_git.common_dir, STEP_NAMES), real.config, real.log, real.subdir
        )
        local_index.start()
        ctx = context_for(sandbox, sandbox.project(), release, options)
        ctx.staging = StagingTarget(local_index.upload_url, local_index.index_url, local_index.credentials)
        ctx.rehearsal = True
        ctx.real_git = real.git
        return Pipeline(ctx, sandbox.journal, observer).run()
    finally:
        with interruption.deferred():
            local_index.close()
            shutil.rmtree(folder, ignore_errors=True)
