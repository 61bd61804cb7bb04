"""Fresh virtual environments to install and test what users will install.

uv makes them in a fraction of a second when it is on PATH; otherwise the
virtualenv library seeds pip from its app-data cache (0.8 s rather than
venv's 6.7 s here).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from relsafe.core import withheld
from relsafe.core.errors import StepFailed, ToolFailed
from relsafe.journal.runlog import RunLog
from relsafe.tools import process
from relsafe.tools.uv import uv_executable

BIN = "Scripts" if os.name == "nt" else "bin"


@dataclass(frozen=True)
class Venv:
    path: Path
    python: Path
    uv: str | None
    seconds: float

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The venv first on PATH, as an activated shell would have it."""
        env = process.strict_pip_env(base) if base is None else dict(base)
        env["VIRTUAL_ENV"] = str(self.path)
        env["PATH"] = str(self.path / BIN) + os.pathsep + env.get("PATH", "")
        env.pop("PYTHONHOME", None)
        env.pop("PYTHONPATH", None)
        return env


def _resolve_python(python: str) -> str:
    found = shutil.which(python) if os.sep not in python else python
    if not found or not Path(found).exists():
        raise StepFailed(
            f"[test] pythons: interpreter {python!r} not found", hint="install it, or change [test] pythons"
        )
    return found


def create(path: Path, python: str, log: RunLog, *, pip: bool = False) -> Venv:
    """A new, empty-but-for-pip environment at path (replacing anything there).

    pip=True: pip itself installs into it (`install_reporting`, `install_hashed`), never uv, and it holds
    pip alone, so that everything else in it is what pip reports having installed.
    """
    shutil.rmtree(path, ignore_errors=True)
    interpreter = _resolve_python(python) if python != sys.executable else python
    started = time.monotonic()
    uv = None if pip else uv_executable()
    if pip:
        command = [sys.executable, "-m", "virtualenv", "--quiet", "--no-setuptools", "--python", interpreter, str(path)]
        process.run(command, log=log, what="virtualenv")
        venv = Venv(path, path / BIN / "python", None, 0.0)
        seeded = [entry.name.split("-")[0] for entry in _dist_infos(venv, log) if not entry.name.startswith("pip-")]
        if seeded:  # an older virtualenv seeds wheel (or setuptools) beside pip on this Python
            _pip(venv, ["uninstall", "--yes", *seeded], log, what="virtualenv's seed packages")
        return Venv(path, venv.python, None, time.monotonic() - started)
    if uv is not None:
        # no --seed: uv installs and checks without pip in the venv, and seeding would need the index
        process.run([uv, "venv", "--quiet", "--python", interpreter, str(path)], log=log, what="uv venv")
    else:
        process.run(
            [sys.executable, "-m", "virtualenv", "--quiet", "--python", interpreter, str(path)],
            log=log,
            what="virtualenv",
        )
    return Venv(path, path / BIN / "python", uv, time.monotonic() - started)


def install(
    venv: Venv,
    requirements: Sequence[str | Path],
    log: RunLog,
    *,
    index_url: str | None = None,
    what: str = "installing into a fresh venv",
    dependencies: bool = True,
    constraints: Path | None = None,
) -> float:
    """pip-install files or requirement strings; returns seconds taken.

    With index_url, dependencies resolve from that index only: machine-wide
    extra indexes and find-links are switched off. dependencies=False installs
    exactly what is named (a set of pins that is complete already).
    `constraints`: a constraints file (the project's lock, as pins).
    """
    if not requirements:
        return 0.0
    items = [str(item) for item in requirements]
    env = process.strict_pip_env() if index_url else dict(os.environ)
    if venv.uv is not None:
        command = [venv.uv, "pip", "install", "--quiet", "--python", str(venv.python)]
        if index_url:
            command += ["--index-url", index_url, "--no-config"]
    else:
        command = [str(venv.python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        if index_url:
            command += ["--index-url", index_url]
    if not dependencies:
        command.append("--no-deps")
    if constraints is not None:
        command += ["--constraint", str(constraints)]
    done = process.run([*command, *items], log=log, env=env, what=what)
    return done.seconds


def install_reporting(
    venv: Venv, requirements: Sequence[str], log: RunLog, *, what: str, dependencies: bool = True
) -> dict[str, str]:
    """pip-install wheels only (`--only-binary :all:`) into a venv made with pip=True, and return what pip's
    installation report says it installed: `name==version` → the sha256 of the wheel file itself, which pip
    verified against the index's hash or computed from the file as it installed it.

    Anything pip installed that was not a wheel with a known sha256 (an sdist it built, a local folder) is a
    ToolFailed naming it: there is no wheel hash to pin.
    """
    from packaging.utils import canonicalize_name

    if not requirements:
        return {}
    report = venv.path / "relsafe-pip-report.json"
    report.unlink(missing_ok=True)
    options = ["--only-binary", ":all:", "--report", str(report), *([] if dependencies else ["--no-deps"])]
    _pip(venv, ["install", "--quiet", *options, *requirements], log, what=what)
    wheels: dict[str, str] = {}
    for item in json.loads(report.read_text(encoding="utf-8")).get("install", []):
        name, version = canonicalize_name(item["metadata"]["name"]), item["metadata"]["version"]
        info = item.get("download_info") or {}
        url = str(info.get("url", ""))
        sha256 = (info.get("archive_info") or {}).get("hashes", {}).get("sha256")
        if not url.split("#", 1)[0].endswith(".whl") or not sha256:
            where = url or "a folder"
            raise ToolFailed(f"{what}: pip installed {name} {version} from {where}, not a wheel with a sha256")
        wheels[f"{name}=={version}"] = str(sha256)
    return wheels


def install_hashed(venv: Venv, requirements: Sequence[str], log: RunLog, *, what: str) -> None:
    """Install exactly these `name==version --hash=sha256:…` lines and nothing else, as the publish workflow's
    rebuild does: `--require-hashes --no-deps --only-binary :all:` from a requirements file, so a wheel with
    other bytes than the recorded ones is refused by the installer itself."""
    listed = venv.path / "relsafe-build-requirements.txt"
    listed.write_text("".join(f"{line}\n" for line in requirements), encoding="utf-8")
    options = ["--require-hashes", "--no-deps", "--only-binary", ":all:", "--requirement", str(listed)]
    if venv.uv is not None:
        command = [venv.uv, "pip", "install", "--quiet", "--python", str(venv.python), *options]
        process.run(command, log=log, what=what)
    else:
        _pip(venv, ["install", "--quiet", *options], log, what=what)


def _pip(venv: Venv, args: list[str], log: RunLog, *, what: str) -> None:
    command = [str(venv.python), "-m", "pip", "--disable-pip-version-check", *args]
    process.run(command, log=log, env=dict(os.environ), what=what)


def _dist_infos(venv: Venv, log: RunLog) -> list[Path]:
    return [entry for folder in site_packages(venv, log) for entry in folder.glob("*.dist-info")]


def pip_check(venv: Venv, log: RunLog) -> None:
    """Installed requirements are consistent; uv answers in milliseconds where pip takes most of a second."""
    if venv.uv is not None:
        command = [venv.uv, "pip", "check", "--python", str(venv.python)]
    else:
        command = [str(venv.python), "-m", "pip", "check"]
    process.run(command, log=log, what="pip check")


def run_python(venv: Venv, code: str, log: RunLog, *, cwd: Path) -> process.Completed:
    return process.run(
        [str(venv.python), "-I", "-c", code],
        log=log,
        cwd=cwd,
        env=venv.environment(dict(os.environ)),
        check=False,
    )


def site_packages(venv: Venv, log: RunLog) -> list[Path]:
    """Where the venv installs packages (purelib and platlib, one folder on most systems).

    A fresh venv's layout says it without starting its interpreter: exactly one
    `lib/python*/site-packages` (`Lib/site-packages` on Windows); anything else asks the interpreter.
    """
    found = sorted(venv.path.glob("lib/python*/site-packages")) or sorted(venv.path.glob("Lib/site-packages"))
    lib64 = venv.path / "lib64"  # uv and virtualenv link it to lib; a folder of its own may hold platlib
    if len(found) == 1 and (lib64.is_symlink() or not lib64.exists()):
        return found
    code = "import sysconfig; print(sysconfig.get_path('purelib')); print(sysconfig.get_path('platlib'))"
    done = process.run([str(venv.python), "-I", "-c", code], log=log, what="reading the venv's site-packages")
    return sorted({Path(line.strip()) for line in done.output.splitlines() if line.strip()})


def run_command(
    venv: Venv,
    command: str,
    log: RunLog,
    *,
    cwd: Path,
    timeout: float | None = None,
    extra_env: dict[str, str] | None = None,
    passed: Sequence[str] = (),
) -> process.Completed:
    """Run a configured command (e.g. `python -m pytest -q`) with the venv first on PATH.

    Like every command, it gets no credential of the shell's, except the variables named in `passed`
    (`[test] env`: what a suite really needs), with their values as the shell gave them to relsafe."""
    argv = shlex.split(command)
    executable = shutil.which(argv[0], path=str(venv.path / BIN)) or argv[0]
    env = {**venv.environment(dict(os.environ)), **(extra_env or {})}
    shell = withheld.credential_environment()
    given = {name: shell[name] for name in passed if name in shell}
    return process.run(
        [executable, *argv[1:]], log=log, cwd=cwd, env=env, check=False, timeout=timeout, credentials=given
    )
