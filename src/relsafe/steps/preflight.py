"""preflight: every reason a release would go wrong, found before anything changes."""

from __future__ import annotations

from typing import Any

from relsafe.context import Context
from relsafe.steps.base import Check, Step

MAX_LISTED_PATHS = 5


class Preflight(Step):
    name = "preflight"
    title = "Preflight checks"

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {"base_commit": ctx.release.base_commit, "version": ctx.release.version}

    def check(self, ctx: Context) -> Check:
        reasons: list[str] = []
        git, config, release = ctx.git, ctx.config, ctx.release
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
        reasons += self._remote_reasons(ctx)
        reasons += self._index_reasons(ctx)
        if git.local_tag(release.tag) is not None:
            reasons.append(f"the tag {release.tag} already exists locally")
        return Check.blocked(*reasons) if reasons else Check.ready()

    def _index_reasons(self, ctx: Context) -> list[str]:
        """The version must be new on production, and unused on staging when the release stages."""
        from relsafe.tools import index

        release, reasons = ctx.release, []
        name = ctx.project.name
        if index.files_for(ctx.production_index_url, name, release.version):
            reasons.append(f"{name} {release.version} is already on the production index {ctx.production_index_url}")
        if "stage" in release.order:
            staged = index.files_for(ctx.staging.index_url, name, release.version)
            if staged:
                reasons.append(
                    f"the staging index {ctx.staging.index_url} already has files of {name} {release.version} "
                    f"({', '.join(sorted(staged))}); an index never accepts a file name twice, so ask for a new version"
                )
        return reasons

    def _remote_reasons(self, ctx: Context) -> list[str]:
        git, config, release = ctx.git, ctx.config, ctx.release
        if git.remote_url(ctx.remote) is None and "/" not in ctx.remote:
            return [f"the git remote {ctx.remote!r} does not exist ([release] remote)"]
        reasons = []
        git.fetch(ctx.remote)
        behind = git.behind(ctx.remote, config.branch)
        if behind:
            reasons.append(
                f"{config.branch} is {behind} commit(s) behind {ctx.remote}/{config.branch}; pull and try again"
            )
        if f"refs/tags/{release.tag}" in git.remote_refs(ctx.remote):
            reasons.append(f"the tag {release.tag} already exists on {ctx.remote}")
        return reasons
