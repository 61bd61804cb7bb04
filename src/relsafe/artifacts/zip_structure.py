"""The framing of a ZIP archive (a wheel): the records that PyPI reads before it accepts the file.

An installer that trusts the central directory (pip, zipfile) and one that
streams the local headers must see the same files; an archive where they can
differ hides files from a reviewer. Since 2026 PyPI refuses such archives
("ZIP archive not accepted: …"). This reads the raw records and names every
place they disagree, so the refusal comes before the tag, not at upload.
"""

from __future__ import annotations

import struct
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_LOCAL_SIGNATURE = b"PK\x03\x04"
_DESCRIPTOR_SIGNATURE = b"PK\x07\x08"
_END_SIGNATURE = b"PK\x05\x06"
_END_SIZE = 22
_MAX_COMMENT = 0xFFFF

_DESCRIPTOR_FLAG = 0x08  # sizes and CRC come after the data
_UTF8_FLAG = 0x800
_ZIP64_EXTRA, _UNICODE_PATH_EXTRA = 0x0001, 0x7075
_ZIP64_MARK = 0xFFFFFFFF
_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_UNPRINTABLE = frozenset(chr(code) for code in [*range(0x20), 0x7F])


@dataclass(frozen=True)
class ZipProblem:
    """One thing PyPI would refuse: the member it concerns ("" for the archive as a whole) and why."""

    member: str
    message: str


def _refused(member: str, what: str, reason: str) -> ZipProblem:
    """A problem ending in the words PyPI answers the upload with, so it reads as the refusal it prevents."""
    return ZipProblem(member, f'{what}; PyPI refuses it: "ZIP archive not accepted: {reason}"')


def structure_problems(path: Path) -> list[ZipProblem]:
    """Every disagreement between the central directory and the rest of the archive, one per problem.

    Duplicate names; a local header whose name, compression, sizes or CRC differ
    from its central directory entry; bytes before the first entry, between
    entries or after the end record; data descriptors, entry comments,
    compression other than stored or deflated, and unprintable names, which
    PyPI refuses as well.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
            directory_start: int = archive.start_dir
    except (zipfile.BadZipFile, OSError) as error:
        return [ZipProblem("", f"cannot be read as a ZIP archive: {error}")]
    problems = [
        _refused(name, f"the central directory lists it {count} times", "Duplicate filename in central directory")
        for name, count in Counter(entry.orig_filename for entry in entries).items()
        if count > 1
    ]
    problems += [problem for entry in entries for problem in _entry_problems(entry)]
    with path.open("rb") as stream:
        position = 0
        for entry in sorted(entries, key=lambda entry: entry.header_offset):
            if entry.header_offset != position:
                problems.append(_gap(position, entry.header_offset, entry.orig_filename))
            position = _local_header(stream, entry, problems)
        if position != directory_start:
            problems.append(_gap(position, directory_start, "the central directory"))
        problems += _trailing(stream, path.stat().st_size)
    return problems


def _entry_problems(entry: zipfile.ZipInfo) -> list[ZipProblem]:
    name, found = entry.orig_filename, []
    if entry.comment:
        found.append(_refused(name, "its central directory entry has a comment", "Comment in central directory"))
    if entry.compress_type not in _METHODS:
        found.append(
            ZipProblem(
                name,
                f"compressed with method {entry.compress_type}; PyPI refuses it: "
                '"File does not use a supported compression type" (only stored or deflated)',
            )
        )
    if _UNPRINTABLE & set(name):
        found.append(_refused(repr(name), "its name has a control character", "Invalid character in filename"))
    return found


def _gap(start: int, end: int, before: str) -> ZipProblem:
    if end < start:
        what = f"{before} starts at byte {end}, inside the entry before it (overlapping entries)"
    elif start == 0:
        what = f"{end} byte(s) come before the first entry (a prepended stub)"
    else:
        what = f"{end - start} byte(s) at offset {start} belong to no entry (before {before})"
    return _refused("", what, "Unknown record signature")


def _local_header(stream: BinaryIO, entry: zipfile.ZipInfo, problems: list[ZipProblem]) -> int:
    """Compare the entry's local header with its central directory entry; return where the entry ends."""
    name = entry.orig_filename
    stream.seek(entry.header_offset)
    fixed = stream.read(_LOCAL_HEADER.size)
    if len(fixed) < _LOCAL_HEADER.size or fixed[:4] != _LOCAL_SIGNATURE:
        problems.append(
            ZipProblem(name, f"no local header at offset {entry.header_offset}, where the central directory points")
        )
        return entry.header_offset
    _, _, flags, method, _, _, crc, compressed, size, name_length, extra_length = _LOCAL_HEADER.unpack(fixed)
    local_name = stream.read(name_length).decode("utf-8" if flags & _UTF8_FLAG else "cp437", errors="replace")
    extra = stream.read(extra_length)
    zip64, duplicated = _extras(extra)
    differences = []
    if local_name != name:
        differences.append(f"the name {local_name!r}")
    if method != entry.compress_type:
        differences.append(f"compression method {method} (central directory: {entry.compress_type})")
    if flags & _DESCRIPTOR_FLAG:
        what = "its sizes and CRC follow the data (a data descriptor)"
        problems.append(_refused(name, what, "ZIP contains a data descriptor"))
    else:
        if zip64 is not None:
            size = zip64[0] if size == _ZIP64_MARK else size
            compressed = zip64[1] if compressed == _ZIP64_MARK else compressed
        differences += [
            f"{what} {local} (central directory: {central})"
            for what, local, central in (
                ("CRC", f"{crc:08x}", f"{entry.CRC:08x}"),
                ("compressed size", compressed, entry.compress_size),
                ("size", size, entry.file_size),
            )
            if local != central
        ]
    if differences:
        reason = "Filename not in central directory" if local_name != name else "Mis-matched data size"
        what = "its local header disagrees with the central directory: " + ", ".join(differences)
        problems.append(_refused(name, what, reason))
    if duplicated:
        what = f"its local header repeats the extra field {duplicated}"
        problems.append(_refused(name, what, "Invalid duplicate extra in local file"))
    end: int = entry.header_offset + _LOCAL_HEADER.size + name_length + extra_length + entry.compress_size
    if flags & _DESCRIPTOR_FLAG:
        stream.seek(end)
        end += (4 if stream.read(4) == _DESCRIPTOR_SIGNATURE else 0) + (20 if zip64 is not None else 12)
    return end


def _extras(extra: bytes) -> tuple[tuple[int, int] | None, str]:
    """The ZIP64 sizes (size, compressed size) of a local header, if any, and an extra field given twice."""
    seen: set[int] = set()
    zip64: tuple[int, int] | None = None
    duplicated = ""
    while len(extra) >= 4:
        kind, length = struct.unpack("<HH", extra[:4])
        body, extra = extra[4 : 4 + length], extra[4 + length :]
        if kind in seen and kind in (_ZIP64_EXTRA, _UNICODE_PATH_EXTRA):
            duplicated = f"0x{kind:04x}"
        seen.add(kind)
        if kind == _ZIP64_EXTRA and len(body) >= 16:
            zip64 = struct.unpack("<QQ", body[:16])
    return zip64, duplicated


def _trailing(stream: BinaryIO, size: int) -> list[ZipProblem]:
    """Bytes after the end record and its comment: another archive concatenated, or a hidden payload."""
    start = max(0, size - _END_SIZE - _MAX_COMMENT - _END_SIZE)
    stream.seek(start)
    tail = stream.read()
    at = tail.rfind(_END_SIGNATURE)
    if at < 0 or at + _END_SIZE > len(tail):
        return []  # zipfile read the archive, so it found an end record; nothing more to say
    (comment_length,) = struct.unpack("<H", tail[at + 20 : at + 22])
    extra = len(tail) - (at + _END_SIZE + comment_length)
    if extra <= 0:
        return []
    return [_refused("", f"{extra} byte(s) follow the end of the archive", "Trailing data")]
