"""Starting and resuming the release of one repository.

This is where a command becomes a release: the configuration is validated,
the project detected, the version planned and the journal locked before any
step runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from relsafe.app.repository import Repository, open_git
from relsafe.core import interruption
from relsafe.core.errors import Refused, RelsafeError, UsageError, WaitingAtGate
from relsafe.engine.pipeline import Observer, Pipeline
from relsafe.journal.records import Release, Status
from relsafe.journal.store import Journal
from relsafe.model.project import Project
from relsafe.steps.context import Context, StagingTarget
from relsafe.steps.gate import expand_order
from relsafe.steps.table import STEP_NAMES
from relsafe.tools import versioning
from relsafe.tools.git import Git

SIDE_EFFECT_FREE = ("preflight",)


@dataclass
class Options:
    """What the user asked for beyond the version: gate confirmations, prompts."""

    confirmed_gates: frozenset[str] = frozenset()
    confirm_all: bool = False
    ask: Callable[[str], bool] | None = None
    show: Callable[[list[str]], None] = field(default=lambda _lines: None)


@dataclass
class Outcome:
    release: Release
    log_path: Path | None
    notes: list[str] = field(default_factory=list)


def used_on_staging(journal: Journal) -> dict[str, str]:
    """Versions that aborted releases uploaded to the staging index (version → release id): an index never
    takes a file name twice, so they can never be released there again."""
    return {
        old.version: old.id
        for old in journal.history()
        if old.status == Status.ABORTED and not old.rehearsal and old.staged_files
    }


def past_used_up(journal: Journal, version: str, request: str, current: str, skipped: list[str]) -> str:
    """`version`, or the first after it that no aborted release used up on the staging index; each version
    passed over is added to `skipped` with why. A part asks for the next patch (0.2.0 used up → 0.2.1,
    still a minor release over 0.1.x); a pre-release part for the next pre-release of its kind."""
    used = used_on_staging(journal)
    step = request if request in versioning.PRE_RELEASE_PARTS else "patch"
    while version in used:
        skipped.append(
            f"{version} is used up: the aborted release {used[version]} uploaded it to the staging index, which "
            "never takes a file name twice"
        )
        version = versioning.spell_like(versioning.next_version(version, step), current)
    return version


def new_release(repo: Repository, project: Project, request: str, skipped: list[str] | None = None) -> Release:
    """The release of `request`; a version an aborted release used up on the staging index is passed over,
    and `skipped` (when given) says which and why."""
    skipped = [] if skipped is None else skipped
    current = project.current_version
    if current is None:
        if request in versioning.ALL_PARTS:
            raise UsageError(
                f"{project.name} has no release tag yet (tag format {project.tags.describe()}): this is its first "
                f"release, so there is no version to {request}",
                hint="give the version to release, e.g. `relsafe release 0.1.0`; if earlier releases were tagged "
                "otherwise, set [release] tag-format",
            )
        version = versioning.explicit_version(request)
    else:
        version = versioning.spell_like(versioning.next_version(current, request), current)
        version = past_used_up(repo.journal, version, request, current, skipped)
        versioning.check_increase(current, version)
    versioning.check_publishable(version)
    config = repo.config
    if "tag" in config.steps and "bump" not in config.steps and project.version_source != "scm":
        raise UsageError(
            f"{config.source}: release.steps: 'tag' without 'bump' would tag {version} on a commit whose files "
            f"say {current}",
            hint="add 'bump' to the steps, or leave out 'tag' and 'push'",
        )
    return Release(
        id=_unused_id(repo.journal, time.strftime("%Y%m%dT%H%M%S"), f"{project.normalized_name}-{version}"),
        request=request,
        from_version=current or "",
        version=version,
        tag=project.tag_for(version),
        branch=config.branch,
        remote=config.remote,
        base_commit=repo.git.head(),
        config_fingerprint=config.fingerprint(),
        order=expand_order(config.steps, config.gates),
    )


def _unused_id(journal: Journal, stamp: str, what: str) -> str:
    """A release id no earlier release used: two releases started within one second (a refusal, then
    the retry) must not overwrite each other's history record or share an artifacts folder."""
    candidate, count = f"{stamp}-{what}", 1
    while (journal.history_dir / f"{candidate}.json").exists() or journal.folder(candidate).path.exists():
        count += 1
        candidate = f"{stamp}.{count}-{what}"
    return candidate


def context_for(repo: Repository, project: Project, release: Release, options: Options) -> Context:
    config = repo.config
    unknown = sorted(options.confirmed_gates - {gate.name for gate in config.gates})
    if unknown:
        known = ", ".join(gate.name for gate in config.gates) or "none are configured"
        raise UsageError(f"option --confirm: no gate named {', '.join(map(repr, unknown))} (gates: {known})")
    return Context(
        git=repo.git,
        project=project,
        config=config,
        folder=repo.journal.folder(release.id),
        release=release,
        log=repo.log,
        remote=config.remote,
        staging=StagingTarget(config.staging_repository_url, config.staging_index_url),
        production_index_url=config.production_index_url,
        confirmed_gates=options.confirmed_gates,
        confirm_all=options.confirm_all,
        ask=options.ask,
        show=options.show,
    )


@contextmanager
def _recording(repo: Repository, release: Release) -> Iterator[None]:
    """Mark the release failed (still resumable) or, when nothing was changed yet, refused and closed;
    after Ctrl-C or SIGTERM, interrupted (still resumable)."""
    try:
        yield
    except KeyboardInterrupt:
        with interruption.deferred():
            release.mark_interrupted()
            repo.journal.save(release)
        raise
    except RelsafeError as error:
        error.log_path = repo.log.path
        touched = [n for n, r in release.steps.items() if n not in SIDE_EFFECT_FREE and r.attempts]
        if touched:
            release.status = Status.WAITING if isinstance(error, WaitingAtGate) else Status.FAILED
            repo.journal.save(release)
            if error.hint is None:
                # the release stays in progress: a failed tool's message alone does not say how to go on
                error.hint = how_to_go_on(release)
        else:
            release.status = Status.REFUSED
            repo.close(release)
        raise


def how_to_go_on(release: Release) -> str:
    """The next command after a failed step, for both causes a maintainer meets. Resume runs the failed step
    again on the same commit and build: right for a flaky test or the network. A fix is a new commit, which
    this release's build cannot contain: abort (it keeps the fix) and release again, which costs nothing
    until a file reached the staging index, and the version after it once one did."""
    failed = next((name for name in release.order if release.step(name).status == Status.FAILED), "the step")
    retry = f"if a second try may pass (a flaky test, the network): `relsafe resume` runs {failed} again"
    if release.staged_files:
        return (
            f"{retry}; if the code, the tests or release.toml must change: `relsafe abort`, commit the fix, and "
            f"`relsafe release {release.request}`: {release.version} is on the staging index, which never takes a "
            "file twice, so that release takes the next version"
        )
    return (
        f"{retry} on the same build; if the code, the tests or release.toml must change: `relsafe abort`, commit "
        f"the fix, and `relsafe release {release.request}` again (nothing reached the staging index: "
        f"{release.version} stays free)"
    )


def _run(repo: Repository, ctx: Context, observer: Observer) -> Outcome:
    release = ctx.release
    release.runs += 1
    release.status = Status.RUNNING
    repo.journal.save(release)
    with _recording(repo, release):
        Pipeline(ctx, repo.journal, observer).run()
    release.status = Status.DONE
    repo.close(release)
    return Outcome(release, repo.log.path)


def in_progress(current: Release) -> Refused:
    """What stops a new release, and a rehearsal of one, while another is in progress: the journal holds
    one release, and its bump commit or tag would be built on or taken."""
    step = next((name for name in current.order if current.step(name).status != Status.DONE), current.order[-1])
    return Refused(
        f"a release of {current.version} is in progress (step {step}); "
        "finish it with `relsafe resume` or end it with `relsafe abort`"
    )


def start(path: Path, request: str, observer: Observer, options: Options) -> Outcome:
    repo = Repository.open(path)
    with repo.journal.lock():
        current = repo.journal.current()
        if current is not None:
            raise in_progress(current)
        project = repo.project()
        skipped: list[str] = []
        release = new_release(repo, project, request, skipped)
        if skipped:
            options.show([f"{line}: releasing {release.version}" for line in skipped])
        return _run(repo, context_for(repo, project, release, options), observer)


def resume(path: Path, observer: Observer, options: Options) -> Outcome:
    repo = Repository.open(path)
    with repo.journal.lock():
        release = repo.journal.current()
        if release is None:
            raise UsageError("no release is in progress; nothing to resume", hint="start one with `relsafe release`")
        if repo.config.fingerprint() != release.config_fingerprint:
            raise Refused(
                f"the configuration ({repo.config.source}) changed since the release of {release.version} started",
                hint="restore it, or run `relsafe abort` and release again",
            )
        project = repo.project()
        _refuse_moved_head(repo.git, release)
        return _run(repo, context_for(repo, project, release, options), observer)


def _refuse_moved_head(git: Git, release: Release) -> None:
    """Between the bump and the push, HEAD must stay on the commit that was tested and will be tagged."""
    bump_commit = release.bump_commit
    pushed = release.step("push").status == Status.DONE
    if bump_commit and not pushed and release.step("bump").status == Status.DONE:
        head = git.head()
        if head == bump_commit:
            return
        if git.is_ancestor(bump_commit, head):
            later = git.count_between(bump_commit, head)
            raise Refused(
                f"HEAD moved since the bump: {later} commit(s) after the bump ({bump_commit[:12]}), up to "
                f"{head[:12]}, are not in the build this release tested and would tag",
                hint="`relsafe abort` keeps them (and says how to drop the bump under them); then "
                f"`relsafe release {release.request}` releases them",
            )
        raise Refused(
            f"HEAD moved since the bump: it was {bump_commit[:12]}, it is {head[:12]}",
            hint=f"check out the branch that ends at {bump_commit[:12]} to go on, or `relsafe abort`",
        )


def last_release(path: Path) -> Release | None:
    return Journal(open_git(path).common_dir, STEP_NAMES).last()
