"""build: sdist and wheel into the release's own folder, reproducibly."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from packaging.version import Version

from relsafe.artifacts.distribution import Distribution, sha256_file
from relsafe.core.errors import StepFailed
from relsafe.model import build_requirements
from relsafe.steps.context import Context
from relsafe.steps.contract import Check, Step
from relsafe.tools import builder

BUILD_CHECKOUT_PREFIX = "source-"  # the build's worktree under the release folder


def tree_wheel_folder(ctx: Context) -> Path:
    """Where the build puts the wheel it makes straight from the tree, beside the release's own build: what
    inspect compares the sdist-built wheel with."""
    return ctx.work_dir / "tree-wheel"


def _requirements_file(ctx: Context) -> Path:
    """The build's pins, written before its files move into place, so a build found finished has them too."""
    return ctx.artifacts_dir.with_name("build-requirements.txt")


def records_hashes(ctx: Context) -> bool:
    """Without staging the publish workflow rebuilds, installing the build's pins with `--require-hashes`: the
    build records each wheel's sha256 beside its version (relsafe.tools.builder says how)."""
    return "stage" not in ctx.release.order


def recorded_requirements(ctx: Context) -> list[str]:
    """The `name==version` pins the build ran with, each with ` --hash=sha256:…` of its wheel when the release
    has no staging (see relsafe.model.build_requirements)."""
    return _valid_pins([str(pin) for pin in ctx.release.output("build", "build_requires") or []], "the journal")


def _valid_pins(pins: list[str], where: str) -> list[str]:
    try:
        return build_requirements.checked(pins)
    except ValueError as error:
        raise StepFailed(
            f"the build's requirements recorded in {where} are damaged: {error}",
            hint="run `relsafe abort` and release again",
        ) from None


def recorded_artifacts(ctx: Context) -> list[dict[str, Any]]:
    artifacts = ctx.release.output("build", "artifacts")
    return list(artifacts) if artifacts else []


def remove_stale_checkouts(ctx: Context) -> None:
    """A killed run's build checkouts; called once before a step makes its own, never while a checkout of
    this run may exist (inspect makes two side by side)."""
    for leftover in ctx.work_dir.glob(f"{BUILD_CHECKOUT_PREFIX}*"):
        shutil.rmtree(leftover, ignore_errors=True)
    if ctx.work_dir.is_dir():
        ctx.git.prune_worktrees()


@contextmanager
def release_checkout(ctx: Context) -> Iterator[Path]:
    """A detached worktree of the bump commit under the release folder, removed afterwards.

    Building there rather than in the user's tree makes the files exactly the
    commit the tag will name (no ignored file slips into an sdist), and keeps
    the backends' byproducts (setuptools' *.egg-info, setuptools-scm's version
    file) out of the tree that resume and the next release's preflight need
    clean. A worktree, not an export, so SCM backends still see git. Its
    submodules, if the commit has any, are checked out at the commit's
    recorded revisions, so the sdist holds what the project ships.
    """
    ctx.work_dir.mkdir(parents=True, exist_ok=True)
    source = Path(tempfile.mkdtemp(prefix=BUILD_CHECKOUT_PREFIX, dir=ctx.work_dir))
    ctx.git.add_worktree(source, ctx.bump_commit)
    try:
        if (source / ".gitmodules").is_file():  # vendored code the sdist must ship, at the recorded revisions
            ctx.git.init_submodules(source)
        yield source
    finally:
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
            recorded = _requirements_file(ctx)
            requirements = _valid_pins(recorded.read_text(encoding="utf-8").splitlines(), str(recorded))
            return Check.done(artifacts=found, build_requires=requirements)
        if ctx.git.head() != ctx.bump_commit:
            return Check.blocked(
                f"HEAD is not the bump commit {ctx.bump_commit[:12]}; the build must be of the release commit"
            )
        dirty = ctx.git.dirty_paths()
        if dirty:
            return Check.blocked("the working tree changed since the bump: " + ", ".join(dirty[:5]))
        return Check.ready()

    def _describe(self, ctx: Context) -> list[dict[str, Any]] | None:
        """The finished build in the release folder, if a previous run completed it."""
        folder = ctx.artifacts_dir
        if not folder.is_dir() or not _requirements_file(ctx).is_file():
            return None
        files = sorted(folder.iterdir())
        kinds = {Distribution.read(path).kind for path in files}
        if kinds != {"sdist", "wheel"}:
            return None
        return [self._entry(Distribution.read(path)) for path in files]

    @staticmethod
    def _entry(dist: Distribution) -> dict[str, Any]:
        return {"name": dist.path.name, "kind": dist.kind, "size": dist.size, "sha256": dist.sha256}

    def run(self, ctx: Context) -> dict[str, Any]:
        partial = ctx.artifacts_dir.with_name("dist.partial")
        shutil.rmtree(partial, ignore_errors=True)
        epoch = ctx.git.commit_time(ctx.bump_commit)
        remove_stale_checkouts(ctx)
        from_tree = tree_wheel_folder(ctx)
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
        _requirements_file(ctx).write_text("".join(f"{pin}\n" for pin in built.requirements), encoding="utf-8")
        shutil.rmtree(ctx.artifacts_dir, ignore_errors=True)
        partial.rename(ctx.artifacts_dir)
        artifacts = [self._entry(Distribution.read(ctx.artifacts_dir / path.name)) for path in built.files]
        ctx.note(", ".join(f"{a['name']} ({a['size'] / 1024:.0f} KiB)" for a in artifacts))
        outputs: dict[str, Any] = {
            "artifacts": artifacts,
            "source_date_epoch": epoch,
            "build_requires": built.requirements,
        }
        if built.tree_wheel is not None:  # for inspect's sdist check, which builds it itself when it is gone
            outputs["tree_wheel"] = {"name": built.tree_wheel.name, "sha256": sha256_file(built.tree_wheel)}
        return outputs

    def verify(self, ctx: Context) -> None:
        artifacts = recorded_artifacts(ctx)
        if {a["kind"] for a in artifacts} != {"sdist", "wheel"}:
            raise StepFailed("the build did not produce both an sdist and a wheel")
        for artifact in artifacts:
            path = ctx.artifacts_dir / artifact["name"]
            if not path.is_file():
                raise StepFailed(f"the built file {artifact['name']} is missing from {ctx.artifacts_dir}")
            dist = Distribution.read(path)
            if dist.sha256 != artifact["sha256"]:
                raise StepFailed(
                    f"{artifact['name']} changed since it was built "
                    f"(sha256 {artifact['sha256'][:12]}… → {dist.sha256[:12]}…)"
                )
            if Version(dist.version) != Version(ctx.release.version):  # 1.0.0-rc1 is 1.0.0rc1
                raise StepFailed(f"{artifact['name']} is version {dist.version}, not {ctx.release.version}")
