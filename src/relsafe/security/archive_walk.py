"""Every member of a wheel or an sdist, and of the archives inside them, as a stream.

A secret packed into a fixture (a zip inside the wheel, a home folder's
tar.gz inside the sdist, a .gz log) ships just the same, so archives are
opened wherever they are, recognised by their first bytes rather than their
names: zip, tar, and gzip, bzip2 or xz streams (a tar.gz is a gzip stream
holding a tar). A nested member's path joins the container's path and its own
with "!/" (`tests/data/home.tgz!/.pypirc`), the form `[inspect] allow` takes.

Nesting is bounded in depth and in the bytes unpacked, so a zip bomb costs a
finding, not the machine. What cannot be read (a corrupt archive, a bad CRC,
an archive over the bounds) is reported as a finding of its own: the scan
fails closed. Members are streamed; only a nested zip, which needs to seek,
is spooled, in memory up to a few MiB and in a private temporary file beyond.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
import tempfile
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
    """The bytes still allowed to be unpacked from nested archives."""

    def __init__(self) -> None:
        self.left = NESTED_LIMIT

    def take(self, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise OverBudget


class OverBudget(Exception):
    """Reading on would unpack more than NESTED_LIMIT from nested archives."""


def reading_problem(error: BaseException) -> str:
    """The finding for a member whose bytes stopped with `error` part-way."""
    return TOO_LARGE if isinstance(error, OverBudget) else UNREADABLE


class _Counted:
    """A nested member's stream that charges every byte read to the budget."""

    def __init__(self, stream: Readable, budget: _Budget) -> None:
        self._stream = stream
        self._budget = budget

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        self._budget.take(len(data))
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


def walk(path: Path) -> Iterator[Member]:
    """Every non-folder member of the wheel (.whl) or sdist (.tar.gz) at `path`, nested ones included.

    An sdist's members are named without its top folder. A distribution that
    cannot be opened at all raises StepFailed.
    """
    budget = _Budget()
    try:
        if path.name.endswith(".whl"):
            with zipfile.ZipFile(path) as wheel:
                yield from _zip_members(wheel, "", 0, budget)
        elif path.name.endswith(".tar.gz"):
            # Stream mode reads the archive front to back and never seeks back,
            # which in a gzip stream would mean decompressing again from the start.
            with tarfile.open(path, mode="r|gz") as sdist:
                yield from _tar_members(sdist, "", 0, budget, strip_top=True)
        else:
            raise StepFailed(f"{path.name} is neither a wheel (.whl) nor an sdist (.tar.gz)")
    except READ_ERRORS as error:
        raise StepFailed(f"cannot read {path.name} to scan it for secrets: {error}") from error


def _zip_members(archive: zipfile.ZipFile, prefix: str, depth: int, budget: _Budget) -> Iterator[Member]:
    for entry in archive.infolist():
        if entry.is_dir():
            continue
        name = prefix + entry.filename
        try:
            stream = archive.open(entry)
        except READ_ERRORS:
            yield Member(name, None, UNREADABLE)
            continue
        with stream:
            yield from _member(name, stream, depth, budget)


def _tar_members(
    archive: tarfile.TarFile, prefix: str, depth: int, budget: _Budget, strip_top: bool = False
) -> Iterator[Member]:
    for info in archive:
        if info.isdir():
            continue
        parts = PurePosixPath(info.name).parts
        inner = "/".join(parts[1:]) if strip_top and len(parts) > 1 else info.name
        stream = archive.extractfile(info) if info.isfile() else None
        if stream is None:
            yield Member(prefix + inner, None)
        else:
            yield from _member(prefix + inner, stream, depth, budget)


def _member(name: str, stream: Readable, depth: int, budget: _Budget) -> Iterator[Member]:
    """The member itself, or, when it is an archive, what it holds."""
    try:
        replay = _Replay(stream)
    except (*READ_ERRORS, OverBudget) as error:
        yield Member(name, None, reading_problem(error))
        return
    yield from _recognised(name, replay, depth, budget)


def _recognised(name: str, replay: _Replay, depth: int, budget: _Budget) -> Iterator[Member]:
    """A leaf is read as it is, charged to the budget when it comes out of a nested archive; an archive is
    opened, unless it is too deep or the budget is spent."""
    kind = _container(replay.head, name)
    leaf: Readable = _Counted(replay, budget) if depth else replay
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


def _opened(name: str, kind: str, replay: _Replay, depth: int, budget: _Budget) -> Iterator[Member]:
    """What the archive `name` holds; a compressed tar (.tar.gz, .tgz, .tar.xz) is one level, not two.

    Bytes are charged to the budget once: a nested zip as it is spooled, a leaf as it is read; the
    stream of a tar is not charged apart from its members."""
    inside = f"{name}!/"
    if kind == "zip":
        with _spooled(_Counted(replay, budget)) as spool, zipfile.ZipFile(spool) as nested:
            yield from _zip_members(nested, inside, depth, budget)
        return
    if kind != "tar":
        unpacked = _Replay(_decompressed(kind, replay))
        if _container(unpacked.head) != "tar":
            yield from _recognised(inside + _unpacked_name(name), unpacked, depth, budget)
            return
        replay = unpacked
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
        return gzip.GzipFile(fileobj=fileobj, mode="rb")
    if kind == "bzip2":
        return bz2.BZ2File(fileobj)
    return lzma.LZMAFile(fileobj)


@contextmanager
def _spooled(stream: Readable) -> Iterator[IO[bytes]]:
    """A nested zip's bytes where zipfile can seek in them."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        while chunk := stream.read(1 << 20):
            spool.write(chunk)
        spool.seek(0)
        yield spool
