"""tag: an annotated (or signed) tag on the bump commit."""

from __future__ import annotations

from typing import Any

from relsafe import failpoint
from relsafe.context import Context
from relsafe.errors import StepFailed
from relsafe.steps.base import Check, Step


class Tag(Step):
    name = "tag"
    title = "Tag the release commit"
    changes_world = True

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {"commit": ctx.bump_commit, "tag": ctx.release.tag}

    def check(self, ctx: Context) -> Check:
        tagged = ctx.git.local_tag(ctx.release.tag)
        if tagged is None:
            return Check.ready()
        if tagged == ctx.bump_commit:
            return Check.done(tag=ctx.release.tag, commit=tagged)
        return Check.blocked(
            f"the tag {ctx.release.tag} exists on {tagged[:12]}, not on the release commit {ctx.bump_commit[:12]}"
        )

    def run(self, ctx: Context) -> dict[str, Any]:
        message = f"Release {ctx.release.version}"
        ctx.git.create_tag(ctx.release.tag, ctx.bump_commit, message, sign=ctx.config.sign_tags)
        failpoint.hit("after-tag")
        return {"tag": ctx.release.tag, "commit": ctx.bump_commit, "signed": ctx.config.sign_tags}

    def verify(self, ctx: Context) -> None:
        if ctx.git.local_tag(ctx.release.tag) != ctx.bump_commit:
            raise StepFailed(f"the tag {ctx.release.tag} is not on the release commit {ctx.bump_commit[:12]}")
        if not ctx.git.tag_is_annotated(ctx.release.tag):
            raise StepFailed(f"the tag {ctx.release.tag} is not an annotated tag")
