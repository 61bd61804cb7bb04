"""What an archive walk yields and reads through: members and the names of findings, and streams counted
against the distribution's bounds, replayable from their first bytes, sliced, spooled where a nested zip seeks."""

from __future__ import annotations

import io
import lzma
import re
import tarfile
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Protocol

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


class Budget:
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


class Counted:
    """A member's stream that charges every byte read to the budget (to the nested one as well inside a
    nested archive)."""

    def __init__(self, stream: Readable, budget: Budget, nested: bool = True) -> None:
        self._stream = stream
        self._budget = budget
        self._nested = nested

    def read(self, size: int = -1, /) -> bytes:
        data = self._stream.read(size)
        self._budget.take(len(data), self._nested)
        return data


class Replay:
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


class Stopped(Exception):
    """The walk ends: the distribution's bound in all is spent (after its finding), or the scan was stopped."""


def is_printable(data: bytes, run: int = 8) -> bool:
    """Holds `run` printable ASCII characters in a row: the least any secret needs."""
    return bool(re.search(rb"[\x20-\x7e]{%d}" % run, data))


def extra_member(name: str, data: bytes) -> Iterator[Member]:
    if is_printable(data):
        yield Member(name, io.BytesIO(data))


class Slice:
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


class Rest:
    """What a stream still holds, with the chunk already read before it."""

    def __init__(self, first: bytes, stream: Readable) -> None:
        self._pending, self._stream = first, stream

    def read(self, size: int = -1, /) -> bytes:
        size = 1 << 20 if size < 0 else size
        if self._pending:
            data, self._pending = self._pending[:size], self._pending[size:]
            return data
        return self._stream.read(size)


@contextmanager
def spooled(stream: Readable) -> Iterator[IO[bytes]]:
    """A nested zip's bytes where zipfile can seek in them."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        while chunk := stream.read(1 << 20):
            spool.write(chunk)
        spool.seek(0)
        yield spool
