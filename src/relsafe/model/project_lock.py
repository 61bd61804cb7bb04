"""The project's own lock file ([test] lock), read as the versions its test venvs install.

A project's CI tests against what its lock pins (rich's suite fails on the
newest pygments, flask's on the newest pytest): smoke installs the test
dependencies and the wheel's own dependencies as constraints from the lock,
so it tests what the project's CI tests. uv.lock, poetry.lock, pylock.toml
(PEP 751) and pip's requirements files are read with tomllib and packaging,
never by running uv or poetry. The project itself is never pinned: the wheel
under test comes from the build, never from the lock. Only what an index
serves is pinned; a package from git, a folder or a URL is left to resolve.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.markers import InvalidMarker, Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from relsafe.core.errors import ConfigError
from relsafe.model.config import read_toml

LOCK_FILES = ("uv.lock", "poetry.lock", "pylock.toml")
"""The lock files `relsafe init` names in [test] lock when the project has one, in this order."""
_PYLOCK = re.compile(r"^pylock\.[^.]+\.toml$")
_NOT_FROM_AN_INDEX = ("git", "directory", "path", "editable", "virtual", "url", "file", "vcs", "archive")


@dataclass(frozen=True)
class LockPins:
    """The constraints a lock gives: `name==version`, with a marker where the lock pins several versions."""

    path: str
    kind: str
    pins: tuple[str, ...]

    def constraints(self) -> str:
        return "".join(f"{pin}\n" for pin in self.pins)


def read_lock(root: Path, relative: str, project_name: str) -> LockPins:
    """The pins of the lock at `root/relative`, the project itself left out; ConfigError naming [test] lock for a
    file that is missing, unreadable or of no kind relsafe reads."""
    path = root / relative
    if not path.is_file():
        raise ConfigError(f"[test] lock: {relative!r} does not exist in {root}")
    name = path.name
    if name == "uv.lock":
        kind, found = "uv.lock", _uv(read_toml(path))
    elif name == "poetry.lock":
        kind, found = "poetry.lock", _poetry(read_toml(path))
    elif name == "pylock.toml" or _PYLOCK.match(name):
        kind, found = "pylock.toml", _pylock(read_toml(path))
    elif name.endswith(".txt"):
        kind, found = "requirements", list(_requirements(path, root, set()))
    else:
        raise ConfigError(
            f"[test] lock: {relative!r}: expected uv.lock, poetry.lock, pylock.toml or a requirements .txt file"
        )
    own = canonicalize_name(project_name)
    return LockPins(relative, kind, tuple(dict.fromkeys(pin for pin in found if _name_of(pin) != own)))


def _name_of(pin: str) -> str:
    return canonicalize_name(pin.partition("==")[0])


def _entries(data: dict[str, Any], key: str, lock: str) -> list[dict[str, Any]]:
    entries = data.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
        raise ConfigError(f"[test] lock: {lock}: expected [[{key}]] tables")
    return [entry for entry in entries if isinstance(entry.get("name"), str) and isinstance(entry.get("version"), str)]


def _pinned(entries: Iterable[tuple[str, str, str | None]]) -> list[str]:
    """`name==version` for a name locked at one version; with several, each with the marker that chooses it
    (a name with several versions and no marker to tell them apart is left unpinned)."""
    by_name: dict[str, list[tuple[str, str, str | None]]] = {}
    for name, version, marker in entries:
        by_name.setdefault(canonicalize_name(name), []).append((name, version, marker))
    pins = []
    for versions in by_name.values():
        if len({version for _, version, _ in versions}) == 1:
            pins.append(f"{versions[0][0]}=={versions[0][1]}")
        elif all(marker for _, _, marker in versions):
            pins += [f"{name}=={version} ; {marker}" for name, version, marker in versions]
    return pins


def _marker(text: Any) -> str | None:
    if isinstance(text, list) and text:
        text = " or ".join(f"({item})" for item in text if isinstance(item, str))
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return str(Marker(text))
    except InvalidMarker:
        return None


def _uv(data: dict[str, Any]) -> list[str]:
    entries = []
    for entry in _entries(data, "package", "uv.lock"):
        source = entry.get("source", {})
        if isinstance(source, dict) and any(key in source for key in _NOT_FROM_AN_INDEX):
            continue
        entries.append((entry["name"], entry["version"], _marker(entry.get("resolution-markers"))))
    return _pinned(entries)


def _poetry(data: dict[str, Any]) -> list[str]:
    entries = []
    for entry in _entries(data, "package", "poetry.lock"):
        source = entry.get("source", {})
        if isinstance(source, dict) and source.get("type") in _NOT_FROM_AN_INDEX:
            continue
        entries.append((entry["name"], entry["version"], _marker(entry.get("markers"))))
    return _pinned(entries)


def _pylock(data: dict[str, Any]) -> list[str]:
    entries = []
    for entry in _entries(data, "packages", "pylock.toml"):
        if not any(key in entry for key in ("wheels", "sdist")):
            continue  # from vcs, a folder or an archive URL: nothing an index serves
        entries.append((entry["name"], entry["version"], _marker(entry.get("marker"))))
    return _pinned(entries)


def _requirements(path: Path, root: Path, seen: set[Path]) -> Iterator[str]:
    """The `name==version` lines of a requirements file (pip-compile's, `uv pip compile`'s), hashes and options
    dropped, `-r`/`-c` files inside the project followed."""
    resolved = path.resolve()
    if resolved in seen:
        return
    seen.add(resolved)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"[test] lock: {path.name}: cannot be read: {error}") from None
    for line in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        included = re.match(r"^(-r|-c|--requirement|--constraint)[\s=]+(\S+)$", line)
        if included:
            nested = (path.parent / included.group(2)).resolve()
            if nested.is_relative_to(root.resolve()) and nested.is_file():
                yield from _requirements(nested, root, seen)
            continue
        if not line or line.startswith("-"):
            continue
        try:
            requirement = Requirement(re.split(r"\s--hash[=\s]", line)[0].strip())
        except InvalidRequirement:
            continue
        specifiers = list(requirement.specifier)
        if (
            requirement.url
            or len(specifiers) != 1
            or specifiers[0].operator not in ("==", "===")
            or "*" in str(specifiers[0].version)
        ):
            continue
        marker = f" ; {requirement.marker}" if requirement.marker else ""
        yield f"{requirement.name}=={specifiers[0].version}{marker}"
