"""Starting, resuming and aborting the release of one repository.

This is where a command becomes a release: the configuration is validated,
the project detected, the version planned and the journal locked before any
step runs.
"""

from __future__ import annotations

import email.message
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from relsafe.core import interruption
from relsafe.core.errors import DamagedJournal, Refused, RelsafeError, UsageError, WaitingAtGate
from relsafe.engine.pipeline import Observer, Pipeline
from relsafe.journal.records import Release, Status
from relsafe.journal.runlog import RunLog
from relsafe.journal.store import Journal
from relsafe.model.config import Config, load_config
from relsafe.model.project import Project, detect_project, find_project_root
from relsafe.model.tag_convention import DEFAULT_FORMAT
from relsafe.steps.bump import found_bump_commit, is_pure_bump
from relsafe.steps.context import Context, StagingTarget
from relsafe.steps.gate import expand_order
from relsafe.steps.table import STEP_NAMES, STEPS
from relsafe.tools import leftovers, versioning
from relsafe.tools.git import Git, tagged_commit

if TYPE_CHECKING:
    from relsafe.model.publish_workflow import InitWrite, PublisherSetup
    from relsafe.security.workflow.report import AuditReport

SIDE_EFFECT_FREE = ("preflight",)


@dataclass
class Options:
    """What the user asked for beyond the version: gate confirmations, prompts."""

    confirmed_gates: frozenset[str] = frozenset()
    confirm_all: bool = False
    ask: Callable[[str], bool] | None = None


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
        subdir = "" if root == git.root else root.relative_to(git.root).as_posix()
        return cls(git, journal, config, log, subdir, cleaned_up)

    @property
    def project_root(self) -> Path:
        return self.git.root / self.subdir

    def project(self) -> Project:
        """The detected project, with its [test] dependencies checked against it before anything changes."""
        from relsafe.wheeltest.requirements import check_test_dependencies

        project = detect_project(
            self.project_root, self.git.root, self.config, self.git.tags_reachable(), self._backend_metadata
        )
        check_test_dependencies(self.config, project.root, project.name, project.extras)
        return project

    def _backend_metadata(self) -> email.message.Message:
        """What the backend reports for HEAD, read from an export: a backend writes (egg-info) where it runs."""
        from relsafe.tools.backend_metadata import read_backend_metadata

        with tempfile.TemporaryDirectory(prefix="relsafe-project-") as folder:
            self.git.export("HEAD", Path(folder))
            return read_backend_metadata(Path(folder) / self.subdir, isolated=self.config.build_isolation, log=self.log)


@dataclass
class Outcome:
    release: Release
    log_path: Path | None
    notes: list[str] = field(default_factory=list)


def new_release(repo: Repository, project: Project, request: str) -> Release:
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
                error.hint = "fix the cause and run `relsafe resume` to go on from here, or `relsafe abort`"
        else:
            release.status = Status.REFUSED
            _close(repo, release)
        raise


def _run(repo: Repository, ctx: Context, observer: Observer) -> Outcome:
    release = ctx.release
    release.runs += 1
    release.status = Status.RUNNING
    repo.journal.save(release)
    with _recording(repo, release):
        Pipeline(ctx, repo.journal, observer).run()
    release.status = Status.DONE
    _close(repo, release)
    return Outcome(release, repo.log.path)


def _close(repo: Repository, release: Release) -> None:
    """Move the ended release to history and remove what its steps made, keeping its artifacts.

    A build checkout is a git worktree: it is removed through git, so that
    `git worktree list` keeps no entry of it.
    """
    repo.journal.finish(release)
    release_folder = repo.journal.folder(release.id)
    for folder in release_folder.scratch():
        if release_folder.is_checkout(folder):
            repo.git.remove_worktree(folder)
        elif folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
        else:
            folder.unlink(missing_ok=True)


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
        release = new_release(repo, project, request)
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
        if head != bump_commit:
            raise Refused(
                f"HEAD moved since the bump: it was {bump_commit[:12]}, it is {head[:12]}",
                hint=f"`git checkout {release.branch} && git reset --hard {bump_commit[:12]}` to go on, "
                "or `relsafe abort`",
            )


@dataclass
class Aborted:
    what: str  # "the release of 1.2.0", or the damaged journal set aside
    notes: list[str]


def abort(path: Path) -> Aborted:
    """End the release in progress, undoing only what is safely local.

    A damaged state.json is set aside instead, so that a journal is never stuck: without a record there
    is nothing relsafe may safely undo, and the notes say what to check by hand.
    """
    repo = Repository.open(path)
    with repo.journal.lock():
        try:
            release = repo.journal.current()
        except DamagedJournal:
            kept = repo.journal.set_aside()
            return Aborted(
                "the release in progress: its journal was damaged",
                [
                    f"moved {repo.journal.state_path.name} to {kept}",
                    "undid nothing: check `git status`, `git tag` and `git log` (and the staging index) for what "
                    "the release had done",
                ],
            )
        if release is None:
            raise UsageError("no release is in progress; nothing to abort")
        notes = [*repo.cleaned_up, *_undo_local(repo, release)]
        release.status = Status.ABORTED
        _close(repo, release)
        return Aborted(f"the release of {release.version}", notes)


def _undo_local(repo: Repository, release: Release) -> list[str]:
    git, notes = repo.git, []
    pushed = f"{release.tag} was already pushed: publishing has been triggered and cannot be undone here"
    if release.step("push").status == Status.DONE:
        return [pushed]
    refs = git.remote_refs(release.remote) if git.remote_url(release.remote) else {}
    tagged = git.local_tag(release.tag)
    # a crash right after the commit, or right after the push, leaves the journal behind the world
    bump_commit = release.bump_commit or found_bump_commit(git, release)
    if bump_commit and tagged_commit(refs, release.tag) == bump_commit:
        return [pushed]
    if tagged is not None and tagged_commit(refs, release.tag) is None and tagged == bump_commit:
        git.delete_tag(release.tag)
        notes.append(f"deleted the local tag {release.tag}")
    remote_head = refs.get(f"refs/heads/{release.branch}")
    if bump_commit and bump_commit != release.base_commit and git.resolve(bump_commit):
        if remote_head is not None and git.is_ancestor(bump_commit, remote_head):
            where = f"{release.remote}/{release.branch}"
            notes.append(f"kept the bump commit {bump_commit[:12]}: it is already on {where}")
        elif git.head() == bump_commit and not git.dirty_paths():
            git.reset_hard(release.base_commit)
            notes.append(f"removed the bump commit {bump_commit[:12]} (HEAD is back on {release.base_commit[:12]})")
        else:
            notes.append(
                f"kept the bump commit {bump_commit[:12]}: HEAD moved or the tree has changes; "
                f"remove it yourself with `git reset --hard {release.base_commit[:12]}` if you want"
            )
    elif git.head() == release.base_commit:
        leftovers = git.dirty_paths()
        purely_bumped = [p for p in leftovers if is_pure_bump(git, release, p)]
        if purely_bumped:
            git.restore(purely_bumped, release.base_commit)
            notes.append("restored the version files an interrupted bump had changed: " + ", ".join(purely_bumped))
    staged = release.staged_files
    if staged:
        notes.append(
            "cannot undo: " + ", ".join(staged) + " stay on the staging index; that version number is used up there"
        )
    return notes


def last_release(path: Path) -> Release | None:
    return Journal(open_git(path).common_dir, STEP_NAMES).last()


def initialise(path: Path, *, force: bool) -> tuple[InitWrite, PublisherSetup]:
    """`relsafe init`: write release.toml and the publish workflow for this repository's GitHub remote.

    The workflow goes where the project already publishes from, as PyPI's
    publisher may name that file, else to the default publish.yml; any other
    workflow that uploads is named, since each is a way around the checks.
    """
    from relsafe.model.publish_workflow import DEFAULT_WORKFLOW, index_site, plan_init, write_init
    from relsafe.security.workflow.audit import publishing_workflows

    repo = Repository.open(path, keep_log=False)
    config, git = repo.config, repo.git
    remote_url = git.remote_url(config.remote)
    if remote_url is None:
        raise UsageError(
            f"git remote {config.remote!r} does not exist; init needs the GitHub remote to name the publisher",
            hint="add it with `git remote add origin git@github.com:OWNER/REPO.git`",
        )
    project = repo.project()
    settings: dict[str, dict[str, object]] = {}
    branch = git.branch()
    if branch is not None and branch != config.branch:
        settings["release"] = {"branch": branch}
    if not (repo.project_root / "tests").is_dir():
        found = [name for name in ("test", "testing") if (repo.project_root / name).is_dir()]
        if found:
            settings["test"] = {"paths": found}
    publishing = publishing_workflows(git.root)
    workflow = config.publish_workflow or (publishing[0] if len(publishing) == 1 else DEFAULT_WORKFLOW)
    plan = plan_init(
        project=project.name,
        remote_url=remote_url,
        tag_format=project.tag_format,
        environment=config.publish_environment,
        workflow=workflow,
        settings=settings,
        project_dir=repo.subdir,
        index_site=index_site(config.production_index_url),
        known=_known_on_production(config.production_index_url, project.name),
        other_publishers=[found for found in publishing if found != workflow],
        with_config=config.source != "pyproject.toml",
        staging_index_url=config.staging_index_url if "stage" in config.steps else None,
    )
    return write_init(git.root, plan, overwrite=force), plan.setup


def _known_on_production(index_url: str, project: str) -> bool | None:
    """Whether the production index has files of the project (its publisher is then added in its
    own settings, not as a pending one); None when the index cannot say."""
    from relsafe.tools.index import released_versions

    try:
        return bool(released_versions(index_url, project))
    except RelsafeError:
        return None


def audit_paths(path: Path, paths: list[Path]) -> AuditReport:
    """`relsafe audit`: the repository's configured environment and tag format when run inside one."""
    from relsafe.core.errors import UsageError as NotARepository
    from relsafe.security.workflow.audit import audit_workflows

    try:
        repo = Repository.open(path, keep_log=False)
    except NotARepository:
        config, root = Config(), path
    else:
        config, root = repo.config, repo.git.root
    targets = paths or [root / ".github" / "workflows"]
    return audit_workflows(
        targets,
        environment=config.publish_environment,
        tag_format=config.tag_format or DEFAULT_FORMAT,
        log=RunLog(None),
    )
