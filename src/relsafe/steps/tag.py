"""tag: an annotated (or signed) tag on the bump commit, its message ending with the manifest.

The manifest (relsafe.manifest) is the sha256 of every tested file: the publish
workflow promotes exactly those bytes and refuses anything else.
"""

from __future__ import annotations

from typing import Any

from relsafe import failpoint, manifest
from relsafe.context import Context
from relsafe.errors import StepFailed
from relsafe.steps.base import Check, Step
from relsafe.steps.build import recorded_artifacts


def release_manifest(ctx: Context) -> manifest.Manifest:
    """The tested files, and the index they were verified on when the release stages them."""
    staged = "stage" in ctx.release.order
    return manifest.of_artifacts(recorded_artifacts(ctx), ctx.staging.index_url if staged else None)


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
        if tagged == ctx.bump_commit and self._carried(ctx) == release_manifest(ctx):
            return Check.done(tag=ctx.release.tag, commit=tagged, manifest=release_manifest(ctx).lines())
        if tagged == ctx.bump_commit:
            return Check.blocked(
                f"the tag {ctx.release.tag} is on the release commit but does not carry this release's manifest;"
                f" if it was never pushed, delete it (`git tag -d {ctx.release.tag}`) and resume"
            )
        return Check.blocked(
            f"the tag {ctx.release.tag} exists on {tagged[:12]}, not on the release commit {ctx.bump_commit[:12]}"
        )

    def run(self, ctx: Context) -> dict[str, Any]:
        carried = release_manifest(ctx)
        message = carried.tag_message(ctx.release.version)
        ctx.git.create_tag(ctx.release.tag, ctx.bump_commit, message, sign=ctx.config.sign_tags)
        failpoint.hit("after-tag")
        return {
            "tag": ctx.release.tag,
            "commit": ctx.bump_commit,
            "signed": ctx.config.sign_tags,
            "manifest": carried.lines(),
        }

    def verify(self, ctx: Context) -> None:
        if ctx.git.local_tag(ctx.release.tag) != ctx.bump_commit:
            raise StepFailed(f"the tag {ctx.release.tag} is not on the release commit {ctx.bump_commit[:12]}")
        if not ctx.git.tag_is_annotated(ctx.release.tag):
            raise StepFailed(f"the tag {ctx.release.tag} is not an annotated tag")
        if self._carried(ctx) != release_manifest(ctx):
            raise StepFailed(f"the tag {ctx.release.tag} does not carry the manifest of the tested files")

    @staticmethod
    def _carried(ctx: Context) -> manifest.Manifest | None:
        if not ctx.git.tag_is_annotated(ctx.release.tag):
            return None
        try:
            return manifest.parse(ctx.git.tag_message(ctx.release.tag))
        except ValueError:
            return None
