"""One built distribution file (a wheel or an sdist): its facts and its checks.

Everything is read straight from the archive, never extracted, so the inspect
step judges exactly the bytes that will be uploaded.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import tarfile
import zipfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesHeaderParser
from pathlib import Path, PurePosixPath
from typing import IO, Literal

from packaging.metadata import ExceptionGroup, InvalidMetadata, Metadata
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from relsafe.core.errors import StepFailed

DistributionKind = Literal["wheel", "sdist"]

_READ_SIZE = 1 << 20

# Top-level names that clash between projects in site-packages (the list of
# check-wheel-contents' W005).
_COMMON_TOP_LEVEL_NAMES = frozenset(
    {".eggs", ".nox", ".tox", ".venv", "app", "build", "cli", "data", "dist", "doc", "docs"}
    | {"example", "examples", "lib", "scripts", "src", "test", "tests", "venv"}
)

# Files the wheel spec requires in the .dist-info folder.
_REQUIRED_DIST_INFO = ("METADATA", "WHEEL", "RECORD")

# Signatures of RECORD: they exist only in signed wheels, and signing is not a
# property of the sources.
_UNCOMPARED_DIST_INFO = frozenset({"RECORD.jws", "RECORD.p7s"})

_LISTED = 3  # how many paths a one-line message names before "and N more"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks so a large wheel costs no memory."""
    with path.open("rb") as stream:
        return sha256_stream(stream)


def sha256_stream(stream: IO[bytes]) -> str:
    """Hex sha256 of what is left in a stream (an archive member), read in chunks."""
    digest = hashlib.sha256()
    while chunk := stream.read(_READ_SIZE):
        digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class Distribution:
    """The facts of one built file that the journal records and later steps compare.

    `name` and `version` come from the file name, normalised: that is what the
    index sees. `version_problems` checks them against the metadata inside.
    """

    path: Path
    kind: DistributionKind
    name: str
    version: str
    size: int
    sha256: str

    @classmethod
    def read(cls, path: Path) -> Distribution:
        """The facts of a built file; the hash is streamed, however large the file."""
        kind = _kind(path)
        name, version = _filename_identity(path, kind)
        return cls(path, kind, name, str(version), path.stat().st_size, sha256_file(path))


def metadata_version(path: Path) -> str:
    """The Version field of a wheel's METADATA or an sdist's top-level PKG-INFO, as written."""
    version = _metadata_headers(path)["Version"]
    if not version:
        raise StepFailed(f"{path.name}: {_metadata_file(_kind(path))} has no Version field")
    return str(version).strip()


def filename_problems(path: Path) -> list[str]:
    """Where the file name is not the one PyPI accepts for the name and version inside the file (the file
    itself is not named in the messages: each is shown as a finding of that file).

    PEP 625 names an sdist `{name}-{version}.tar.gz` and the binary distribution
    format starts a wheel's name with `{name}-{version}-`, the name normalised
    (lowercase, runs of `-_.` as one `_`) and the version normalised (PEP 440).
    A file whose metadata cannot be read is left to `version_problems`.
    """
    kind = _kind(path)
    try:
        headers = _metadata_headers(path)
        version = Version(str(headers["Version"] or "").strip())
    except (StepFailed, InvalidVersion):
        return []
    written_name = str(headers["Name"] or "").strip()
    if not written_name:
        return [f"{_metadata_file(kind)} has no Name field; PyPI refuses a file without a name"]
    name = canonicalize_name(written_name).replace("-", "_")
    if kind == "sdist":
        expected = f"{name}-{version}.tar.gz"
        if path.name == expected:
            return []
        return [
            f"PEP 625 names this sdist {expected!r}; "
            f'PyPI refuses it: "Filename {path.name!r} is invalid, should be {expected!r}."'
        ]
    named, _, rest = path.name.partition("-")
    named_version = rest.split("-", 1)[0]
    problems = []
    if named != name:
        problems.append(
            f"the wheel's name must start with the normalised project name {name!r}; PyPI refuses it: "
            f'"Filename {path.name!r} should contain the normalized project name {name!r}, not {named!r}."'
        )
    try:
        normalised = str(Version(named_version))
    except InvalidVersion:
        return problems  # the file name itself is refused by `version_problems`
    if named_version != normalised:
        problems.append(
            f"the version in the file name is {named_version!r}, "
            f"the binary distribution format wants it normalised: {normalised!r}"
        )
    return problems


def metadata_version_problems(path: Path) -> list[str]:
    """A Metadata-Version the installed twine cannot upload: twine validates with packaging, which knows a fixed list.

    A backend newer than twine writes a version twine refuses at upload, after the tag;
    found here, the fix is an upgrade, not a new release number.
    """
    kind = _kind(path)
    try:
        declared = str(_metadata_headers(path)["Metadata-Version"] or "").strip()
    except StepFailed:
        return []  # reported by `version_problems`
    if not declared:
        return [f"{_metadata_file(kind)} has no Metadata-Version field; twine and PyPI refuse it"]
    try:
        Metadata.from_raw({"metadata_version": declared, "name": "checked", "version": "0"})
    except (InvalidMetadata, ExceptionGroup):
        twine = _installed("twine")
        return [
            f"Metadata-Version {declared} is not one the installed twine {twine} "
            f"(packaging {_installed('packaging')}) can upload; upgrade them (`pip install -U twine packaging`) "
            "or build with a backend version that writes an older Metadata-Version"
        ]
    return []


def wheel_members(path: Path) -> list[str]:
    """The sorted paths of the files in a wheel (folder entries left out)."""
    try:
        with zipfile.ZipFile(path) as wheel:
            return sorted(name for name in wheel.namelist() if not name.endswith("/"))
    except (zipfile.BadZipFile, OSError) as error:
        raise StepFailed(f"cannot read {path.name} as a wheel: {error}") from error


def layout_problems(wheel: Path) -> list[str]:
    """What is wrong with the layout of a wheel, one line each.

    The checks of check-wheel-contents that catch real mistakes: bytecode,
    folders such as tests/ or src/ installed at the top of site-packages, an
    __init__.py there, a wheel that installs nothing; plus a sound .dist-info.
    """
    members = wheel_members(wheel)
    problems: list[str] = []
    dist_infos = sorted({_top(m) for m in members if _top(m).endswith(".dist-info")})
    if len(dist_infos) != 1:
        problems.append(f"{wheel.name} has {len(dist_infos)} .dist-info folders, expected exactly one")
    else:
        problems += [
            f"{wheel.name} lacks {dist_infos[0]}/{required}"
            for required in _REQUIRED_DIST_INFO
            if f"{dist_infos[0]}/{required}" not in members
        ]
    bytecode = [m for m in members if m.endswith((".pyc", ".pyo"))]
    if bytecode:
        problems.append(f"{wheel.name} contains compiled bytecode: {_listing(bytecode)}")
    library = [(member, path) for member in members if (path := _library_path(member)) is not None]
    for name in sorted({path.parts[0] for _, path in library} & _COMMON_TOP_LEVEL_NAMES):
        shipped = [member for member, path in library if path.parts[0] == name]
        problems.append(
            f"{wheel.name} installs a top-level {name!r} into site-packages, "
            f"where it clashes with other projects: {_listing(shipped)}"
        )
    problems += [
        f"{wheel.name} installs {member} at the top of site-packages"
        for member, path in library
        if path == PurePosixPath("__init__.py")
    ]
    if all(_top(m).endswith(".dist-info") for m in members):
        problems.append(f"{wheel.name} is empty: it has no files besides its .dist-info folder")
    elif not library:
        problems.append(f"{wheel.name} installs nothing into site-packages, only scripts or data")
    return problems


def version_problems(path: Path, release_version: str) -> list[str]:
    """Where the file name or the metadata of a file disagrees with the release version.

    Versions are compared as packaging Versions, so "1.0" equals "1.0.0", as on PyPI.
    """
    release = Version(release_version)
    kind = _kind(path)
    problems: list[str] = []
    _, named = _filename_identity(path, kind)
    if named != release:
        problems.append(f"{path.name}: the file name says version {named}, the release is {release}")
    source = _metadata_file(kind)
    try:
        written = metadata_version(path)
    except StepFailed as error:
        return [*problems, error.message]
    try:
        inside = Version(written)
    except InvalidVersion:
        problems.append(f"{path.name}: {source} has version {written!r}, which is not a valid version")
    else:
        if inside != release:
            problems.append(f"{path.name}: {source} says version {written}, the release is {release}")
    return problems


def compare_wheel_file_lists(released: Path, from_tree: Path) -> list[str]:
    """The files only one of two wheels holds: the released one (built from the sdist) and one built straight
    from the source tree.

    A file only in the wheel from the tree is one the sdist left out. The
    names of the .dist-info and .data folders are compared without their
    spelling (the name's normalisation may differ between backends' versions)
    and RECORD signatures are ignored; what every file holds (RECORD hashes,
    the WHEEL generator, timestamps) legitimately varies and is not compared.
    """
    ours = _comparable(wheel_members(released))
    theirs = _comparable(wheel_members(from_tree))
    return [
        f"{theirs[key]} is in a wheel built from the source tree but not in {released.name}: the sdist lacks it"
        for key in sorted(theirs.keys() - ours.keys())
    ] + [
        f"{ours[key]} is only in {released.name}, not in a wheel built from the source tree"
        for key in sorted(ours.keys() - theirs.keys())
    ]


def _kind(path: Path) -> DistributionKind:
    if path.name.endswith(".whl"):
        return "wheel"
    if path.name.endswith(".tar.gz"):
        return "sdist"
    raise StepFailed(f"{path.name} is neither a wheel (.whl) nor an sdist (.tar.gz)")


def _metadata_file(kind: DistributionKind) -> str:
    return "METADATA" if kind == "wheel" else "PKG-INFO"


def _filename_identity(path: Path, kind: DistributionKind) -> tuple[str, Version]:
    """The normalised project name and the version that the file name states."""
    try:
        if kind == "wheel":
            name, version, _, _ = parse_wheel_filename(path.name)
        else:
            name, version = parse_sdist_filename(path.name)
    except (InvalidWheelFilename, InvalidSdistFilename) as error:
        raise StepFailed(f"{path.name} is not a valid {kind} file name: {error}") from error
    return str(name), version


def _metadata_headers(path: Path) -> Message:
    """The headers of a wheel's METADATA or an sdist's top-level PKG-INFO."""
    data = _read_wheel_metadata(path) if _kind(path) == "wheel" else _read_sdist_pkg_info(path)
    return BytesHeaderParser().parsebytes(data)


def metadata_headers(path: Path) -> Message:
    """The headers of a wheel's METADATA or an sdist's top-level PKG-INFO (read bounded); StepFailed when the
    file has none that can be read."""
    return _metadata_headers(path)


def _installed(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


def _read_wheel_metadata(path: Path) -> bytes:
    try:
        with zipfile.ZipFile(path) as wheel:
            found = [
                name
                for name in wheel.namelist()
                if (parts := PurePosixPath(name).parts)[-1] == "METADATA"
                and len(parts) == 2
                and parts[0].endswith(".dist-info")
            ]
            if len(found) != 1:
                raise StepFailed(f"{path.name} has {len(found)} .dist-info/METADATA files, expected one")
            with wheel.open(found[0]) as stream:
                return _bounded(stream, path, "METADATA")
    except (zipfile.BadZipFile, zlib.error, OSError) as error:
        raise StepFailed(f"cannot read {path.name} as a wheel: {error}") from error


def _read_sdist_pkg_info(path: Path) -> bytes:
    """The PKG-INFO in the sdist's top folder (not one in an .egg-info folder deeper down)."""
    try:
        with tarfile.open(path, mode="r|gz") as sdist:
            for info in sdist:
                parts = PurePosixPath(info.name).parts
                if len(parts) == 2 and parts[1] == "PKG-INFO" and info.isfile():
                    stream = sdist.extractfile(info)
                    if stream is not None:
                        return _bounded(stream, path, "PKG-INFO")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise StepFailed(f"cannot read {path.name} as an sdist: {error}") from error
    raise StepFailed(f"{path.name} has no PKG-INFO in its top folder")


METADATA_LIMIT = 16 << 20
"""Bytes of METADATA or PKG-INFO read at most: real ones are a few KiB, a README included; one that
inflates to a GiB would otherwise be read whole into memory."""


def _bounded(stream: IO[bytes], path: Path, what: str) -> bytes:
    data = stream.read(METADATA_LIMIT + 1)
    if len(data) > METADATA_LIMIT:
        raise StepFailed(f"{path.name}: {what} is over {METADATA_LIMIT >> 20} MiB; not read")
    return data


def _top(member: str) -> str:
    return member.split("/", 1)[0]


def _library_path(member: str) -> PurePosixPath | None:
    """Where a member lands relative to site-packages, or None if it lands elsewhere."""
    parts = PurePosixPath(member).parts
    if parts[0].endswith(".dist-info"):
        return None
    if parts[0].endswith(".data"):
        if len(parts) > 2 and parts[1] in ("purelib", "platlib"):
            return PurePosixPath(*parts[2:])
        return None
    return PurePosixPath(member)


def _comparable(members: Iterable[str]) -> dict[str, str]:
    """Each member keyed by its path with the .dist-info/.data folder names made neutral."""
    keyed: dict[str, str] = {}
    for member in members:
        top, _, rest = member.partition("/")
        if top.endswith(".dist-info"):
            if rest in _UNCOMPARED_DIST_INFO:
                continue
            key = f"<dist-info>/{rest}"
        elif top.endswith(".data") and rest:
            key = f"<data>/{rest}"
        else:
            key = member
        keyed[key] = member
    return keyed


def _listing(paths: list[str]) -> str:
    shown = ", ".join(paths[:_LISTED])
    return shown if len(paths) <= _LISTED else f"{shown} and {len(paths) - _LISTED} more"
