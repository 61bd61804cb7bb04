"""bump: write the new version into every version file and commit it, once."""

from __future__ import annotations

from typing import Any

from relsafe.core import failpoint
from relsafe.core.errors import StepFailed
from relsafe.journal.records import Release
from relsafe.steps.context import Context
from relsafe.steps.contract import Check, Step
from relsafe.tools import versioning
from relsafe.tools.git import Git


def commit_message(ctx: Context) -> str:
    return release_commit_message(ctx.release)


def release_commit_message(release: Release) -> str:
    return f"Bump version: {release.from_version} → {release.version}"


def found_bump_commit(git: Git, release: Release) -> str | None:
    """HEAD, when it is this release's bump commit. Read from the world because a crash right after
    the commit leaves it unrecorded in the journal."""
    head = git.head()
    if git.parents(head) != [release.base_commit]:
        return None
    return head if git.commit_message(head) == release_commit_message(release) else None


def is_pure_bump(git: Git, release: Release, path: str) -> bool:
    """A file whose only change is old version → new version: a bump cut short by a crash."""
    before = git.file_at(release.base_commit, path)
    target = git.root / path
    if before is None or not target.is_file():
        return False
    after = target.read_text(encoding="utf-8", errors="replace")
    return after.replace(release.version, release.from_version) == before


class Bump(Step):
    name = "bump"
    title = "Bump the version"
    produces = True
    changes_world = True

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {"base_commit": ctx.release.base_commit, "version": ctx.release.version}

    def check(self, ctx: Context) -> Check:
        release, git = ctx.release, ctx.git
        if ctx.project.version_source == "scm":
            return Check.done(
                commit=release.base_commit,
                files=[],
                source="git tags",
                summary=f"version from the tag {release.tag}: no bump commit",
            )
        head = git.head()
        if head == release.base_commit:
            foreign = [path for path in git.dirty_paths() if not is_pure_bump(git, release, path)]
            if foreign:
                return Check.blocked(
                    "the working tree has changes other than the version bump: " + ", ".join(foreign[:5]),
                    "commit or stash them, or run `relsafe abort`",
                )
            return Check.ready()
        if git.parents(head) == [release.base_commit] and git.commit_message(head) == commit_message(ctx):
            return Check.done(commit=head, files=ctx.git.changed_files(release.base_commit, head))
        return Check.blocked(
            f"HEAD ({head[:12]}) is neither the release's starting commit ({release.base_commit[:12]}) "
            "nor its bump commit",
            f"check out {release.base_commit[:12]} again, or run `relsafe abort`",
        )

    def run(self, ctx: Context) -> dict[str, Any]:
        git, release = ctx.git, ctx.release
        leftovers = git.dirty_paths()
        if leftovers:
            git.restore(leftovers, release.base_commit)
        versioning.write_version(ctx.project, release.from_version, release.version, ctx.log)
        failpoint.hit("after-version-files")
        changed = git.dirty_paths()
        if not changed:
            raise StepFailed(f"the bump changed no file; nothing holds the version {release.from_version}")
        commit = git.commit(changed, commit_message(ctx))
        failpoint.hit("after-bump-commit")
        return {"commit": commit, "files": sorted(changed)}

    def verify(self, ctx: Context) -> None:
        commit = ctx.release.bump_commit
        if ctx.project.version_source == "scm":
            return
        if not commit or ctx.git.resolve(commit) is None:
            raise StepFailed("the bump commit is missing")
        if ctx.git.parents(commit) != [ctx.release.base_commit]:
            raise StepFailed(f"the bump commit {commit[:12]} is not a child of {ctx.release.base_commit[:12]}")
        for path in ctx.release.bump_files:
            text = ctx.git.file_at(commit, path) or ""
            if ctx.release.version not in text:
                raise StepFailed(f"{path} does not hold {ctx.release.version} in the bump commit")
