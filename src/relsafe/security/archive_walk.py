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
import re
import struct
import tarfile
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Protocol, cast

from relsafe.core.errors import StepFailed

MAX_DEPTH = 4
"""Archives inside archives inside the distribution, at most."""

NESTED_LIMIT = 1 << 30
"""Bytes unpacked from nested archives, per distribution; a zip bomb stops here."""

TOTAL_FLOOR = 256 << 20
TOTAL_RATIO = 32
"""Bytes read from one distribution in all, nested or not: TOTAL_RATIO times its size, and at least
TOTAL_FLOOR. Real wheels unpack to 2 to 10 times their size; a 1 MB wheel whose METADATA inflates to
1 GiB stops after 256 MiB."""

SPOOL_IN_MEMORY = 8 << 20
"""A nested zip up to this size is held in memory to be opened; a larger one goes to a temporary file."""

HEAD_SIZE = 512
"""Bytes read ahead of a member to recognise an archive (a tar header is 512 bytes)."""

READ_ERRORS = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    zlib.error,
    lzma.LZMAError,
    OSError,
    ValueError,
    RuntimeError,
    NotImplementedError,
)
"""What reading a damaged or unreadable archive raises: a bad CRC is a BadZipFile, a truncated gzip an
EOFError, an encrypted zip member a RuntimeError, an unknown compression method a NotImplementedError."""

UNREADABLE = "archive or member that cannot be read to the end (scan incomplete)"
AFTER_END = "data after the end of the archive or stream (no installer reads it; scanned)"
OVERLAPPING = "central directory entry that overlaps or repeats another (its data is read once)"
OVER_TOTAL = "distribution unpacks to more than its bound (scan stopped)"

ARCHIVE_COMMENT = "[archive comment]"
COMMENT = " [comment]"
EXTRA_FIELD = " [extra field]"
OUTSIDE_MEMBERS = "[bytes outside any member]"
AFTER_THE_END = "[after the end]"
HEADER = " [header]"
GZIP_HEADER = "[gzip header]"
"""Names of what an archive carries besides its members, shown after the container's path."""
TOO_DEEP = f"archive nested more than {MAX_DEPTH} deep (not scanned inside)"
TOO_LARGE = f"nested archives over {NESTED_LIMIT >> 20} MiB unpacked (not scanned inside)"


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass
class Member:
    """A file inside the distribution: its path, its bytes to read, and what the walk itself found."""

    path: str
    stream: Readable | None
    """None for what is not a regular file (a link, a device) and for a container already walked."""
    problem: str | None = None


class _Budget:
    """The bytes still allowed to be unpacked from nested archives, and to be read in all."""

    def __init__(self, total: int = TOTAL_FLOOR, stop: threading.Event | None = None) -> None:
        self.left = NESTED_LIMIT
        self.total_left = total
        self._stop = stop

    def take(self, size: int, nested: bool = True) -> None:
        if self._stop is not None and self._stop.is_set():
            raise Stopped
        self.total_left -= size
        if self.total_left < 0:
            raise OverTotal
        if nested:
            self.left -= size
            if self.left < 0:
                raise OverBudget


class OverBudget(Exception):
    """Reading on would unpack more than NESTED_LIMIT from nested archives."""


class OverTotal(OverBudget):
    """Reading on would read more than the distribution's bound in all."""


def reading_problem(error: BaseException) -> str:
    """The finding for a member whose bytes stopped with `error` part-way."""
    if isinstance(error, OverTotal):
        return OVER_TOTAL
    return TOO_LARGE if isinstance(error, OverBudget) else UNREADABLE


class _Counted:
    """A member's stream that charges every byte read to the budget (to the nested one as well inside a
    nested archive)."""

    def __init__(self, stream: Readable, budget: _Budget, nested: bool = True) -> None:
        self._stream = stream
        self._budget = budget
        self._nested = nested

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        self._budget.take(len(data), self._nested)
        return data


class _Replay:
    """A stream whose first bytes were read to recognise it, served again before the rest."""

    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        head = b""
        while len(head) < HEAD_SIZE and (more := stream.read(HEAD_SIZE - len(head))):
            head += more
        self.head = head
        self._pending = head

    def read(self, size: int = -1, /) -> bytes:
        if not self._pending:
            return self._stream.read(size)
        if size < 0:
            data, self._pending = self._pending + self._stream.read(), b""
            return data
        data, self._pending = self._pending[:size], self._pending[size:]
        if len(data) < size:
            data += self._stream.read(size - len(data))
        return data

    def readable(self) -> bool:
        return True


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
    budget = _Budget(max(TOTAL_FLOOR, TOTAL_RATIO * size), stop)
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


class Stopped(Exception):
    """The walk ends: the distribution's bound in all is spent (after its finding), or the scan was stopped."""


def _printable(data: bytes, run: int = 8) -> bool:
    """Holds `run` printable ASCII characters in a row: the least any secret needs."""
    return bool(re.search(rb"[\x20-\x7e]{%d}" % run, data))


def _extra(name: str, data: bytes) -> Iterator[Member]:
    if _printable(data):
        yield Member(name, io.BytesIO(data))


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


class _Slice:
    """Bytes `start` to `stop` of a seekable file, read in order (the file's position is restored each time,
    as zipfile shares it)."""

    def __init__(self, raw: IO[bytes], start: int, stop: int) -> None:
        self._raw, self._at, self._stop = raw, start, stop

    def read(self, size: int = -1, /) -> bytes:
        size = self._stop - self._at if size < 0 else min(size, self._stop - self._at)
        if size <= 0:
            return b""
        self._raw.seek(self._at)
        data = self._raw.read(size)
        self._at += len(data)
        return data


def _zip_members(
    archive: zipfile.ZipFile, raw: IO[bytes], prefix: str, depth: int, budget: _Budget
) -> Iterator[Member]:
    """The entries in the order of their data, each read once; then what the zip carries besides them."""
    if archive.comment:
        yield from _extra(prefix + ARCHIVE_COMMENT, archive.comment)
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
        yield from _extra(name + COMMENT, entry.comment)
        yield from _extra(name + EXTRA_FIELD, entry.extra + local_extra)
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
            yield Member(prefix + OUTSIDE_MEMBERS, _Counted(_Slice(raw, start, stop), budget, bool(depth)))
    end = _archive_end(raw)
    size = raw.seek(0, io.SEEK_END)
    if size > end:
        yield Member(prefix + AFTER_THE_END, _Counted(_Slice(raw, end, size), budget, bool(depth)), AFTER_END)


def _tar_members(
    archive: tarfile.TarFile, prefix: str, depth: int, budget: _Budget, strip_top: bool = False
) -> Iterator[Member]:
    for info in archive:
        parts = PurePosixPath(info.name).parts
        inner = "/".join(parts[1:]) if strip_top and len(parts) > 1 else info.name
        own = {key: value for key, value in info.pax_headers.items() if archive.pax_headers.get(key) != value}
        header = _header_text({**own, "linkname": info.linkname})
        yield from _extra(prefix + inner + HEADER, header)
        if info.isdir():
            continue
        stream = archive.extractfile(info) if info.isfile() else None
        if stream is None:
            yield Member(prefix + inner, None)
        else:
            yield from _member(prefix + inner, stream, depth, budget)
    if archive.pax_headers:  # read with the first member, in stream mode
        yield from _extra(prefix + "[pax global header]", _header_text(dict(archive.pax_headers)))
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


class _Rest:
    """What a stream still holds, with the chunk already read before it."""

    def __init__(self, first: bytes, stream: Readable) -> None:
        self._pending, self._stream = first, stream

    def read(self, size: int = -1, /) -> bytes:
        size = 1 << 20 if size < 0 else size
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        return self._stream.read(size)


def _after_tar(archive: tarfile.TarFile, prefix: str, depth: int, budget: _Budget) -> Iterator[Member]:
    """The end-of-archive blocks and the record's padding are zeros; anything else after them (another
    member, a payload) is a finding, and is scanned."""
    stream = cast(Readable, archive.fileobj)
    while chunk := stream.read(1 << 16):
        budget.take(len(chunk), bool(depth))
        if chunk.strip(b"\0"):
            rest = _Counted(_Rest(chunk.lstrip(b"\0"), stream), budget, bool(depth))
            yield Member(prefix + AFTER_THE_END, rest, AFTER_END)
            return


def _member(name: str, stream: Readable, depth: int, budget: _Budget) -> Iterator[Member]:
    """The member itself, or, when it is an archive, what it holds."""
    try:
        replay = _Replay(stream)
    except (*READ_ERRORS, OverBudget) as error:
        yield Member(name, None, reading_problem(error))
        if isinstance(error, OverTotal):
            raise Stopped from error
        return
    yield from _recognised(name, replay, depth, budget)


def _recognised(name: str, replay: _Replay, depth: int, budget: _Budget) -> Iterator[Member]:
    """A leaf is read as it is, charged to the budget; an archive is opened, unless it is too deep or the
    budget is spent."""
    kind = _container(replay.head, name)
    leaf: Readable = _Counted(replay, budget, bool(depth))
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


def _opened(name: str, kind: str, replay: _Replay, depth: int, budget: _Budget) -> Iterator[Member]:
    """What the archive `name` holds; a compressed tar (.tar.gz, .tgz, .tar.xz) is one level, not two.

    Bytes are charged to the budget once: a nested zip as it is spooled, a leaf as it is read; the
    stream of a tar is not charged apart from its members."""
    inside = f"{name}!/"
    if kind == "zip":
        with _spooled(_Counted(replay, budget)) as spool, zipfile.ZipFile(spool) as nested:
            yield from _zip_members(nested, spool, inside, depth, budget)
        return
    gzip_stream: GzipStream | None = None
    if kind != "tar":
        decompressed = _decompressed(kind, replay)
        if isinstance(decompressed, GzipStream):
            gzip_stream = decompressed
            yield from gzip_stream.header_members(inside)
        unpacked = _Replay(decompressed)
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


def _decompressed(kind: str, stream: _Replay) -> Readable:
    fileobj = cast(IO[bytes], stream)
    if kind == "gzip":
        return GzipStream(stream)
    if kind == "bzip2":
        return bz2.BZ2File(fileobj)
    return lzma.LZMAFile(fileobj)


_FTEXT, _FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 1, 2, 4, 8, 16


class GzipStream:
    """The first member of a gzip stream, inflated; its header's free fields (name, comment, extra) kept,
    its CRC and length checked, and whatever follows it (a second member, other bytes) kept apart.

    gzip.GzipFile would join concatenated members silently and skip the header's fields; tarfile's own
    reader would drop everything after the first member."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        fixed = self._exactly(10)
        if fixed[:3] != b"\x1f\x8b\x08":
            raise OSError("not a gzip stream")
        flags = fixed[3]
        self.fields: list[bytes] = []
        if flags & _FEXTRA:
            (length,) = struct.unpack("<H", self._exactly(2))
            self.fields.append(self._exactly(length))
        if flags & _FNAME:
            self.fields.append(self._zero_terminated())
        if flags & _FCOMMENT:
            self.fields.append(self._zero_terminated())
        if flags & _FHCRC:
            self._exactly(2)
        self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self._crc = 0
        self._size = 0
        self.after = b""  # the first bytes after the member's trailer, once the member is read
        self._done = False

    def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count and (more := self._raw.read(count - len(data))):
            data += more
        if len(data) < count:
            raise EOFError("gzip stream ends inside its header")
        return data

    def _zero_terminated(self) -> bytes:
        field = bytearray()
        while (byte := self._exactly(1)) != b"\0":
            field += byte
            if len(field) > 1 << 20:
                raise OSError("gzip header field over 1 MiB")
        return bytes(field)

    def header_members(self, inside: str) -> Iterator[Member]:
        """The header's name, comment and extra field, to be scanned (a long file name included)."""
        if any(len(field) >= 16 for field in self.fields):
            yield from _extra(inside + GZIP_HEADER, b"\n".join(self.fields))

    def read(self, size: int = -1, /) -> bytes:
        wanted = 1 << 20 if size < 0 else size
        out = b""
        while not self._done and len(out) < wanted:
            compressed = self._inflater.unconsumed_tail or self._raw.read(1 << 16)
            if not compressed:
                raise EOFError("gzip stream ends before its end marker")
            data = self._inflater.decompress(compressed, wanted - len(out))
            self._crc = zlib.crc32(data, self._crc)
            self._size += len(data)
            out += data
            if self._inflater.eof:
                self._finish()
        return out

    def _finish(self) -> None:
        self._done = True
        trailer = self._inflater.unused_data
        while len(trailer) < 8 and (more := self._raw.read(8 - len(trailer))):
            trailer += more
        if len(trailer) < 8:
            raise EOFError("gzip stream ends inside its trailer")
        crc, size = struct.unpack("<II", trailer[:8])
        if crc != self._crc or size != self._size & 0xFFFFFFFF:
            raise zlib.error("gzip CRC or length does not match the data")
        self.after = trailer[8:]

    def trailing_members(self, inside: str, budget: _Budget, depth: int) -> Iterator[Member]:
        """What follows the member's end, read on to its end: a finding, scanned (inflated when it is
        another gzip member)."""
        while not self._done and self.read(1 << 20):
            pass
        first = self.after or self._raw.read(1 << 16)
        if not first:
            return
        rest: Readable = _Rest(first, self._raw)
        if first.startswith(b"\x1f\x8b\x08"):
            try:
                rest = GzipStream(rest)
            except (*READ_ERRORS, EOFError):
                rest = _Rest(first, self._raw)
        yield Member(inside + AFTER_THE_END, _Counted(rest, budget, bool(depth)), AFTER_END)


@contextmanager
def _spooled(stream: Readable) -> Iterator[IO[bytes]]:
    """A nested zip's bytes where zipfile can seek in them."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        while chunk := stream.read(1 << 20):
            spool.write(chunk)
        spool.seek(0)
        yield spool
