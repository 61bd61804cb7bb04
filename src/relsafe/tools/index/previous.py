"""A project's earlier release on an index, as the release diff compares with it: the highest version below the
one being released, its sdist and the wheel that matches this release's, downloaded and checked against the
sha256 the index lists."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from packaging.tags import Tag, sys_tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from relsafe.tools.index import transfer
from relsafe.tools.index.simple_api import IndexFile, ProjectPage, version_of


@dataclass(frozen=True)
class Release:
    """One version's files on an index."""

    version: str
    files: list[IndexFile]

    def sdist(self) -> IndexFile | None:
        return next((entry for entry in self.files if entry.filename.endswith(".tar.gz")), None)

    def wheels(self) -> list[IndexFile]:
        return [entry for entry in self.files if entry.filename.endswith(".whl") and _tags(entry.filename)]

    def wheel_like(self, wheel_name: str | None) -> IndexFile | None:
        """The wheel to compare with `wheel_name` (another version's wheel): the one built for the same tags, else
        one sharing a tag, else the one `preferred_wheel` picks."""
        wheels = self.wheels()
        wanted = _tags(wheel_name) if wheel_name else frozenset()
        for matches in (lambda tags: tags == wanted, lambda tags: bool(tags & wanted)):
            found = next((entry for entry in wheels if matches(_tags(entry.filename))), None)
            if found is not None:
                return found
        return preferred_wheel(wheels)


def preferred_wheel(wheels: list[IndexFile]) -> IndexFile | None:
    """Of a version's wheels, the one this interpreter would install (a native one before the pure one, as pip
    chooses), else the first by name: the diff compares one wheel per release."""
    ranking = {tag: rank for rank, tag in enumerate(sys_tags())}
    ranked = sorted(
        wheels,
        key=lambda entry: (min(ranking.get(tag, len(ranking)) for tag in _tags(entry.filename)), entry.filename),
    )
    return ranked[0] if ranked else None


def release_of(page: ProjectPage, version: str) -> Release | None:
    """The files of exactly `version` on the page; None when it has none."""
    wanted = Version(version)
    files = [entry for entry in page.files if version_of(entry.filename) == wanted]
    return Release(str(wanted), files) if files else None


def previous_release(page: ProjectPage, version: str) -> Release | None:
    """The highest version below `version` on the page (pre-releases included, as installers sort) that is not
    yanked (one yanked for what it shipped must not become the baseline that hides it), with its files; None
    on a first release."""
    below = sorted((found for found in page.versions if found < Version(version)), reverse=True)
    for candidate in below:
        found = release_of(page, str(candidate))
        if found is not None and not all(entry.yanked for entry in found.files):
            return Release(found.version, [entry for entry in found.files if not entry.yanked])
    return None


def fetch(entry: IndexFile, folder: Path) -> Path:
    """The file in `folder`, downloaded unless a complete copy with the listed sha256 is there already; a
    download whose bytes differ from the listing raises transfer.HashMismatch and keeps nothing."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / entry.filename
    if target.is_file() and _sha256(target) == entry.sha256:
        return target
    target.unlink(missing_ok=True)
    return transfer.download(entry.url, target, expected_sha256=entry.sha256)


def _tags(filename: str | None) -> frozenset[Tag]:
    if not filename:
        return frozenset()
    try:
        return parse_wheel_filename(filename)[3]
    except InvalidWheelFilename:
        return frozenset()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
