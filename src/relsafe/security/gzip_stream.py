"""A gzip stream read to its end and beyond: header fields, concatenated members and trailing bytes."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from relsafe.security.archive_streams import (
    AFTER_END,
    AFTER_THE_END,
    GZIP_HEADER,
    READ_ERRORS,
    Budget,
    Counted,
    Member,
    Readable,
    Rest,
    extra_member,
)

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
            yield from extra_member(inside + GZIP_HEADER, b"\n".join(self.fields))

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

    def trailing_members(self, inside: str, budget: Budget, depth: int) -> Iterator[Member]:
        """What follows the member's end, read on to its end: a finding, scanned (inflated when it is
        another gzip member)."""
        while not self._done and self.read(1 << 20):
            pass
        first = self.after or self._raw.read(1 << 16)
        if not first:
            return
        rest: Readable = Rest(first, self._raw)
        if first.startswith(b"\x1f\x8b\x08"):
            try:
                rest = GzipStream(rest)
            except (*READ_ERRORS, EOFError):
                rest = Rest(first, self._raw)
        yield Member(inside + AFTER_THE_END, Counted(rest, budget, bool(depth)), AFTER_END)
