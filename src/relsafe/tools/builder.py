"""Building the sdist and the wheel with pypa/build, reproducibly and into a folder relsafe owns."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from relsafe.errors import ToolFailed
from relsafe.runlog import RunLog
from relsafe.tools import process


def uv_executable() -> str | None:
    """uv makes isolated builds and venvs several times faster: relsafe depends on it and finds its binary
    through the `uv` package, then beside the interpreter, then on PATH.

    RELSAFE_NO_UV=1 forces the pure-pip path, as on a platform without a uv wheel (the tests cover both).
    """
    if os.environ.get("RELSAFE_NO_UV"):
        return None
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    sibling = Path(sys.executable).with_name("uv")
    if sibling.exists():
        return str(sibling)
    return shutil.which("uv")


def build_environment(source_date_epoch: int, pretend_version: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["SOURCE_DATE_EPOCH"] = str(source_date_epoch)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if pretend_version is not None:
        # setuptools-scm and hatch-vcs both honour this: the build gets the
        # release version before the tag that would normally give it exists.
        env["SETUPTOOLS_SCM_PRETEND_VERSION"] = pretend_version
    return env


def _run_build(args: list[str], target: Path, env: dict[str, str], *, isolated: bool, log: RunLog, what: str) -> None:
    """Isolated builds install the backend each time; unisolated ones use the one beside relsafe (offline)."""
    command = [sys.executable, "-m", "build", *args]
    uv = uv_executable()
    if not isolated:
        command.append("--no-isolation")
    elif uv is not None:
        command += ["--installer", "uv"]
        env = {**env, "PATH": str(Path(uv).parent) + os.pathsep + env.get("PATH", "")}
    process.run([*command, str(target)], log=log, cwd=target, env=env, what=what)


def build_distributions(
    source: Path,
    outdir: Path,
    *,
    source_date_epoch: int,
    pretend_version: str | None,
    isolated: bool = True,
    log: RunLog,
) -> list[Path]:
    """sdist, then the wheel built from that sdist (build's default), into outdir.

    Building the wheel from the sdist is what catches files missing from the
    sdist. Returns the files written, sdist first.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    env = build_environment(source_date_epoch, pretend_version)
    _run_build(["--outdir", str(outdir)], source, env, isolated=isolated, log=log, what="python -m build")
    built = sorted(outdir.iterdir(), key=lambda p: (not p.name.endswith(".tar.gz"), p.name))
    return [path for path in built if path.name.endswith((".whl", ".tar.gz"))]


@contextmanager
def build_wheel_from_sdist(
    sdist: Path,
    *,
    source_date_epoch: int,
    pretend_version: str | None,
    isolated: bool = True,
    log: RunLog,
) -> Iterator[Path]:
    """Unpack an sdist alone and build a wheel from it: proof the sdist is complete. Yields the wheel.

    Everything happens in a fresh folder of the system's temp dir, removed on
    leaving whatever happened: backends look around the source they build
    (poetry-core runs `git ls-files`, which exits 128 under a `.git/` folder),
    so the unpacked sdist must sit outside any repository, the release's own
    folder in `.git/relsafe/` included.
    """
    import tarfile

    scratch = Path(tempfile.mkdtemp(prefix="relsafe-sdist-"))
    try:
        unpack = scratch / "unpacked"
        unpack.mkdir()
        with tarfile.open(sdist) as archive:
            archive.extractall(unpack, filter="data")
        roots = [child for child in unpack.iterdir() if child.is_dir()]
        wheel_dir = scratch / "wheel"
        env = build_environment(source_date_epoch, pretend_version)
        target = roots[0] if len(roots) == 1 else unpack
        _run_build(
            ["--wheel", "--outdir", str(wheel_dir)],
            target,
            env,
            isolated=isolated,
            log=log,
            what="building a wheel from the sdist",
        )
        wheels = sorted(wheel_dir.glob("*.whl"))
        if not wheels:  # build exited 0 yet wrote nothing: say so, not StopIteration
            raise ToolFailed("building a wheel from the sdist wrote no wheel")
        yield wheels[0]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
