"""build: sdist and wheel into the release's own folder, reproducibly."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from packaging.version import Version

from relsafe.artifacts.distribution import Distribution, sha256_file
from relsafe.core.errors import StepFailed
from relsafe.journal.records import Artifact, TreeWheel, checked_build_requirements
from relsafe.model.version_location import TAKES_OVERRIDE
from relsafe.steps.context import Context
from relsafe.steps.contract import Check, Step
from relsafe.tools import builder


def records_hashes(ctx: Context) -> bool:
    """Without staging the publish workflow rebuilds, installing the build's pins with `--require-hashes`: the
    build records each wheel's sha256 beside its version (relsafe.tools.builder says how)."""
    return "stage" not in ctx.release.order


def remove_stale_checkouts(ctx: Context) -> None:
    """A killed run's build checkouts; called once before a step makes its own, never while a checkout of
    this run may exist (inspect makes two side by side)."""
    for leftover in ctx.folder.checkouts():
        shutil.rmtree(leftover, ignore_errors=True)
    if ctx.folder.path.is_dir():
        ctx.git.prune_worktrees()


@contextmanager
def release_checkout(ctx: Context) -> Iterator[Path]:
    """A detached worktree of the bump commit under the release folder, removed afterwards.

    Building there rather than in the user's tree makes the files exactly the
    commit the tag will name (no ignored file slips into an sdist), and keeps
    the backends' byproducts (setuptools' *.egg-info, setuptools-scm's version
    file) out of the tree that resume and the next release's preflight need
    clean. A worktree, not an export, so SCM backends still see git (a
    private clone holding the release tag for a tool that reads the tag
    itself, see Git.tagged_clone). Its
    submodules, if the commit has any, are checked out at the commit's
    recorded revisions, so the sdist holds what the project ships.
    """
    source = ctx.folder.new_checkout()
    tagged = ctx.project.version_source == "scm" and ctx.project.version_tool not in TAKES_OVERRIDE
    if tagged:  # versioneer reads `git describe`, and no variable: the tag must be there, in a private clone
        ctx.git.tagged_clone(source, ctx.bump_commit, ctx.project.tag_for(ctx.release.version))
    else:
        ctx.git.add_worktree(source, ctx.bump_commit)
    try:
        if (source / ".gitmodules").is_file():  # vendored code the sdist must ship, at the recorded revisions
            ctx.git.init_submodules(source)
        yield source
    finally:
        if tagged:
            shutil.rmtree(source, ignore_errors=True)
        else:
            ctx.git.remove_worktree(source)


class Build(Step):
    name = "build"
    title = "Build sdist and wheel"
    produces = True
    prepares_with_preflight = True

    def __init__(self) -> None:
        self._prepared: builder.PreparedEnvironment | None = None

    def prepare(self, ctx: Context) -> None:
        """Install the backend into a fresh build environment (in the run's temp folder) while preflight and
        bump run (the bump leaves `[build-system]` alone; if it did not, the build makes its own)."""
        if ctx.config.build_isolation:
            self._prepared = builder.prepare_environment(ctx.project.root, ctx.log, hashes=records_hashes(ctx))

    def fingerprint(self, ctx: Context) -> dict[str, Any]:
        return {"commit": ctx.bump_commit, "version": ctx.release.version}

    def check(self, ctx: Context) -> Check:
        found = self._describe(ctx)
        if found is not None:
            recorded = ctx.folder.build_requirements_file
            requirements = checked_build_requirements(recorded.read_text(encoding="utf-8").splitlines(), str(recorded))
            return Check.done(artifacts=[artifact.as_dict() for artifact in found], build_requires=requirements)
        if ctx.git.head() != ctx.bump_commit:
            return Check.blocked(
                f"HEAD is not the bump commit {ctx.bump_commit[:12]}; the build must be of the release commit"
            )
        dirty = ctx.git.dirty_paths()
        if dirty:
            return Check.blocked("the working tree changed since the bump: " + ", ".join(dirty[:5]))
        return Check.ready()

    def _describe(self, ctx: Context) -> list[Artifact] | None:
        """The finished build in the release folder, if a previous run completed it."""
        folder = ctx.folder.dist
        if not folder.is_dir() or not ctx.folder.build_requirements_file.is_file():
            return None
        files = sorted(folder.iterdir())
        kinds = {Distribution.read(path).kind for path in files}
        if kinds != {"sdist", "wheel"}:
            return None
        return [self._entry(Distribution.read(path)) for path in files]

    @staticmethod
    def _entry(dist: Distribution) -> Artifact:
        return Artifact(name=dist.path.name, kind=dist.kind, size=dist.size, sha256=dist.sha256)

    def run(self, ctx: Context) -> dict[str, Any]:
        partial, dist = ctx.folder.dist_partial, ctx.folder.dist
        shutil.rmtree(partial, ignore_errors=True)
        epoch = ctx.git.commit_time(ctx.bump_commit)
        remove_stale_checkouts(ctx)
        from_tree = ctx.folder.tree_wheel_dir
        shutil.rmtree(from_tree, ignore_errors=True)
        try:
            with release_checkout(ctx) as checkout, release_checkout(ctx) as second:
                built = builder.build_distributions(
                    checkout / ctx.project.subdir,
                    partial,
                    source_date_epoch=epoch,
                    pretend_version=ctx.pretend_version,
                    isolated=ctx.config.build_isolation,
                    prepared=self._prepared,
                    tree_wheel=(second / ctx.project.subdir, from_tree),
                    hashes=records_hashes(ctx),
                    log=ctx.log,
                )
        except BaseException:  # failed or interrupted: half a build is nothing to keep
            shutil.rmtree(partial, ignore_errors=True)
            shutil.rmtree(from_tree, ignore_errors=True)
            raise
        ctx.folder.build_requirements_file.write_text(
            "".join(f"{pin}\n" for pin in built.requirements), encoding="utf-8"
        )
        shutil.rmtree(dist, ignore_errors=True)
        partial.rename(dist)
        artifacts = [self._entry(Distribution.read(dist / path.name)) for path in built.files]
        ctx.note(", ".join(f"{a.name} ({a.size / 1024:.0f} KiB)" for a in artifacts))
        outputs: dict[str, Any] = {
            "artifacts": [artifact.as_dict() for artifact in artifacts],
            "source_date_epoch": epoch,
            "build_requires": built.requirements,
        }
        if built.tree_wheel is not None:  # for inspect's sdist check, which builds it itself when it is gone
            outputs["tree_wheel"] = TreeWheel(built.tree_wheel.name, sha256_file(built.tree_wheel)).as_dict()
        return outputs

    def verify(self, ctx: Context) -> None:
        artifacts = ctx.release.artifacts()
        if {a.kind for a in artifacts} != {"sdist", "wheel"}:
            raise StepFailed("the build did not produce both an sdist and a wheel")
        for artifact in artifacts:
            path = ctx.folder.dist / artifact.name
            if not path.is_file():
                raise StepFailed(f"the built file {artifact.name} is missing from {ctx.folder.dist}")
            dist = Distribution.read(path)
            if dist.sha256 != artifact.sha256:
                raise StepFailed(
                    f"{artifact.name} changed since it was built (sha256 {artifact.sha256[:12]}… → {dist.sha256[:12]}…)"
                )
            if Version(dist.version) != Version(ctx.release.version):  # 1.0.0-rc1 is 1.0.0rc1
                raise StepFailed(f"{artifact.name} is version {dist.version}, not {ctx.release.version}")
