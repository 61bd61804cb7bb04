"""The import probe: every module the wheel installs imports, and says the release's version.

Run in the venv, from the venv's own folder, beside the tests: a
package whose tests pass can still lack a module the tests never import, or
carry a `__version__` left behind by the previous release.
"""

from __future__ import annotations

import json
from pathlib import Path

from packaging.version import InvalidVersion, Version

from relsafe.artifacts.distribution import wheel_members
from relsafe.core.errors import StepFailed
from relsafe.journal.runlog import RunLog
from relsafe.tools import venv as venvs

IMPORT_PROBE = """
import importlib, importlib.metadata, json
result = {"modules": {}, "metadata": None, "errors": {}}
for name in MODULES:
    try:
        module = importlib.import_module(name)
        result["modules"][name] = getattr(module, "__version__", None)
    except Exception as error:
        result["errors"][name] = f"{type(error).__name__}: {error}"
try:
    result["metadata"] = importlib.metadata.version(DIST)
except importlib.metadata.PackageNotFoundError as error:
    result["errors"]["metadata"] = str(error)
print("RELSAFE-PROBE " + json.dumps(result))
"""


def top_level_modules(wheel: Path) -> list[str]:
    """The importable names a wheel installs at the top of site-packages."""
    names = set()
    for member in wheel_members(wheel):
        top, separator, rest = member.partition("/")
        if top.endswith((".dist-info", ".data")):
            continue
        if separator and rest == "__init__.py":
            names.add(top)
        elif not separator and top.endswith(".py"):
            names.add(top.removesuffix(".py"))
        elif not separator and top.endswith((".so", ".pyd")):
            names.add(top.split(".")[0])
    return sorted(names)


def same_version(found: object, release: str) -> bool:
    """Equal as PEP 440 versions: a zero-padded 2026.07.23 in __version__ is the release 2026.7.23."""
    try:
        return Version(str(found)) == Version(release)
    except InvalidVersion:
        return False


def verify_installed(venv: venvs.Venv, wheel: Path, dist_name: str, version: str, log: RunLog, cwd: Path) -> None:
    """Import every top-level module and compare __version__ and the metadata version with the release."""
    modules = top_level_modules(wheel)
    code = IMPORT_PROBE.replace("MODULES", repr(modules)).replace("DIST", repr(dist_name))
    done = venvs.run_python(venv, code, log, cwd=cwd)
    probe = next((line for line in done.output.splitlines() if line.startswith("RELSAFE-PROBE ")), None)
    if probe is None:
        raise StepFailed("importing the installed package failed", details=done.tail())
    result = json.loads(probe.removeprefix("RELSAFE-PROBE "))
    problems = [f"import {name}: {message}" for name, message in result["errors"].items()]
    if result["metadata"] is not None and not same_version(result["metadata"], version):
        problems.append(f"installed metadata says version {result['metadata']}, the release is {version}")
    for name, found in result["modules"].items():
        if found is not None and not same_version(found, version):
            problems.append(f"{name}.__version__ is {found!r}, the release is {version!r}")
    if problems:
        raise StepFailed("the installed wheel is not right: " + problems[0], details=problems)
