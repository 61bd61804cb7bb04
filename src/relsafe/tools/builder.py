"""Building the sdist and the wheel with pypa/build, reproducibly, into a folder relsafe owns.

Every build runs `python -m build --no-isolation` in an environment relsafe
made and can name: relsafe's own (`[build] isolation = false`), or a fresh
venv holding the backend's requirements and build itself. The versions that
environment held are returned with the files: without staging, the release
tag pins them so the publish workflow's rebuild runs with the same ones, and
inspect's reproducibility rebuild installs exactly those pins, as the
workflow will.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from relsafe import build_requirements
from relsafe.errors import RelsafeError, ToolFailed
from relsafe.runlog import RunLog
from relsafe.tools import process
from relsafe.tools import venv as venvs

if TYPE_CHECKING:
    from build import ProjectBuilder

Distribution = Literal["sdist", "wheel"]


@dataclass(frozen=True)
class Built:
    files: list[Path]
    """sdist first, then the wheel built from it."""
    requirements: list[str]
    """`name==version` of build, the backend and their dependencies, as the build ran with them."""


@dataclass(frozen=True)
class BuildEnvironment:
    python: str
    path: str | None
    """PATH with the environment's scripts first; None for relsafe's own environment."""
    requirements: list[str]


def build_environment(source_date_epoch: int, pretend_version: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["SOURCE_DATE_EPOCH"] = str(source_date_epoch)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if pretend_version is not None:
        # setuptools-scm and hatch-vcs both honour this: the build gets the
        # release version before the tag that would normally give it exists.
        env["SETUPTOOLS_SCM_PRETEND_VERSION"] = pretend_version
    return env


def hook_runner(log: RunLog, path: str | None = None) -> Callable[..., None]:
    """build's subprocess runner for backend hooks: logged, ended with relsafe, raising as build expects."""

    def run(cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None) -> None:
        env = {**os.environ, **(extra_environ or {})} | ({"PATH": path} if path else {})
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


def prepare_environment(source: Path, log: RunLog) -> PreparedEnvironment | None:
    """Start filling a build environment for `source`'s static requirements; None when they cannot be read
    (the build reports why). The folder is in the run's temp folder, removed with it if the build never
    comes."""
    import build

    try:
        requires = tuple(sorted(build.ProjectBuilder(source).build_system_requires))
    except build.BuildException:
        return None
    folder = Path(tempfile.mkdtemp(prefix="relsafe-build-env-"))
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="build-env")
    venv = executor.submit(_fresh_environment, folder, requires, source.name, log)
    executor.shutdown(wait=False)
    return PreparedEnvironment(requires, venv, folder)


def _fresh_environment(folder: Path, requires: Sequence[str], project: str, log: RunLog) -> venvs.Venv:
    env = venvs.create(folder / "env", sys.executable, log)
    what = f"installing the build backend of {project}"
    venvs.install(env, [*requires, build_requirements.frontend()], log, what=what)
    return env


def _prepared_venv(prepared: PreparedEnvironment | None, requires: Sequence[str]) -> tuple[venvs.Venv, Path] | None:
    """The prepared venv and its folder when it was made for these requirements and made without error;
    otherwise its folder goes once it is done."""
    if prepared is None:
        return None
    if prepared.requires == tuple(sorted(requires)):
        try:
            return prepared.venv.result(), prepared.folder
        except RelsafeError:  # made again by the caller, which reports the failure itself
            pass
    prepared.venv.add_done_callback(lambda _: shutil.rmtree(prepared.folder, ignore_errors=True))
    return None


@contextmanager
def backend_environment(
    source: Path,
    distributions: Sequence[Distribution],
    *,
    isolated: bool,
    pinned: Sequence[str] | None,
    log: RunLog,
    prepared: PreparedEnvironment | None = None,
) -> Iterator[BuildEnvironment]:
    """Where the backend's hooks run: relsafe's own environment, or a fresh venv removed afterwards.

    The fresh venv gets exactly `pinned` when given (no resolution, no
    dependencies added), else what the project's `[build-system]` and the
    backend's get_requires hooks ask for, plus the build relsafe itself uses
    (taking over `prepared` when it holds the same `[build-system]`). It is
    made and filled through tools.process, not by build's own isolation, which
    would run pip and uv where Ctrl-C, SIGTERM and the next run could not end
    them.
    """
    import build

    try:
        static = sorted(build.ProjectBuilder(source, runner=hook_runner(log)).build_system_requires)
    except build.BuildException as error:
        raise backend_failure(source, "read its build requirements", error, log) from None
    if not isolated:
        yield BuildEnvironment(sys.executable, None, build_requirements.closure([*static, build_requirements.FRONTEND]))
        return
    taken = _prepared_venv(prepared, static) if pinned is None else None
    folder = taken[1] if taken else Path(tempfile.mkdtemp(prefix="relsafe-build-env-"))
    try:
        what = f"installing the build backend of {source.name}"
        if taken:
            env = taken[0]
        else:
            env = venvs.create(folder / "env", sys.executable, log)
            requirements = build_requirements.checked(pinned) if pinned is not None else [*static]
            if pinned is None:
                requirements.append(build_requirements.frontend())
            venvs.install(env, requirements, log, what=what, dependencies=pinned is None)
        path = env.environment(dict(os.environ))["PATH"]
        if pinned is None:
            project = build.ProjectBuilder(source, python_executable=str(env.python), runner=hook_runner(log, path))
            venvs.install(env, sorted(_dynamic_requirements(project, distributions, source, log)), log, what=what)
        yield BuildEnvironment(str(env.python), path, build_requirements.installed(venvs.site_packages(env, log)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _dynamic_requirements(
    project: ProjectBuilder, distributions: Sequence[Distribution], source: Path, log: RunLog
) -> set[str]:
    """What the backend's get_requires hooks add, asked for each kind side by side (one process each)."""
    import build

    try:
        with ThreadPoolExecutor(max_workers=len(distributions), thread_name_prefix="build-hooks") as pool:
            return set().union(*pool.map(project.get_requires_for_build, distributions))
    except (build.BuildException, build.BuildBackendException, subprocess.CalledProcessError) as error:
        raise backend_failure(source, "report its build requirements", error, log) from None


def _run_build(
    args: list[str], target: Path, env: dict[str, str], used: BuildEnvironment, *, log: RunLog, what: str
) -> None:
    environment = env | ({"PATH": used.path} if used.path else {})
    # relsafe filled a fresh environment with what the hooks asked for: build need not ask them again
    checked = ["--skip-dependency-check"] if used.path else []
    command = [used.python, "-m", "build", "--no-isolation", *checked, *args, str(target)]
    process.run(command, log=log, cwd=target, env=environment, what=what)


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
    log: RunLog,
) -> Built:
    """sdist, then the wheel built from that sdist (build's default), into outdir.

    Building the wheel from the sdist is what catches files missing from the
    sdist. `pinned`: build with exactly these requirements (isolated only).
    `wheel_only`: a wheel straight from the tree, what the sdist-built one is
    compared with.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    env = build_environment(source_date_epoch, pretend_version)
    kinds: list[Distribution] = ["wheel"] if wheel_only else ["sdist", "wheel"]
    with backend_environment(source, kinds, isolated=isolated, pinned=pinned, log=log, prepared=prepared) as used:
        args = ["--wheel"] if wheel_only else []
        what = "building a wheel from the source tree" if wheel_only else "python -m build"
        _run_build([*args, "--outdir", str(outdir)], source, env, used, log=log, what=what)
    built = sorted(outdir.iterdir(), key=lambda p: (not p.name.endswith(".tar.gz"), p.name))
    files = [path for path in built if path.name.endswith((".whl", ".tar.gz"))]
    if not files:  # build exited 0 yet wrote nothing: say so here, not as a missing file later
        raise ToolFailed(f"{what} wrote no file into {outdir}")
    return Built(files, used.requirements)
