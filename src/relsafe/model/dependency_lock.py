"""The lock of the tested environment: a PEP 751 `pylock.toml` of the wheel and what it installed, with hashes.

audit-deps writes it into the release's folder and the tag's manifest carries
its sha256, so that what was tested can be installed again and audited again
later (`pip-audit --locked FOLDER`), exactly: every package by name, version
and the sha256 of the file the index serves for it. The wheel itself is named
by its path beside the lock (`dist/…`). A package installed in only some of
the tested venvs (a dependency behind a `python_version` marker) carries the
markers of those venvs; `environments` names every tested one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import tomlkit
from packaging.pylock import Pylock, PylockValidationError
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

LOCK_VERSION = "1.0"
CREATED_BY = "relsafe"
# the marker values that tell the tested environments apart, in the order a marker names them
_ENVIRONMENT_KEYS = ("implementation_name", "python_full_version", "sys_platform", "platform_machine")


@dataclass(frozen=True)
class IndexedFile:
    """A file an index serves for a package's version: what the lock names."""

    filename: str
    url: str
    sha256: str

    @property
    def is_wheel(self) -> bool:
        return self.filename.endswith(".whl")


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str
    file: IndexedFile
    environments: frozenset[int]
    """Which tested environments (by position) installed it."""


def environment_marker(values: Mapping[str, str]) -> str:
    """A PEP 508 marker that holds in the tested environment with these marker values."""
    return " and ".join(f'{key} == "{values[key]}"' for key in _ENVIRONMENT_KEYS if key in values)


def installed_file(files: Sequence[IndexedFile], name: str, version: str, tags: Sequence[str]) -> IndexedFile | None:
    """Of the files an index lists for `name` `version`, the one that was installed: the wheel with exactly the
    installed tags, else one sharing a tag with them (a repacked wheel may name fewer), else the sdist it was
    built from; None when the index has none of these."""
    installed = set(tags)
    wheels: list[tuple[IndexedFile, set[str]]] = []
    sdists: list[IndexedFile] = []
    for entry in sorted(files, key=lambda item: item.filename):
        try:
            if entry.is_wheel:
                found, found_version, _, found_tags = parse_wheel_filename(entry.filename)
                if (found, str(found_version)) == (canonicalize_name(name), _normal(version)):
                    wheels.append((entry, {str(tag) for tag in found_tags}))
            else:
                found, found_version = parse_sdist_filename(entry.filename)
                if (found, str(found_version)) == (canonicalize_name(name), _normal(version)):
                    sdists.append(entry)
        except (InvalidWheelFilename, InvalidSdistFilename):
            continue
    exact = [entry for entry, found_tags in wheels if found_tags == installed]
    sharing = [entry for entry, found_tags in wheels if found_tags & installed]
    return next(iter(exact or sharing or sdists), None)


def _normal(version: str) -> str:
    return str(Version(version))


def render(
    *,
    project: str,
    version: str,
    wheel: str,
    wheel_sha256: str,
    environments: Sequence[Mapping[str, str]],
    packages: Sequence[LockedPackage],
    index_url: str,
) -> str:
    """The pylock.toml text, validated against PEP 751 (packaging.pylock) before it is returned."""
    every = frozenset(range(len(environments)))
    markers = [environment_marker(values) for values in environments]
    document = tomlkit.document()
    document.add(
        tomlkit.comment(f"The environment relsafe tested {project} {version} in: its wheel and what the wheel")
    )
    document.add(tomlkit.comment("installed there (the [test] requirements it did not need left out), written by the"))
    document.add(tomlkit.comment("audit-deps step. Audit it again: pip-audit --locked <the folder of this file>"))
    document.add("lock-version", LOCK_VERSION)
    document.add("environments", [marker for marker in markers if marker])
    document.add("created-by", CREATED_BY)
    entries = tomlkit.aot()
    entries.append(
        tomlkit.item(
            {
                "name": canonicalize_name(project),
                "version": version,
                "wheels": [{"name": wheel, "path": f"dist/{wheel}", "hashes": {"sha256": wheel_sha256}}],
            }
        )
    )
    for package in sorted(packages, key=lambda item: (item.name, item.version, sorted(item.environments))):
        entry: dict[str, object] = {"name": package.name, "version": package.version}
        if package.environments != every:
            entry["marker"] = " or ".join(f"({markers[index]})" for index in sorted(package.environments))
        entry["index"] = index_url
        described = {"name": package.file.filename, "url": package.file.url, "hashes": {"sha256": package.file.sha256}}
        if package.file.is_wheel:
            entry["wheels"] = [described]
        else:
            entry["sdist"] = described
        entries.append(tomlkit.item(entry))
    document.add("packages", entries)
    text = tomlkit.dumps(document)
    try:
        Pylock.from_dict(tomlkit.parse(text).unwrap())
    except PylockValidationError as error:  # a bug here, not the user's: say what PEP 751 refused
        raise ValueError(f"the lock relsafe wrote is not a valid pylock.toml: {error}") from None
    return text
