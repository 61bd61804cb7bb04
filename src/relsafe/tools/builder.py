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
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from relsafe import build_requirements
from relsafe.errors import ToolFailed
from relsafe.runlog import RunLog
from relsafe.tools import process
from relsafe.tools import venv as venvs

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


@contextmanager
def backend_environment(
    source: Path, distributions: Sequence[Distribution], *, isolated: bool, pinned: Sequence[str] | None, log: RunLog
) -> Iterator[BuildEnvironment]:
    """Where the backend's hooks run: relsafe's own environment, or a fresh venv removed afterwards.

    The fresh venv gets exactly `pinned` when given (no resolution, no
    dependencies added), else what the project's `[build-system]` and the
    backend's get_requires hooks ask for, plus the build relsafe itself uses.
    It is made and filled through tools.process, not by build's own
    isolation, which would run pip and uv where Ctrl-C, SIGTERM and the next
    run could not end them.
    """
    import build

    if not isolated:
        try:
            static = build.ProjectBuilder(source, runner=hook_runner(log)).build_system_requires
        except build.BuildException as error:
            raise backend_failure(source, "read its build requirements", error, log) from None
        yield BuildEnvironment(sys.executable, None, build_requirements.closure([*static, build_requirements.FRONTEND]))
        return
    with tempfile.TemporaryDirectory(prefix="relsafe-build-env-") as folder:
        env = venvs.create(Path(folder) / "env", sys.executable, log)
        path = env.environment(dict(os.environ))["PATH"]
        what = f"installing the build backend of {source.name}"
        if pinned is not None:
            venvs.install(env, build_requirements.checked(pinned), log, what=what, dependencies=False)
        else:
            try:
                project = build.ProjectBuilder(source, python_executable=str(env.python), runner=hook_runner(log, path))
                venvs.install(
                    env, [*sorted(project.build_system_requires), build_requirements.frontend()], log, what=what
                )
                dynamic = set().union(*(project.get_requires_for_build(kind) for kind in distributions))
            except (build.BuildException, build.BuildBackendException, subprocess.CalledProcessError) as error:
                raise backend_failure(source, "report its build requirements", error, log) from None
            venvs.install(env, sorted(dynamic), log, what=what)
        requirements = build_requirements.installed(venvs.site_packages(env, log))
        yield BuildEnvironment(str(env.python), path, requirements)


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
    with backend_environment(source, kinds, isolated=isolated, pinned=pinned, log=log) as used:
        args = ["--wheel"] if wheel_only else []
        what = "building a wheel from the source tree" if wheel_only else "python -m build"
        _run_build([*args, "--outdir", str(outdir)], source, env, used, log=log, what=what)
    built = sorted(outdir.iterdir(), key=lambda p: (not p.name.endswith(".tar.gz"), p.name))
    files = [path for path in built if path.name.endswith((".whl", ".tar.gz"))]
    if not files:  # build exited 0 yet wrote nothing: say so here, not as a missing file later
        raise ToolFailed(f"{what} wrote no file into {outdir}")
    return Built(files, used.requirements)
