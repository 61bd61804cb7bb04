"""A project's core metadata as its own build backend reports it (PEP 517).

A setup.py-only project states its name and version nowhere a TOML reader
can see: only running the backend tells them. This asks the backend with
`prepare_metadata_for_build_wheel` (build falls back to a wheel build when
the backend lacks the hook), in an isolated environment like a real build.
"""

from __future__ import annotations

import email.message
import email.parser
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from relsafe.errors import ToolFailed
from relsafe.runlog import RunLog
from relsafe.tools import process
from relsafe.tools import venv as venvs


def _runner(log: RunLog) -> Callable[..., None]:
    """build's subprocess runner, logging every hook call and raising as build expects on failure."""

    def run(cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None) -> None:
        env = {**os.environ, **(extra_environ or {})}
        done = process.run(cmd, log=log, cwd=Path(cwd) if cwd else None, env=env, check=False, what="build backend")
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, list(cmd), output=done.output)

    return run


def read_backend_metadata(source: Path, *, isolated: bool, log: RunLog) -> email.message.Message:
    """The METADATA the backend would write for a wheel of `source` (a clean export, never the user's tree)."""
    import build

    runner = _runner(log)
    with (
        tempfile.TemporaryDirectory(prefix="relsafe-metadata-") as output,
        warnings.catch_warnings(record=True) as said,
    ):
        warnings.simplefilter("always")  # the backend's warnings belong in the run log, not on the screen
        try:
            dist_info = _metadata_path(source, Path(output), isolated=isolated, runner=runner, log=log)
        except (build.BuildException, build.BuildBackendException, subprocess.CalledProcessError) as error:
            cause = error.exception if isinstance(error, build.BuildBackendException) else error
            tail = getattr(cause, "output", None) or ""
            raise ToolFailed(
                f"{source.name}: the build backend could not report the project's metadata: {error}",
                details=[log.redact(line) for line in str(tail).splitlines()[-process.TAIL_LINES :]],
            ) from None
        finally:
            for warning in said:
                log.write(f"build backend: {warning.message}")
        return email.parser.BytesParser().parsebytes((dist_info / "METADATA").read_bytes())


def _metadata_path(source: Path, output: Path, *, isolated: bool, runner: Callable[..., None], log: RunLog) -> Path:
    """Isolated like build's own environment, but made and filled through tools.process (build's
    DefaultIsolatedEnv runs pip and uv itself, where Ctrl-C, SIGTERM and the next run could not end them)."""
    import build

    if not isolated:
        return Path(build.ProjectBuilder(source, runner=runner).metadata_path(output))
    with tempfile.TemporaryDirectory(prefix="relsafe-build-env-") as folder:
        env = venvs.create(Path(folder) / "env", sys.executable, log)

        def in_env(cmd: Sequence[str], cwd: str | None = None, extra_environ: Mapping[str, str] | None = None) -> None:
            runner(cmd, cwd, {**(extra_environ or {}), "PATH": env.environment(dict(os.environ))["PATH"]})

        builder = build.ProjectBuilder(source, python_executable=str(env.python), runner=in_env)
        what = f"installing the build backend of {source.name}"
        venvs.install(env, sorted(builder.build_system_requires), log, what=what)
        venvs.install(env, sorted(builder.get_requires_for_build("wheel")), log, what=what)
        return Path(builder.metadata_path(output))
