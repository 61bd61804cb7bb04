"""Building the sdist and the wheel with pypa/build, reproducibly, into a folder relsafe owns.

Every build runs `python -m build --no-isolation` in an environment relsafe
made and can name: relsafe's own (`[build] isolation = false`), or a fresh
venv holding the backend's requirements and build itself. The versions that
environment held are returned with the files: without staging, the release
tag pins them so the publish workflow's rebuild runs with the same ones, and
inspect's reproducibility rebuild installs exactly those pins, as the
workflow will.

Without staging the pins also carry the sha256 of each wheel (`hashes`), so
that the workflow can install them with `--require-hashes`. The honest source
of that hash is the installer, for the file it installed: the fresh venv is
then filled by pip, wheels only, and pip's installation report gives each
wheel's sha256 (an installed distribution's RECORD hashes its files, not the
wheel, and direct_url.json exists only for direct URL installs). A build in
relsafe's own environment (`[build] isolation = false`) ran with wheels relsafe
never installed: its pins get the hashes of the wheels pip installs for exactly
those pins into a fresh venv, which inspect's rebuild then installs
(`--require-hashes`) and proves to give the tested bytes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from relsafe.core.errors import RelsafeError, ToolFailed
from relsafe.journal.runlog import RunLog
from relsafe.model import build_requirements
from relsafe.model.version_location import TAG_OVERRIDES
from relsafe.tools import process
from relsafe.tools import venv as venvs

if TYPE_CHECKING:
    from build import ProjectBuilder

DistributionKind = Literal["sdist", "wheel"]
FROM_TREE = "building a wheel from the source tree"


@dataclass(frozen=True)
class Built:
    files: list[Path]
    """sdist first, then the wheel built from it (the wheel alone for a wheel from the tree)."""
    requirements: list[str]
    """`name==version` of build, the backend and their dependencies, as the build ran with them; with `hashes`,
    each followed by ` --hash=sha256:…` of its wheel."""
    tree_wheel: Path | None = None
    """The wheel built straight from a second copy of the tree, when asked for."""


@dataclass(frozen=True)
class BuildEnvironment:
    python: str
    env: dict[str, str]
    """What the hooks and build run with: the build's variables, and a fresh venv's PATH (no PYTHONPATH)."""
    requirements: list[str]
    resolved: bool
    """relsafe installed what the hooks asked for itself, so build need not ask them again."""


def build_environment(source_date_epoch: int, pretend_version: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["SOURCE_DATE_EPOCH"] = str(source_date_epoch)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if pretend_version is not None:
        # each tag-versioning tool's own variable: the build gets the release
        # version before the tag that would normally give it exists.
        env.update(dict.fromkeys(TAG_OVERRIDES, pretend_version))
    return env


def hook_runner(log: RunLog, base: Mapping[str, str]) -> Callable[..., None]:
    """build's subprocess runner for backend hooks, in the build's environment `base`: logged, ended with
    relsafe, raising as build expects."""

    def run(cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None) -> None:
        env = {**base, **(extra_environ or {})}
        done = process.run(cmd, log=log, cwd=Path(cwd) if cwd else None, env=env, check=False, what="build backend")
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, list(cmd), output=done.output)

    return run


def backend_failure(source: Path, doing: str, error: Exception, log: RunLog) -> ToolFailed:
    """A failed backend hook as one error, the hook's telling output lines as its details."""
    import build

    cause = error.exception if isinstance(error, build.BuildBackendException) else error
    tail = getattr(cause, "output", None) or ""
    return ToolFailed(
        f"{source.name}: the build backend could not {doing}: {error}",
        details=[log.redact(line) for line in str(tail).splitlines()[-process.TAIL_LINES :]],
    )


@dataclass(frozen=True)
class PreparedEnvironment:
    """A fresh venv being filled in the background with a project's `[build-system] requires` and build,
    so that the build step finds its backend installed; used only for a source that requires the same."""

    requires: tuple[str, ...]
    venv: Future[venvs.Venv]
    folder: Path
    wheels: dict[str, str] | None = None
    """`name==version` → sha256 of each wheel pip installed, filled with the venv, when the hashes were asked."""


def prepare_environment(source: Path, log: RunLog, *, hashes: bool = False) -> PreparedEnvironment | None:
    """Start filling a build environment for `source`'s static requirements; None when they cannot be read
    (the build reports why). The folder is in the run's temp folder, removed with it if the build never
    comes. `hashes`: filled by pip, recording each wheel's sha256."""
    import build

    try:
        requires = tuple(sorted(build.ProjectBuilder(source).build_system_requires))
    except build.BuildException:
        return None
    folder = Path(tempfile.mkdtemp(prefix="relsafe-build-env-"))
    wheels: dict[str, str] | None = {} if hashes else None
    filling = partial(_fresh_environment, folder, requires, source.name, log, wheels)
    return PreparedEnvironment(requires, process.in_background(filling, "build-env"), folder, wheels)


def _fresh_environment(
    folder: Path, requires: Sequence[str], project: str, log: RunLog, wheels: dict[str, str] | None = None
) -> venvs.Venv:
    """A venv with the requirements and build; `wheels` given: pip installs wheels only and each one's sha256, as
    its report gives it, is added to `wheels`."""
    what = f"installing the build backend of {project}"
    wanted = [*requires, build_requirements.frontend()]
    if wheels is None:
        env = venvs.create(folder / "env", sys.executable, log)
        venvs.install(env, wanted, log, what=what)
        return env
    env = venvs.create(folder / "env", sys.executable, log, pip=True)
    wheels.update(venvs.install_reporting(env, wanted, log, what=what))
    return env


def _prepared_venv(
    prepared: PreparedEnvironment | None, requires: Sequence[str], hashes: bool
) -> tuple[venvs.Venv, Path, dict[str, str] | None] | None:
    """The prepared venv, its folder and its wheels' hashes when it was made for these requirements (and
    hashes) and made without error; otherwise its folder goes once it is done."""
    if prepared is None:
        return None
    if prepared.requires == tuple(sorted(requires)) and (prepared.wheels is not None) == hashes:
        try:
            return prepared.venv.result(), prepared.folder, prepared.wheels
        except RelsafeError:  # made again by the caller, which reports the failure itself
            pass
    prepared.venv.add_done_callback(lambda _: shutil.rmtree(prepared.folder, ignore_errors=True))
    return None


@contextmanager
def backend_environment(
    source: Path,
    kinds: Sequence[DistributionKind],
    *,
    isolated: bool,
    pinned: Sequence[str] | None,
    log: RunLog,
    base: Mapping[str, str] | None = None,
    prepared: PreparedEnvironment | None = None,
    hashes: bool = False,
) -> Iterator[BuildEnvironment]:
    """Where the backend's hooks run: relsafe's own environment, or a fresh venv removed afterwards.

    The fresh venv gets exactly `pinned` when given (no resolution, no
    dependencies added), else what the project's `[build-system]` and the
    backend's get_requires hooks ask for, plus the build relsafe itself uses
    (taking over `prepared` when it holds the same `[build-system]`). It is
    made and filled through tools.process, not by build's own isolation, which
    would run pip and uv where Ctrl-C, SIGTERM and the next run could not end
    them. `base`: the build's variables (SOURCE_DATE_EPOCH…), which the hooks
    see too. `hashes`: each pin carries its wheel's sha256 (see the module's
    notes); `pinned` lines that carry theirs are installed with
    `--require-hashes`.
    """
    import build

    base = dict(os.environ if base is None else base)
    try:
        own = build.ProjectBuilder(source, runner=hook_runner(log, base))  # hooks in relsafe's own environment
    except build.BuildException as error:
        raise backend_failure(source, "read its build requirements", error, log) from None
    static = sorted(own.build_system_requires)
    if not isolated:
        dynamic = _dynamic_requirements(own, kinds, log)
        pins = build_requirements.closure([*static, *sorted(dynamic), build_requirements.FRONTEND])
        yield BuildEnvironment(sys.executable, base, _wheel_hashes(pins, log) if hashes else pins, resolved=False)
        return
    taken = _prepared_venv(prepared, static, hashes) if pinned is None else None
    folder = taken[1] if taken else Path(tempfile.mkdtemp(prefix="relsafe-build-env-"))
    try:
        what = f"installing the build backend of {source.name}"
        wheels: dict[str, str] | None = None
        if taken:
            venv, wheels = taken[0], taken[2]
        elif pinned is not None and build_requirements.hashed(pinned):  # as the workflow's rebuild: pip, hashes
            venv = venvs.create(folder / "env", sys.executable, log, pip=True)
            venvs.install_hashed(venv, build_requirements.checked(pinned), log, what=what)
            wheels = dict(line.split(build_requirements.HASH_OPTION, 1) for line in pinned)
        elif pinned is not None:
            venv = venvs.create(folder / "env", sys.executable, log)
            venvs.install(venv, build_requirements.checked(pinned), log, what=what, dependencies=False)
        else:
            wheels = {} if hashes else None
            venv = _fresh_environment(folder, static, source.name, log, wheels)
        env = venv.environment(base)
        if pinned is None:
            project = build.ProjectBuilder(source, python_executable=str(venv.python), runner=hook_runner(log, env))
            asked = sorted(_dynamic_requirements(project, kinds, log))
            if wheels is not None:
                wheels.update(venvs.install_reporting(venv, asked, log, what=what))
            else:
                venvs.install(venv, asked, log, what=what)
        pins = build_requirements.installed(venvs.site_packages(venv, log))
        if wheels is not None:
            pins = _hashed(pins, wheels, f"the build environment of {source.name}")
        yield BuildEnvironment(str(venv.python), env, pins, resolved=pinned is None)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _hashed(pins: list[str], wheels: Mapping[str, str], where: str) -> list[str]:
    try:
        return build_requirements.with_hashes(pins, wheels)
    except ValueError as error:
        raise ToolFailed(f"{where}: {error}") from None


def _wheel_hashes(pins: list[str], log: RunLog) -> list[str]:
    """The pins of a build in relsafe's own environment, with the sha256 of the wheels pip installs for exactly
    them into a fresh venv: relsafe did not install its own environment, so that is the file the workflow's
    rebuild will get; inspect's rebuild installs the same ones and proves they give the tested bytes."""
    folder = Path(tempfile.mkdtemp(prefix="relsafe-build-env-"))
    try:
        venv = venvs.create(folder / "env", sys.executable, log, pip=True)
        what = "installing the build requirements' wheels to record their sha256"
        wheels = venvs.install_reporting(venv, pins, log, what=what, dependencies=False)
        return _hashed(pins, wheels, "relsafe's own build environment")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _dynamic_requirements(project: ProjectBuilder, kinds: Sequence[DistributionKind], log: RunLog) -> set[str]:
    """What the backend's get_requires hooks add, one kind after the other: setuptools' hooks write egg-info
    into the source, where two at once could collide."""
    import build

    try:
        return set().union(*(project.get_requires_for_build(kind) for kind in kinds))
    except (build.BuildException, build.BuildBackendException, subprocess.CalledProcessError) as error:
        raise backend_failure(Path(project.source_dir), "report its build requirements", error, log) from None


def _run_build(args: list[str], target: Path, used: BuildEnvironment, *, log: RunLog, what: str) -> None:
    checked = ["--skip-dependency-check"] if used.resolved else []  # pins are checked, as the workflow will
    command = [used.python, "-m", "build", "--no-isolation", *checked, *args, str(target)]
    process.run(command, log=log, cwd=target, env=used.env, what=what)


def build_distributions(
    source: Path,
    outdir: Path,
    *,
    source_date_epoch: int,
    pretend_version: str | None,
    isolated: bool = True,
    pinned: Sequence[str] | None = None,
    wheel_only: bool = False,
    prepared: PreparedEnvironment | None = None,
    tree_wheel: tuple[Path, Path] | None = None,
    hashes: bool = False,
    log: RunLog,
) -> Built:
    """sdist, then the wheel built from that sdist (build's default), into outdir.

    Building the wheel from the sdist is what catches files missing from the
    sdist. `pinned`: build in a fresh venv with exactly these requirements
    (isolated only). `wheel_only`: a wheel straight from the tree, what the
    sdist-built one is compared with. `tree_wheel` (a second copy of the
    source, a folder): that wheel too, side by side in the same environment.
    `hashes`: the requirements carry each wheel's sha256 (see the module's notes).
    """
    outdir.mkdir(parents=True, exist_ok=True)
    base = build_environment(source_date_epoch, pretend_version)
    kinds: list[DistributionKind] = ["wheel"] if wheel_only else ["sdist", "wheel"]
    what = FROM_TREE if wheel_only else "python -m build"
    with backend_environment(
        source, kinds, isolated=isolated, pinned=pinned, log=log, base=base, prepared=prepared, hashes=hashes
    ) as used:
        args = ["--wheel", "--outdir", str(outdir)] if wheel_only else ["--outdir", str(outdir)]
        builds = [partial(_run_build, args, source, used, log=log, what=what)]
        if tree_wheel is not None:
            tree_args = ["--wheel", "--outdir", str(tree_wheel[1])]
            builds.append(partial(_run_build, tree_args, tree_wheel[0], used, log=log, what=FROM_TREE))
        process.side_by_side(*builds)
    built = sorted(outdir.iterdir(), key=lambda p: (not p.name.endswith(".tar.gz"), p.name))
    files = [path for path in built if path.name.endswith((".whl", ".tar.gz"))]
    if not files:  # build exited 0 yet wrote nothing: say so here, not as a missing file later
        raise ToolFailed(f"{what} wrote no file into {outdir}")
    from_tree = sorted(tree_wheel[1].glob("*.whl")) if tree_wheel is not None else []
    if tree_wheel is not None and not from_tree:
        raise ToolFailed(f"building a wheel from the source tree wrote no wheel into {tree_wheel[1]}")
    return Built(files, used.requirements, from_tree[0] if from_tree else None)
