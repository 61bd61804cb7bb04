"""preflight: every reason a release would go wrong, found before anything changes.

In a rehearsal the checks read the real repository, the real remote and the
real indexes (read-only: ls-remote, never fetch), and what cannot be reached
becomes a warning instead of a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from packaging.version import Version

from relsafe.context import Context
from relsafe.errors import Refused, StepFailed
from relsafe.steps.base import Step
from relsafe.tag_convention import DETECTED
from relsafe.tools.git import Git

MAX_LISTED_PATHS = 5


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
        warnings: list[str] = []
        unreachable: list[StepFailed] = []

        def reachable(what: str, probe: Callable[[], list[str]]) -> list[str]:
            """A rehearsal goes on without what it cannot reach; a real release says so with every other reason."""
            try:
                return probe()
            except StepFailed as error:
                if not ctx.rehearsal:
                    unreachable.append(error)
                    return []
                warnings.append(f"{what} not checked: {error.message}")
                ctx.note(warnings[-1])
                return []

        if ctx.project.tags.source == DETECTED or ctx.project.current_version is None:
            ctx.note(self._convention_note(ctx))
        probes = {"the remote": self._remote_reasons, "the production index": self._production_reasons}
        if "stage" in ctx.release.order:
            probes["the staging index"] = self._staging_reasons
        # the remote and the indexes answer over the network: ask them all at once, beside the local checks
        with ThreadPoolExecutor(max_workers=len(probes), thread_name_prefix="preflight") as pool:
            asked = [pool.submit(reachable, what, partial(probe, ctx)) for what, probe in probes.items()]
            reasons = self._tree_reasons(ctx) + self._workflow_reasons(ctx)
            reasons += [reason for future in asked for reason in future.result()]
        if reasons:
            # one reason is the message itself; listing it again below would only repeat it
            every = reasons + [f"{error.message} (not checked)" for error in unreachable]
            raise Refused(
                f"preflight: {reasons[0]}" + (f" (and {len(every) - 1} more)" if len(every) > 1 else ""),
                hint="fix it and release again; nothing was changed",
                details=every if len(every) > 1 else [],
            )
        if len(unreachable) == 1:
            raise unreachable[0]
        if unreachable:
            raise StepFailed(
                f"preflight: {unreachable[0].message} (and {len(unreachable) - 1} more)",
                hint=unreachable[0].hint,
                details=[error.message for error in unreachable],
            )
        return {"warnings": warnings, "summary": "; ".join(warnings) or "all clear"}

    @staticmethod
    def _convention_note(ctx: Context) -> str:
        first = " no release tag yet: the first release;" if ctx.project.current_version is None else ""
        return f"tag format{first} {ctx.project.tags.describe()}"

    @staticmethod
    def _git(ctx: Context) -> Git:
        """The repository whose state a real release would start from."""
        return ctx.real_git or ctx.git

    def _tree_reasons(self, ctx: Context) -> list[str]:
        reasons: list[str] = []
        git, config, release = self._git(ctx), ctx.config, ctx.release
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
        if git.local_tag(release.tag) is not None:
            reasons.append(f"the tag {release.tag} already exists locally")
        writes = {"bump", "tag"} & set(release.order)
        problems = [git.identity_problem() if writes else None]
        if config.sign_tags and "tag" in release.order:
            problems.append(git.signing_problem())
        return reasons + [problem for problem in problems if problem is not None]

    def _workflow_reasons(self, ctx: Context) -> list[str]:
        """Every workflow that can publish must pass the audit, and the one PyPI trusts must run for this release.

        The configured (or discovered) workflow is not the only way to publish:
        another one that uploads on a branch push would publish relsafe's own
        push of the release branch.
        """
        from relsafe.security.workflow_audit import (
            WORKFLOWS_DIR,
            audit_workflows,
            discover_publish_workflow,
            publishing_workflows,
        )

        root, configured = ctx.git.root, ctx.config.publish_workflow
        workflow = configured or discover_publish_workflow(root)
        if workflow is None:
            return [
                f"no publish workflow: none under {WORKFLOWS_DIR}/ uploads to an index "
                "([publish] workflow is not set); run `relsafe init`"
            ]
        if not (root / workflow).is_file():
            return [f"no publish workflow at {workflow} ([publish] workflow); run `relsafe init`"]
        audited = dict.fromkeys([workflow, *publishing_workflows(root)])
        report = audit_workflows(
            [root / path for path in audited],
            environment=ctx.config.publish_environment,
            tag_format=ctx.project.tag_format,
            log=ctx.log,
        )
        errors = [finding for finding in report.findings if finding.severity == "error"]
        reasons = [
            f"{_shown(f.path, root)}:{f.line}: {f.rule}: {f.message} (run `relsafe audit` for the fix)" for f in errors
        ]
        reported = {f.rule for f in errors if _shown(f.path, root) == workflow}
        return reasons + self._trigger_reasons(ctx, workflow, reported)

    @staticmethod
    def _trigger_reasons(ctx: Context, workflow: str, reported: set[str]) -> list[str]:
        """What ends the release must start the workflow: the pushed tag, or with [publish] trigger = "release"
        the GitHub Release a maintainer publishes. Otherwise the release publishes nothing, or publishes twice."""
        from relsafe.security.workflow_audit import RELEASE, TAG, starts
        from relsafe.trusted_publishing import tag_pattern

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

    def _remote_reasons(self, ctx: Context) -> list[str]:
        git, config, release = self._git(ctx), ctx.config, ctx.release
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
        if behind:
            reasons.append(f"{config.branch} is behind {config.remote}/{config.branch}; pull and try again")
        if f"refs/tags/{release.tag}" in refs:
            reasons.append(f"the tag {release.tag} already exists on {config.remote}")
        return reasons

    def _production_reasons(self, ctx: Context) -> list[str]:
        """The release must sort above everything already published (pre-releases included), as installers sort."""
        from relsafe.tools import index

        name, version, url = ctx.project.name, ctx.release.version, ctx.config.production_index_url
        published = index.released_versions(url, name)
        if Version(version) in published:
            return [f"{name} {version} is already on the production index {url}"]
        latest = max(published, default=None)
        if latest is not None and latest > Version(version):
            return [f"{name} {version} is not above the latest release {latest} on the production index {url}"]
        return []

    def _staging_reasons(self, ctx: Context) -> list[str]:
        """Files of this version already staged can never be replaced: ask for a new version now."""
        from relsafe.tools import index

        name, version, url = ctx.project.name, ctx.release.version, ctx.config.staging_index_url
        staged = index.files_for(url, name, version)
        if staged:
            return [
                f"the staging index {url} already has files of {name} {version} ({', '.join(sorted(staged))}); "
                "an index never accepts a file name twice, so ask for a new version"
            ]
        return []
