"""`relsafe diff OLD NEW`: the release diff of any two releases' files, without a project or a release.

Each side is a wheel or sdist file, or `NAME==VERSION`: that version's files on
an index (PyPI by default), downloaded into a temporary folder and checked
against the sha256 the index lists. Two files must be of one kind; a file and
a `NAME==VERSION` compare the file with the version's file of its kind; two
`NAME==VERSION`s compare the wheels and the sdists, as a release does (one
wheel each: the one this interpreter would install, and the other version's
wheel built for the same tags). The report is the one the inspect step
records, digest included, so the same two releases give the same digest.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from relsafe.artifacts.checks import checked_arguments
from relsafe.artifacts.differ import release_diff
from relsafe.core.errors import Refused, UsageError
from relsafe.model.index_url import url_problem
from relsafe.model.release_diff import ReleaseDiff
from relsafe.tools.index import simple_api
from relsafe.tools.index.previous import Release, fetch, preferred_wheel, release_of
from relsafe.tools.index.transfer import HashMismatch

_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s=]+)$")


@dataclass(frozen=True)
class _Side:
    argument: str
    path: Path | None = None
    name: str = ""
    version: str = ""

    @property
    def kind(self) -> str | None:
        if self.path is None:
            return None
        return "wheel" if self.path.name.endswith(".whl") else "sdist"


def compare(old: str, new: str, *, index_url: str, accept_pth: Sequence[str] = ()) -> ReleaseDiff:
    """The release diff of NEW against OLD (each a file or NAME==VERSION on `index_url`)."""
    problem = url_problem(index_url)
    if problem is not None:
        raise UsageError(f"option --index-url: {problem}")
    before, after = _side("OLD", old), _side("NEW", new)
    if before.kind and after.kind and before.kind != after.kind:
        raise UsageError(f"arguments OLD and NEW: {_a(before.kind)} and {_a(after.kind)}; compare files of one kind")
    with tempfile.TemporaryDirectory(prefix="relsafe-diff-") as folder:
        new_release = _release(after, index_url)
        old_release = _release(before, index_url)
        given = before.kind or after.kind
        kinds = [given] if given else ["wheel", "sdist"]
        new_files: list[Path] = []
        old_files: list[Path] = []
        notes: list[str] = []
        for kind in kinds:
            new_file = _file(after, new_release, kind, None, Path(folder) / "new")
            if new_file is None:
                notes.append(f"{after.argument} has no {kind} on {index_url}: not compared")
                continue
            old_file = _file(before, old_release, kind, new_file.name, Path(folder) / "old")
            if old_file is None:
                notes.append(f"{before.argument} has no {kind} on {index_url}: not compared")
                continue
            new_files.append(new_file)
            old_files.append(old_file)
        if not new_files:
            raise UsageError(f"arguments OLD and NEW: no wheel or sdist of both on {index_url} to compare")
        from_index = old_release is not None
        return release_diff(
            new_files, old_files, accept_pth=accept_pth, index_url=index_url if from_index else None, notes=notes
        )


def _side(argument: str, text: str) -> _Side:
    if text.endswith((".whl", ".tar.gz")) or Path(text).exists():
        return _Side(argument, path=checked_arguments([Path(text)], argument=argument)[0])
    found = _SPEC.match(text)
    if found is None:
        raise UsageError(
            f"argument {argument}: {text!r} is neither a wheel (.whl) or sdist (.tar.gz) file nor NAME==VERSION"
        )
    try:
        version = str(Version(found["version"]))
    except InvalidVersion:
        raise UsageError(f"argument {argument}: {found['version']!r} is not a valid version") from None
    return _Side(argument, name=canonicalize_name(found["name"]), version=version)


def _release(side: _Side, index_url: str) -> Release | None:
    if side.path is not None:
        return None
    found = release_of(simple_api.project_page(index_url, side.name), side.version)
    if found is None:
        raise UsageError(f"argument {side.argument}: {index_url} has no files of {side.name} {side.version}")
    return found


def _file(side: _Side, release: Release | None, kind: str, like: str | None, folder: Path) -> Path | None:
    """The side's file of `kind`: the file given, or the release's on the index, downloaded and hash-checked."""
    if side.path is not None or release is None:
        return side.path
    if kind == "sdist":
        entry = release.sdist()
    else:
        entry = release.wheel_like(like) if like else preferred_wheel(release.wheels())
    if entry is None:
        return None
    try:
        return fetch(entry, folder)
    except HashMismatch as error:
        raise Refused(
            f"{entry.filename} on the index is not the file the index lists "
            f"(sha256 {error.received}, listed {error.expected})",
            hint="the file changed after it was published, or something between here and the index changes it",
        ) from None


def _a(kind: str) -> str:
    return f"an {kind}" if kind == "sdist" else f"a {kind}"
