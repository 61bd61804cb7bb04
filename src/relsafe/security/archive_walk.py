"""Every member of a wheel or an sdist, and of the archives inside them, as a stream.

A secret packed into a fixture (a zip inside the wheel, a home folder's
tar.gz inside the sdist, a .gz log) ships just the same, so archives are
opened wherever they are, recognised by their first bytes rather than their
names: zip, tar, and gzip, bzip2 or xz streams (a tar.gz is a gzip stream
holding a tar). A nested member's path joins the container's path and its own
with "!/" (`tests/data/home.tgz!/.pypirc`), the form `[inspect] allow` takes.

Every byte a file carries is read, not only its members: a zip's archive
comment, each entry's comment and extra fields (central and local), bytes
that belong to no entry; a tar's pax headers (and link and owner names); a
gzip header's name, comment and extra field. Anything after the end of an
archive or a stream (bytes after a zip's end record, a tar member after the
end-of-archive blocks, a second gzip member or bytes after the gzip stream)
is a finding of its own, since no installer reads it, and is scanned too.
Duplicate or overlapping central-directory entries are a finding, and their
data is read once.

Nesting is bounded in depth and in the bytes unpacked, and the bytes read from
one distribution in all are bounded too, so a zip bomb costs a finding, not
the machine. What cannot be read (a corrupt archive, a bad CRC,
an archive over the bounds) is reported as a finding of its own: the scan
fails closed. Members are streamed; only a nested zip, which needs to seek,
is spooled, in memory up to a few MiB and in a private temporary file beyond.
"""

from __future__ import annotations

import bz2
import io
import lzma
import struct
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, cast

from relsafe.core.errors import StepFailed
from relsafe.security.archive_streams import (
    AFTER_END,
    AFTER_THE_END,
    ARCHIVE_COMMENT,
    COMMENT,
    EXTRA_FIELD,
    HEADER,
    MAX_DEPTH,
    OUTSIDE_MEMBERS,
    OVER_TOTAL,
    OVERLAPPING,
    READ_ERRORS,
    TOO_DEEP,
    TOO_LARGE,
    TOTAL_FLOOR,
    TOTAL_RATIO,
    UNREADABLE,
    Budget,
    Counted,
    Member,
    OverBudget,
    OverTotal,
    Readable,
    Replay,
    Rest,
    Slice,
    Stopped,
    extra_member,
    reading_problem,
    spooled,
)
from relsafe.security.gzip_stream import GzipStream

ZIP_NAMES = (".zip", ".pyz", ".pyzw", ".whl", ".egg", ".jar")
"""Names of zips that may start with something else: a zipapp's shebang line, a self-extracting stub."""


def _container(head: bytes, name: str = "") -> str | None:
    """What kind of archive or compressed stream these first bytes (or, for a zip, the name) open, if any.

    zipfile finds a zip by the directory at its end, so a zip behind a shebang line or a stub is
    recognised by its name and opened all the same."""
    if head.startswith(b"PK\x03\x04") or name.lower().endswith(ZIP_NAMES):
        return "zip"
    if head.startswith(b"\x1f\x8b\x08"):
        return "gzip"
    if head[:3] == b"BZh" and head[3:4].isdigit() and head[4:10] in (b"1AY&SY", b"\x17rE8P\x90"):
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head[257:262] == b"ustar":
        return "tar"
    return None


def walk(path: Path, stop: threading.Event | None = None) -> Iterator[Member]:
    """Every non-folder member of the wheel (.whl) or sdist (.tar.gz) at `path`, nested ones included, and
    what the archives carry besides their members.

    An sdist's members are named without its top folder. A distribution that
    cannot be opened at all raises StepFailed. The walk stops, with a finding,
    once it has read more than the distribution's bound in all, and within a
    chunk of `stop` being set.
    """
    size = path.stat().st_size if path.exists() else 0
    budget = Budget(max(TOTAL_FLOOR, TOTAL_RATIO * size), stop)
    try:
        if path.name.endswith(".whl"):
            with path.open("rb") as raw, zipfile.ZipFile(raw) as wheel:
                yield from _zip_members(wheel, raw, "", 0, budget)
        elif path.name.endswith(".tar.gz"):
            # Stream mode reads the archive front to back and never seeks back,
            # which in a gzip stream would mean decompressing again from the start.
            with path.open("rb") as raw:
                stream = GzipStream(raw)
                yield from stream.header_members("")
                with tarfile.open(fileobj=cast(IO[bytes], stream), mode="r|") as sdist:
                    yield from _tar_members(sdist, "", 0, budget, strip_top=True)
                yield from stream.trailing_members("", budget, 0)
        else:
            raise StepFailed(f"{path.name} is neither a wheel (.whl) nor an sdist (.tar.gz)")
    except Stopped:
        return
    except READ_ERRORS as error:
        raise StepFailed(f"cannot read {path.name} to scan it for secrets: {error}") from error


_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_END_RECORD = b"PK\x05\x06"


def _local_extent(raw: IO[bytes], entry: zipfile.ZipInfo) -> tuple[int, bytes]:
    """Where the entry's data ends and its local header's extra field (what zipfile never shows)."""
    raw.seek(entry.header_offset)
    fixed = raw.read(_LOCAL.size)
    if len(fixed) < _LOCAL.size or fixed[:4] != b"PK\x03\x04":
        return entry.header_offset + _LOCAL.size, b""
    name_length, extra_length = _LOCAL.unpack(fixed)[-2:]
    raw.seek(name_length, io.SEEK_CUR)
    extra = raw.read(extra_length)
    return entry.header_offset + _LOCAL.size + name_length + extra_length + entry.compress_size, extra


def _archive_end(raw: IO[bytes]) -> int:
    """Where the end record and its comment end: what follows belongs to no zip."""
    size = int(raw.seek(0, io.SEEK_END))
    start = max(0, size - 22 - 0xFFFF - 22)
    raw.seek(start)
    tail = raw.read()
    at = tail.rfind(_END_RECORD)
    if at < 0 or at + 22 > len(tail):
        return size
    (comment_length,) = struct.unpack("<H", tail[at + 20 : at + 22])
    return int(min(size, start + at + 22 + comment_length))


def _zip_members(archive: zipfile.ZipFile, raw: IO[bytes], prefix: str, depth: int, budget: Budget) -> Iterator[Member]:
    """The entries in the order of their data, each read once; then what the zip carries besides them."""
    if archive.comment:
        yield from extra_member(prefix + ARCHIVE_COMMENT, archive.comment)
    entries = sorted(archive.infolist(), key=lambda entry: entry.header_offset)
    directory_start: int = archive.start_dir
    covered = 0  # where the last entry read ends
    gaps: list[tuple[int, int]] = []
    for entry in entries:
        name = prefix + entry.filename
        end, local_extra = _local_extent(raw, entry)
        if entry.header_offset < covered:
            yield Member(name, None, OVERLAPPING)
            continue
        if entry.header_offset > covered:
            gaps.append((covered, entry.header_offset))
        covered = end
        yield from extra_member(name + COMMENT, entry.comment)
        yield from extra_member(name + EXTRA_FIELD, entry.extra + local_extra)
        if entry.is_dir() and not entry.file_size:
            continue
        try:
            stream = archive.open(entry)
        except READ_ERRORS:
            yield Member(name, None, UNREADABLE)
            continue
        with stream:
            yield from _member(name, stream, depth, budget)
    if directory_start > covered:
        gaps.append((covered, directory_start))
    for start, stop in gaps:
        if start < stop:
            yield Member(prefix + OUTSIDE_MEMBERS, Counted(Slice(raw, start, stop), budget, bool(depth)))
    end = _archive_end(raw)
    size = raw.seek(0, io.SEEK_END)
    if size > end:
        yield Member(prefix + AFTER_THE_END, Counted(Slice(raw, end, size), budget, bool(depth)), AFTER_END)


def _tar_members(
    archive: tarfile.TarFile, prefix: str, depth: int, budget: Budget, strip_top: bool = False
) -> Iterator[Member]:
    for info in archive:
        parts = PurePosixPath(info.name).parts
        inner = "/".join(parts[1:]) if strip_top and len(parts) > 1 else info.name
        own = {key: value for key, value in info.pax_headers.items() if archive.pax_headers.get(key) != value}
        header = _header_text({**own, "linkname": info.linkname})
        yield from extra_member(prefix + inner + HEADER, header)
        if info.isdir():
            continue
        stream = archive.extractfile(info) if info.isfile() else None
        if stream is None:
            yield Member(prefix + inner, None)
        else:
            yield from _member(prefix + inner, stream, depth, budget)
    if archive.pax_headers:  # read with the first member, in stream mode
        yield from extra_member(prefix + "[pax global header]", _header_text(dict(archive.pax_headers)))
    yield from _after_tar(archive, prefix, depth, budget)


_PAX_OWN = frozenset({"path", "size", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname"})


def _header_text(fields: dict[str, str]) -> bytes:
    """A tar header's free-text fields (pax records, a link's target) as `key=value` lines; the member's
    own path, size, times and short owner names are left out."""
    lines = [
        f"{key}={value}"
        for key, value in fields.items()
        if value and (key not in _PAX_OWN or (key in ("uname", "gname") and len(value) >= 16))
    ]
    return "\n".join(lines).encode("utf-8", "surrogateescape")


def _after_tar(archive: tarfile.TarFile, prefix: str, depth: int, budget: Budget) -> Iterator[Member]:
    """The end-of-archive blocks and the record's padding are zeros; anything else after them (another
    member, a payload) is a finding, and is scanned."""
    stream = cast(Readable, archive.fileobj)
    while chunk := stream.read(1 << 16):
        budget.take(len(chunk), bool(depth))
        if chunk.strip(b"\0"):
            rest = Counted(Rest(chunk.lstrip(b"\0"), stream), budget, bool(depth))
            yield Member(prefix + AFTER_THE_END, rest, AFTER_END)
            return


def _member(name: str, stream: Readable, depth: int, budget: Budget) -> Iterator[Member]:
    """The member itself, or, when it is an archive, what it holds."""
    try:
        replay = Replay(stream)
    except (*READ_ERRORS, OverBudget) as error:
        yield Member(name, None, reading_problem(error))
        if isinstance(error, OverTotal):
            raise Stopped from error
        return
    yield from _recognised(name, replay, depth, budget)


def _recognised(name: str, replay: Replay, depth: int, budget: Budget) -> Iterator[Member]:
    """A leaf is read as it is, charged to the budget; an archive is opened, unless it is too deep or the
    budget is spent."""
    kind = _container(replay.head, name)
    leaf: Readable = Counted(replay, budget, bool(depth))
    if kind is None:
        yield Member(name, leaf)
    elif depth >= MAX_DEPTH:
        yield Member(name, leaf, TOO_DEEP)
    elif budget.left <= 0:
        yield Member(name, None, TOO_LARGE)
    else:
        try:
            yield from _opened(name, kind, replay, depth + 1, budget)
        except (*READ_ERRORS, OverBudget) as error:
            yield Member(name, None, reading_problem(error))
            if isinstance(error, OverTotal):
                raise Stopped from error
    if budget.total_left <= 0:
        yield Member(name, None, OVER_TOTAL)
        raise Stopped


def _opened(name: str, kind: str, replay: Replay, depth: int, budget: Budget) -> Iterator[Member]:
    """What the archive `name` holds; a compressed tar (.tar.gz, .tgz, .tar.xz) is one level, not two.

    Bytes are charged to the budget once: a nested zip as it is spooled, a leaf as it is read; the
    stream of a tar is not charged apart from its members."""
    inside = f"{name}!/"
    if kind == "zip":
        with spooled(Counted(replay, budget)) as spool, zipfile.ZipFile(spool) as nested:
            yield from _zip_members(nested, spool, inside, depth, budget)
        return
    gzip_stream: GzipStream | None = None
    if kind != "tar":
        decompressed = _decompressed(kind, replay)
        if isinstance(decompressed, GzipStream):
            gzip_stream = decompressed
            yield from gzip_stream.header_members(inside)
        unpacked = Replay(decompressed)
        if _container(unpacked.head) != "tar":
            yield from _recognised(inside + _unpacked_name(name), unpacked, depth, budget)
        else:
            with tarfile.open(fileobj=cast(IO[bytes], unpacked), mode="r|") as nested_tar:
                yield from _tar_members(nested_tar, inside, depth, budget)
        if gzip_stream is not None:
            yield from gzip_stream.trailing_members(inside, budget, depth)
        return
    with tarfile.open(fileobj=cast(IO[bytes], replay), mode="r|") as nested_tar:
        yield from _tar_members(nested_tar, inside, depth, budget)


def _unpacked_name(name: str) -> str:
    """`log.txt.gz` holds `log.txt`; a `.tgz` holds a `.tar`."""
    stem = PurePosixPath(name).name
    for suffix, replacement in ((".tgz", ".tar"), (".gz", ""), (".bz2", ""), (".xz", "")):
        if stem.lower().endswith(suffix):
            return stem[: -len(suffix)] + replacement
    return stem


def _decompressed(kind: str, stream: Replay) -> Readable:
    fileobj = cast(IO[bytes], stream)
    if kind == "gzip":
        return GzipStream(stream)
    if kind == "bzip2":
        return bz2.BZ2File(fileobj)
    return lzma.LZMAFile(fileobj)
