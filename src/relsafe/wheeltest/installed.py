"""What a test venv holds because of the wheel: its dependencies, as resolved and installed there.

A test venv holds the wheel, what the wheel requires (with its [test] extras),
and the [test] requires and groups. Users get only the first two, so those are
what audit-deps audits and locks: walked from the wheel's own requirements
through each installed distribution's metadata, each marker evaluated with the
values of the venv's own interpreter (a `python_version < "3.11"` dependency
is in a 3.10 venv only). A test requirement that the wheel needs too is kept,
at the version that was installed and tested.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from collections import deque
from collections.abc import Sequence
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from relsafe.core.errors import StepFailed
from relsafe.journal.records import Installed, TestedEnvironment
from relsafe.journal.runlog import RunLog
from relsafe.tools import venv as venvs

PER_VENV_FILES = frozenset({"INSTALLER", "REQUESTED", "direct_url.json", "RECORD", "uv_cache.json", "uv_build.json"})

MARKER_PROBE = """
import json, os, platform, sys
def spelled(info):
    version = "{0.major}.{0.minor}.{0.micro}".format(info)
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version
print("RELSAFE-MARKERS " + json.dumps({
    "implementation_name": sys.implementation.name,
    "implementation_version": spelled(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}))
"""
"""PEP 508's marker values, computed as packaging.markers.default_environment does, by the venv's interpreter
(which may lack packaging)."""


def marker_values(venv: venvs.Venv, log: RunLog) -> dict[str, str]:
    done = venvs.run_python(venv, MARKER_PROBE, log, cwd=venv.path)
    line = next((line for line in done.output.splitlines() if line.startswith("RELSAFE-MARKERS ")), None)
    if line is None:
        raise StepFailed("the test venv's interpreter did not say its marker values", details=done.tail())
    values: dict[str, str] = json.loads(line.removeprefix("RELSAFE-MARKERS "))
    return values


def _applies(marker: Marker | None, values: dict[str, str], extras: frozenset[str]) -> bool:
    if marker is None:
        return True
    return any(marker.evaluate({**values, "extra": extra}) for extra in extras | {""})


def wheel_dependencies(
    site_packages: Sequence[Path], project_name: str, extras: Sequence[str], values: dict[str, str]
) -> tuple[Installed, ...]:
    """The distributions installed in `site_packages` that the project (with `extras`) requires, directly or
    through another, sorted by name; the project itself left out. A requirement that is not installed is pip
    check's to report, not this walk's."""
    found: dict[str, importlib.metadata.Distribution] = {}
    for distribution in importlib.metadata.distributions(path=[str(folder) for folder in site_packages]):
        name = distribution.metadata["Name"]
        if name:  # a dist-info folder without metadata is no distribution
            found.setdefault(canonicalize_name(name), distribution)
    project = canonicalize_name(project_name)
    reached: dict[str, Installed] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    # breadth first, so that `via` names the shortest way in: the wheel itself before a dependency of it
    pending: deque[tuple[str, frozenset[str], str | None]] = deque(
        [(project, frozenset(canonicalize_name(extra) for extra in extras), None)]
    )
    while pending:
        name, wanted_extras, via = pending.popleft()
        if (name, wanted_extras) in seen or name not in found:
            continue
        seen.add((name, wanted_extras))
        distribution = found[name]
        if name != project and name not in reached:
            reached[name] = Installed(name, distribution.version, _tags(distribution), via, files_digest(distribution))
        for text in distribution.requires or []:
            try:
                requirement = Requirement(text)
            except InvalidRequirement:
                continue  # installed metadata pip accepted; nothing this walk can follow
            if _applies(requirement.marker, values, wanted_extras):
                extras_of = frozenset(canonicalize_name(extra) for extra in requirement.extras)
                pending.append((canonicalize_name(requirement.name), extras_of, None if name == project else name))
    return tuple(reached[name] for name in sorted(reached))


def files_digest(distribution: importlib.metadata.Distribution) -> str | None:
    """One sha256 over the hashes its RECORD lists for the files it put into site-packages: the wheel's own
    files, so two venvs that installed the same file get the same digest and another build of the same version
    another one. Left out: what the installer writes per venv (INSTALLER, REQUESTED, direct_url.json, its own
    notes, console scripts whose first line names the venv's interpreter) and what RECORD lists without a hash
    (RECORD itself, compiled .pyc files). None without a RECORD."""
    files = distribution.files
    if files is None:
        return None
    lines = sorted(
        f"{entry.as_posix()} {entry.hash.mode}={entry.hash.value}"
        for entry in files
        if entry.hash is not None and not entry.as_posix().startswith("../") and not _per_venv(entry)
    )
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _per_venv(entry: importlib.metadata.PackagePath) -> bool:
    return entry.parent.name.endswith(".dist-info") and entry.name in PER_VENV_FILES


def _tags(distribution: importlib.metadata.Distribution) -> tuple[str, ...]:
    text = distribution.read_text("WHEEL") or ""
    return tuple(line.partition(":")[2].strip() for line in text.splitlines() if line.startswith("Tag:"))


def tested_environment(
    venv: venvs.Venv,
    python: str,
    site_packages: Sequence[Path],
    project_name: str,
    extras: Sequence[str],
    log: RunLog,
) -> TestedEnvironment:
    """What the venv holds because of the wheel, read after the wheel was installed (read-only)."""
    values = marker_values(venv, log)
    return TestedEnvironment(python, values, wheel_dependencies(site_packages, project_name, extras, values))
