"""tag: an annotated (or signed) tag on the bump commit, its message ending with the manifest.

The manifest (relsafe.model.manifest) is the sha256 of every tested file: the publish
workflow promotes exactly those bytes and refuses anything else. Before it, the message
carries the release diff's digest (relsafe.model.release_diff) when inspect made one.
"""

from __future__ import annotations

from typing import Any

from relsafe.core import failpoint
from relsafe.core.errors import StepFailed
from relsafe.model import build_requirements, manifest
from relsafe.steps.context import Context
from relsafe.steps.contract import Check, Step


def release_manifest(ctx: Context) -> manifest.Manifest | None:
    """The tested files, the commit they were built from (the bump commit), and the index they were verified
    on when the release stages them, else the build's pinned requirements the workflow's rebuild needs; None
    when the release builds nothing (its tag then names no files, and the publish workflow refuses it)."""
    files = ctx.release.artifact_hashes()
    if not files:
        return None
    lock, ignores = ctx.release.dependency_lock_sha256, ctx.release.audit_ignores  # audit-deps
    if "stage" in ctx.release.order:
        return manifest.of_artifacts(
            files, ctx.staging.index_url, commit=ctx.bump_commit, tested_lock=lock, audit_ignores=ignores
        )
    pins = ctx.release.build_requirements()
    if not build_requirements.hashed(pins):  # recorded by a relsafe that kept none, or no hashes: the rebuild
        raise StepFailed(  # installs them with --require-hashes and would refuse the tag
            "the build recorded no build requirements with their wheels' sha256, which the publish workflow's "
            "rebuild needs from the tag",
            hint="run `relsafe abort` and release again (or add stage to [release] steps)",
        )
    return manifest.of_artifacts(
        files, None, build_requires=pins, commit=ctx.bump_commit, tested_lock=lock, audit_ignores=ignores
    )


def unproven(ctx: Context) -> str | None:
    """With [publish] workflow-check = "audit-only": that relsafe cannot prove what the project's own workflow
    publishes, which the tag's message, the journal and the release's last line say. None otherwise."""
    if ctx.config.publish_workflow_check != "audit-only":
        return None
    from relsafe.security.workflow.ownership import UNPROVEN

    workflow = ctx.release.publish_workflow or ctx.config.publish_workflow
    return UNPROVEN.format(workflow=workflow or "the publish workflow")


def tag_message(ctx: Context, carried: manifest.Manifest | None) -> str:
    """`Release X`, then for an audit-only workflow the warning, then the manifest."""
    message = carried.tag_message(ctx.release.version) if carried else f"Release {ctx.release.version}\n"
    caveat = unproven(ctx)
    if caveat is None:
        return message
    title, _, rest = message.partition("\n")
    return f"{title}\n\n{caveat}.\n" + (f"\n{rest.lstrip()}" if rest.strip() else "")


def _with_diff(ctx: Context, message: str) -> str:
    """The message with the release diff's digest line after its title, when inspect recorded a diff."""
    diff = ctx.release.release_diff
    if diff is None:
        return message
    title, _, rest = message.partition("\n")
    return f"{title}\n\n{diff.tag_line()}\n{rest}"


def _lines(carried: manifest.Manifest | None) -> list[str]:
    return carried.lines() if carried else []


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
        expected = release_manifest(ctx)
        if tagged == ctx.bump_commit and self._carried(ctx) == expected:
            return Check.done(tag=ctx.release.tag, commit=tagged, manifest=_lines(expected))
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
        message = _with_diff(ctx, tag_message(ctx, carried))
        ctx.git.create_tag(ctx.release.tag, ctx.bump_commit, message, sign=ctx.config.sign_tags)
        failpoint.hit("after-tag")
        return {
            "tag": ctx.release.tag,
            "commit": ctx.bump_commit,
            "signed": ctx.config.sign_tags,
            "manifest": _lines(carried),
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
        """The manifest the tag's message ends with; None for none, or one that cannot be read whole."""
        if not ctx.git.tag_is_annotated(ctx.release.tag):
            return None
        try:
            return manifest.parse(ctx.git.tag_message(ctx.release.tag))
        except ValueError:
            return None
