"""preflight: every reason a release would go wrong, found before anything changes.

In a rehearsal the checks read the real repository, the real remote and the
real indexes (read-only: ls-remote, never fetch), and what cannot be reached
becomes a warning instead of a failure.

The checks of the world outside the repository (the remote, the production
index) are asked again when a release resumes, before its first step that
changes the world: they may have moved while the release was stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from relsafe.core.errors import Refused, StepFailed
from relsafe.model.tag_convention import DETECTED
from relsafe.steps.context import Context
from relsafe.steps.contract import Step
from relsafe.tools import process, zizmor
from relsafe.tools.git import Git, tagged_commit
from relsafe.tools.index import simple_api

if TYPE_CHECKING:
    from relsafe.security.workflow.ownership import PublishPath

MAX_LISTED_PATHS = 5

_REACTIVATE = {
    "archived": "an owner must unarchive it on the index first",
    "quarantined": "only the index's administrators can lift a quarantine",
}


def _repository(ctx: Context) -> Git:
    """The repository whose state a real release would start from (not a rehearsal's sandbox)."""
    return ctx.real_git or ctx.git


def _shown(path: str, root: Path) -> str:
    """A workflow's path as the repository names it, also when a rehearsal audits its sandbox copy."""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return path


class Preflight(Step):
    name = "preflight"
    title = "Preflight checks"

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {"base_commit": ctx.release.base_commit, "version": ctx.release.version}

    def run(self, ctx: Context) -> dict[str, Any]:
        if ctx.project.tags.source == DETECTED or ctx.project.current_version is None:
            ctx.note(self._convention_note(ctx))
        probes: dict[str, Probe] = {"the remote": remote_reasons, "the production index": production_reasons}
        if "stage" in ctx.release.order:
            probes["the staging index"] = staging_reasons
        publishing = PublishingFound()
        ahead = self._zizmor_ahead(ctx)
        try:
            found = ask_world(
                ctx, probes, lambda: self._tree_reasons(ctx), lambda: self._workflow_reasons(ctx, publishing, ahead)
            )
        finally:
            if ahead is not None:
                ahead.settle()
        found.details += publishing.details
        for warning in publishing.warnings:
            ctx.note(warning)
        found.raise_any("preflight", hint="fix it and release again; nothing was changed")
        warnings = found.warnings + publishing.warnings
        return {"warnings": warnings, "summary": "; ".join(warnings) or "all clear", **publishing.outputs}

    @staticmethod
    def _convention_note(ctx: Context) -> str:
        first = " no release tag yet: the first release;" if ctx.project.current_version is None else ""
        return f"tag format{first} {ctx.project.tags.describe()}"

    def _tree_reasons(self, ctx: Context) -> list[str]:
        reasons: list[str] = []
        git, config, release = _repository(ctx), ctx.config, ctx.release
        branch = git.branch()
        if branch is None:
            reasons.append("HEAD is detached; check out the release branch " + repr(config.branch))
        elif branch != config.branch:
            reasons.append(f"on branch {branch!r}, not the release branch {config.branch!r} ([release] branch)")
        dirty = git.dirty_paths()
        if dirty:
            listed = ", ".join(dirty[:MAX_LISTED_PATHS]) + (" …" if len(dirty) > MAX_LISTED_PATHS else "")
            reasons.append(f"the working tree is not clean ({len(dirty)} changed or untracked: {listed})")
        if git.head() != release.base_commit:
            reasons.append(f"HEAD moved since the release started (expected {release.base_commit[:12]})")
        reasons += foreign_tag(release.tag, git.local_tag(release.tag), "locally", ours=None)
        writes = {"bump", "tag"} & set(release.order)
        problems = [git.identity_problem() if writes else None]
        if config.sign_tags and "tag" in release.order:
            problems.append(git.signing_problem())
        return reasons + [problem for problem in problems if problem is not None]

    @staticmethod
    def _zizmor_ahead(ctx: Context) -> zizmor.Ahead | None:
        """zizmor started at once on the trusted workflow, which is what the audit asks for unless another
        workflow publishes too or it uses local actions: its start-up then passes beside the other checks."""
        from relsafe.model.publish_workflow import DEFAULT_WORKFLOW

        named = ctx.config.publish_workflow
        if named is None and ctx.config.publish_workflow_check != "exact":
            return None  # audit-only without a name: the audit looks for the workflow that publishes
        trusted = ctx.git.root / (named or DEFAULT_WORKFLOW)
        return zizmor.Ahead([trusted], log=ctx.log) if trusted.is_file() else None

    def _workflow_reasons(self, ctx: Context, publishing: PublishingFound, ahead: zizmor.Ahead | None) -> list[str]:
        """The publish path: the workflow PyPI trusts, as committed, is relsafe's rendering for this
        configuration (or, audit-only, the project's own, said to be unproven); no other workflow can publish
        to PyPI; every workflow that can publish passes the audit; the trusted one runs for this release.

        The trusted workflow is not the only way to publish: another one that
        uploads on a branch push would publish relsafe's own push of the
        release branch.
        """
        from relsafe.security.workflow.audit import audit_workflows, publishing_workflows
        from relsafe.security.workflow.ownership import AUDIT_FIX, check_publish_path

        root, path = ctx.git.root, publish_path_of(ctx)
        committed = ctx.git.file_at(ctx.release.base_commit, path.workflow) if path.workflow else None
        checked = check_publish_path(
            root, path, committed, ctx.release.base_commit, configured=ctx.config.publish_workflow is not None
        )
        publishing.details, publishing.warnings = checked.details, checked.warnings
        publishing.outputs = {"publish_workflow": path.workflow, "workflow_check": path.check}
        workflow = path.workflow if path.workflow is not None and committed is not None else None
        audited = dict.fromkeys([*([workflow] if workflow else []), *publishing_workflows(root)])
        if not audited:
            return checked.reasons
        report = audit_workflows(
            [root / audited_path for audited_path in audited],
            environment=ctx.config.configured_environment,
            tag_format=ctx.project.tag_format,
            log=ctx.log,
            zizmor_ahead=ahead,
        )
        errors = [finding for finding in report.findings if finding.severity == "error"]
        reasons = checked.reasons + [f"{_shown(f.path, root)}:{f.line}: {f.rule}: {f.message}" for f in errors]
        if errors and AUDIT_FIX not in publishing.details:
            publishing.details.append(AUDIT_FIX)  # said once, after every finding
        if workflow is None:
            return reasons
        reported = {f.rule for f in errors if _shown(f.path, root) == workflow}
        return reasons + self._trigger_reasons(ctx, workflow, reported)

    @staticmethod
    def _trigger_reasons(ctx: Context, workflow: str, reported: set[str]) -> list[str]:
        """What ends the release must start the workflow: the pushed tag, or with [publish] trigger = "release"
        the GitHub Release a maintainer publishes. Otherwise the release publishes nothing, or publishes twice."""
        from relsafe.model.publish_workflow import tag_pattern
        from relsafe.security.workflow.audit import RELEASE, TAG, starts

        found, tag = starts(ctx.git.root / workflow, ctx.project.tag_format), ctx.release.tag
        on_tags = f"`on: push: tags: ['{tag_pattern(ctx.project.tag_format)}']`"
        if ctx.config.publish_trigger == RELEASE:
            if RELEASE not in found:
                return [
                    f'{workflow} is not started by publishing a GitHub Release, which [publish] trigger = "release" '
                    "waits for; add `on: release: types: [published]`"
                ]
            if TAG in found:
                return [
                    f"{workflow} also runs when {tag} is pushed, so it publishes before the GitHub Release that "
                    f'[publish] trigger = "release" waits for; drop its tag trigger, or the trigger key'
                ]
            return []
        if TAG in found or reported & {"tag-mismatch", "branch-push-publish"}:
            return []  # runs for the tag, or the audit already said why it does not
        if RELEASE in found:
            return [
                f"{workflow} publishes only when a GitHub Release is published (`on: release`): pushing {tag} "
                f'publishes nothing; trigger it with {on_tags}, or set [publish] trigger = "release" '
                "and publish the Release by hand"
            ]
        return [f"{workflow} is not started by pushing {tag}, so the release would publish nothing; add {on_tags}"]


Probe = Callable[[Context], list[str]]
"""One look at the world outside the repository: the reasons found there (an unreachable place raises StepFailed)."""


@dataclass
class PublishingFound:
    """What the publish path's check adds beside its reasons: the diff behind a drift, the warning of an
    audit-only workflow, and the outputs that record which workflow publishes and how it was checked."""

    details: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


def publish_path_of(ctx: Context) -> PublishPath:
    """The workflow PyPI trusts for this release and what relsafe requires of it."""
    from relsafe.security.workflow.ownership import publish_path

    return publish_path(ctx.git.root, ctx.config, ctx.project.name, ctx.project.tag_format)


@dataclass
class Findings:
    """What the checks found: reasons to refuse, places that could not be asked, a rehearsal's warnings, and
    the lines that show a reason (a diff)."""

    reasons: list[str] = field(default_factory=list)
    unreachable: list[StepFailed] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)

    def raise_any(self, what: str, hint: str) -> None:
        """Every reason at once: a refusal (exit 4) lists the unreachable places beside the reasons;
        unreachable places alone are the world failing (exit 1), which trying again may fix."""
        reasons, unreachable = self.reasons, self.unreachable
        if reasons:
            # one reason is the message itself; listing it again below would only repeat it
            every = reasons + [f"{error.message} (not checked)" for error in unreachable]
            raise Refused(
                f"{what}: {reasons[0]}" + (f" (and {len(every) - 1} more)" if len(every) > 1 else ""),
                hint=hint,
                details=(every if len(every) > 1 else []) + self.details,
            )
        if len(unreachable) == 1:
            raise unreachable[0]
        if unreachable:
            raise StepFailed(
                f"{what}: {unreachable[0].message} (and {len(unreachable) - 1} more)",
                hint=unreachable[0].hint,
                details=[error.message for error in unreachable],
            )


def ask_world(ctx: Context, probes: dict[str, Probe], *local: Callable[[], list[str]]) -> Findings:
    """Ask the remote and the indexes all at once, beside the local checks (the tree, the workflow audit),
    which run side by side too: the first answer over the network, the audit runs zizmor.

    A rehearsal goes on without what it cannot reach (a warning); a real
    release says so with every other reason.
    """
    found = Findings()

    def reachable(what: str, probe: Probe) -> list[str]:
        try:
            return probe(ctx)
        except StepFailed as error:
            if not ctx.rehearsal:
                found.unreachable.append(error)
                return []
            found.warnings.append(f"{what} not checked: {error.message}")
            ctx.note(found.warnings[-1])
            return []

    with ThreadPoolExecutor(max_workers=len(probes) + len(local), thread_name_prefix="preflight") as pool:
        checked = [pool.submit(check) for check in local]
        asked = [pool.submit(reachable, what, probe) for what, probe in probes.items()]
        try:
            wait([*checked, *asked])
        except KeyboardInterrupt:  # end their commands (zizmor, git) rather than wait for them
            process.stop_all()
            raise
        found.reasons = [reason for future in checked for reason in future.result()]
        found.reasons += [reason for future in asked for reason in future.result()]
    return found


def recheck_world(ctx: Context, before: str) -> None:
    """On resume, before `before` (the first step still to change the world): preflight's look at the
    remote and the production index again, and at a local tag made meanwhile.

    The release's own work is no reason: its tag on its bump commit, here or
    on the remote, is what tag and push made before the release stopped; its
    own built files on the production index are what was staged or published.
    """
    git, release = _repository(ctx), ctx.release
    ours = release.bump_commit
    probes: dict[str, Probe] = {
        "the remote": partial(remote_reasons, resuming=True),
        "the production index": partial(production_reasons, resuming=True),
    }
    drifted: list[str] = []
    found = ask_world(
        ctx,
        probes,
        lambda: foreign_tag(release.tag, git.local_tag(release.tag), "locally", ours),
        lambda: _publish_path_reasons(ctx, str(ours or release.base_commit), drifted),
    )
    found.details += drifted
    found.raise_any(
        f"{before} not started, the world changed since preflight",
        hint="nothing more was uploaded or pushed; fix it and run `relsafe resume`, or `relsafe abort`",
    )
    ctx.note(f"rechecked since preflight: {ctx.remote}, the production index and the publish workflow")


def _publish_path_reasons(ctx: Context, commit: str, details: list[str]) -> list[str]:
    """The trusted workflow at the release commit against what this relsafe renders for release.toml now: a
    relsafe upgraded since preflight may render another."""
    from relsafe.security.workflow.ownership import check_publish_path

    path = publish_path_of(ctx)
    committed = ctx.git.file_at(commit, path.workflow) if path.workflow else None
    checked = check_publish_path(
        ctx.git.root, path, committed, commit, configured=ctx.config.publish_workflow is not None, others=False
    )
    details.extend(checked.details)
    return checked.reasons


def foreign_tag(tag: str, found: str | None, where: str, ours: str | None) -> list[str]:
    """The release's tag where it must not be yet: anywhere before the bump, on another commit after it."""
    if found is None or found == ours:
        return []
    if ours is None:
        return [f"the tag {tag} already exists {where}"]
    return [f"the tag {tag} already exists {where} on {found[:12]}, not on the release commit {ours[:12]}"]


def remote_reasons(ctx: Context, *, resuming: bool = False) -> list[str]:
    """The release branch not behind the remote's, the tag not taken there.

    Resuming, the bump commit is HEAD: pulling would move it off the commit
    that was tested, so the way out is another one.
    """
    git, config, release = _repository(ctx), ctx.config, ctx.release
    if git.remote_url(config.remote) is None:
        return [f"the git remote {config.remote!r} does not exist ([release] remote)"]
    refs = git.remote_refs(config.remote)
    if ctx.rehearsal:
        remote_head = refs.get(f"refs/heads/{config.branch}")
        behind = remote_head is not None and not (
            git.resolve(remote_head) and git.is_ancestor(remote_head, release.base_commit)
        )
    else:
        git.fetch(config.remote)
        behind = git.behind(config.remote, config.branch) > 0
    reasons = []
    if behind and resuming:
        reasons.append(
            f"{config.remote}/{config.branch} has commits the release commit lacks; remove them from "
            f"{config.remote}, or `relsafe abort`, pull and release again"
        )
    elif behind:
        reasons.append(f"{config.branch} is behind {config.remote}/{config.branch}; pull and try again")
    ours = release.bump_commit if resuming else None
    return reasons + foreign_tag(release.tag, tagged_commit(refs, release.tag), f"on {config.remote}", ours)


def production_reasons(ctx: Context, *, resuming: bool = False) -> list[str]:
    """The project must take uploads (PEP 792: not archived or quarantined), and the release must sort above
    everything already published (pre-releases included), as installers sort. A deprecated project is a note.

    Resuming, files of this version that are all the release's own build are
    no reason: an index that serves as staging and production both, or a
    publish that ran before the release stopped.
    """
    name, version, url = ctx.project.name, ctx.release.version, ctx.config.production_index_url
    page = simple_api.project_page(url, name)
    status, said = page.status, f": {page.status.reason}" if page.status.reason else ""
    reasons = []
    if status.refuses_uploads:
        reasons.append(
            f"{name} is {status.status} on the production index {url}{said}; a project in that state "
            f"accepts no upload (PEP 792): {_REACTIVATE[status.status]}"
        )
    elif status.status == "deprecated":
        ctx.note(f"{name} is deprecated on the production index {url}{said} (uploads still work)")
    published = page.versions
    if Version(version) in published and not (resuming and _only_built_files(ctx, url)):
        return [*reasons, f"{name} {version} is already on the production index {url}"]
    latest = max(published, default=None)
    if latest is not None and latest > Version(version):
        reasons.append(f"{name} {version} is not above the latest release {latest} on the production index {url}")
    return reasons


def _only_built_files(ctx: Context, url: str) -> bool:
    built = ctx.release.artifact_hashes()
    found = simple_api.files_for(url, ctx.project.name, ctx.release.version)
    return bool(found) and all(built.get(name) == sha256 for name, sha256 in found.items())


def staging_reasons(ctx: Context) -> list[str]:
    """Files of this version already staged can never be replaced: ask for a new version now."""
    name, version, url = ctx.project.name, ctx.release.version, ctx.config.staging_index_url
    staged = simple_api.files_for(url, name, version)
    if staged:
        return [
            f"the staging index {url} already has files of {name} {version} ({', '.join(sorted(staged))}); "
            "an index never accepts a file name twice, so ask for a new version"
        ]
    return []
