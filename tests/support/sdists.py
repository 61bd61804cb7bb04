"""Sdists written by hand, and read back."""

from __future__ import annotations

import tarfile
from collections.abc import Mapping
from pathlib import Path

from tests.support.archives import tar_of


def write_sdist(path: Path, files: Mapping[str, bytes]) -> Path:
    """A gzipped tar at `path` holding `files` under its top folder (the file name without .tar.gz), as the
    sdist format wants; nothing added (no PKG-INFO unless given)."""
    top = path.name.removesuffix(".tar.gz")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tar_of({f"{top}/{name}": data for name, data in files.items()}, "w:gz"))
    return path


def sdist_files(sdist: Path) -> dict[str, bytes]:
    """Path inside the project (the top folder stripped) → content, for every file of the sdist."""
    with tarfile.open(sdist) as archive:
        return {
            member.name.split("/", 1)[1]: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile() and "/" in member.name
        }
