"""Finds secrets inside built distributions before they are uploaded.

Real leaks reached PyPI through .pypirc, .env and stale .pyc files shipped in
sdists and through tokens pasted into fixtures; no packaging tool looks inside
the built files for them. Every member of a wheel or an sdist, and of the
archives inside them (archive_walk), is read as a stream in chunks, so a large
file costs no memory; what counts as a secret is in secret_rules.

Public data is not a secret: a .pem CA bundle (certifi ships one) and a .env
template with empty or harmless values are passed on their content, read up
to a bound.

Text in UTF-16 or UTF-32 (a PowerShell 5 script, a Windows resource file),
recognised by its byte-order mark or its pattern of NUL bytes, is decoded and
scanned as well as its raw bytes. Member names are shown with control
characters escaped, so a name cannot move the cursor or recolour a terminal.
Ctrl-C and SIGTERM end a scan within a chunk's time: a scan in the main thread
sees the KeyboardInterrupt, and `stopping_on_exit` stops the scans running in
worker threads when the block that started them ends with an error.
"""

from __future__ import annotations

import codecs
import contextlib
import queue
import re
import threading
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TypeAlias

from relsafe.core.redaction import DEFAULT_REDACTOR
from relsafe.security.archive_streams import READ_ERRORS, OverBudget, Stopped, reading_problem
from relsafe.security.archive_walk import walk
from relsafe.security.content_rule import MAX_LOOKBEHIND, MAX_MATCH
from relsafe.security.secret_rules import (
    KINDS,
    PUBLIC_CONTENT,
    content_kinds,
    name_kinds,
)
from relsafe.tools import process

CHUNK_SIZE = 1 << 20
"""Bytes read from a member at a time."""

READ_AHEAD = 4
"""Chunks the reading thread may hold ready: memory stays within a few MiB."""

OVERLAP = MAX_MATCH + MAX_LOOKBEHIND
"""Bytes each buffer shares with the next: the longest span a match and its lookbehind read, so a
token cut by a chunk boundary is whole, with its context, in one buffer."""

PUBLIC_LIMIT = CHUNK_SIZE
"""Bytes of a member a name rule reads to see it holds public data only (certifi's
bundle is under 300 KiB). A longer member stays a finding: the decision fails closed."""


@dataclass(frozen=True)
class SecretFinding:
    """One kind of secret in one member: where it is, never the secret itself.

    `member` is the path inside the archive without an sdist's top folder,
    the same form `[inspect] allow` takes, so a reviewed finding can be copied
    into the allow list as it is.
    """

    archive: str
    member: str
    kind: str
    confidence: str = field(default="high", compare=False)
    """`high` for a token with its provider's own prefix, a file secret by name, or what the walk found;
    `medium` for a value recognised by a keyword beside it, or a password in a URL."""

    def __str__(self) -> str:
        return f"{self.archive}: {self.member}: {self.kind}"


class ScanStopped(Exception):
    """The scan was stopped (Ctrl-C or SIGTERM in the thread that started it)."""


_stop_all = threading.Event()


@contextlib.contextmanager
def stopping_on_exit() -> Iterator[None]:
    """Scans running in worker threads stop within a chunk when the block ends with an exception (Ctrl-C,
    SIGTERM), instead of running on while the thread pool waits for them."""
    _stop_all.clear()
    try:
        yield
    except KeyboardInterrupt:  # the run is over: its commands (twine check beside the scan) end too
        _stop_all.set()
        process.stop_all()
        raise
    except BaseException:
        _stop_all.set()
        raise


def _stopping() -> bool:
    """A block using stopping_on_exit ended with an error, or the run was stopped (process.stop_all)."""
    return _stop_all.is_set() or process.interrupted()


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def shown(name: str) -> str:
    """A member name safe for a terminal: control characters (escape sequences, carriage returns) and
    bidirectional overrides as escapes."""
    return _CONTROL.sub(lambda found: found.group().encode("unicode_escape").decode("ascii"), name)


def scan_distribution(path: Path, allow: Sequence[str] = ()) -> list[SecretFinding]:
    """Every secret in a wheel (.whl) or an sdist (.tar.gz), nested archives included, in archive order.

    A member whose path matches one of the `allow` glob patterns (as in
    fnmatch, where `*` also crosses folders and `!/` into archives) is skipped
    entirely, and so is everything inside it.
    """
    findings: list[SecretFinding] = []
    seen: set[tuple[str, str]] = set()
    scan: _MemberScan | None = None
    stop = threading.Event()
    for member, piece in _read_ahead(_pieces(path, allow, stop), stop):
        if _stopping():
            stop.set()
            raise ScanStopped(f"the secret scan of {path.name} was stopped")
        if scan is None:
            scan = _MemberScan(member)
        if isinstance(piece, bytes):
            scan.feed(piece)
            continue
        kinds = scan.finish()
        if piece is not None and piece not in kinds:
            kinds.append(piece)
        name = shown(DEFAULT_REDACTOR(member)) if kinds else member
        for kind in kinds:
            if (name, kind) not in seen:  # one finding for entries repeated in a central directory
                seen.add((name, kind))
                findings.append(SecretFinding(path.name, name, kind, KINDS.get(kind, "high")))
        scan = None
    return findings


_Piece: TypeAlias = tuple[str, bytes | str | None]
"""A member's path and the next chunk of its bytes; then, once read, None or what the walk found (a str)."""


def _pieces(path: Path, allow: Sequence[str], stop: threading.Event) -> Generator[_Piece, None, None]:
    """The bytes of every member not allowed, chunk by chunk, each member closed by None or its problem."""
    try:
        for member in walk(path, stop):
            if _allowed(member.path, allow):
                continue
            problem = member.problem
            try:
                while member.stream is not None and (chunk := member.stream.read(CHUNK_SIZE)):
                    yield member.path, chunk
            except (*READ_ERRORS, OverBudget) as error:
                problem = reading_problem(error)
            yield member.path, problem
    except Stopped:
        return


def _allowed(member: str, allow: Sequence[str]) -> bool:
    """The member, or an archive that holds it, matches an allow pattern."""
    parts = member.split("!/")
    containers = ["!/".join(parts[:count]) for count in range(1, len(parts) + 1)]
    return any(fnmatchcase(name, pattern) for name in containers for pattern in allow)


@dataclass(frozen=True)
class _Failed:
    error: BaseException


def _read_ahead(pieces: Generator[_Piece, None, None], stop: threading.Event) -> Iterator[_Piece]:
    """Yield `pieces` as a thread produces them, up to READ_AHEAD chunks ahead.

    Inflating and checksumming a member release the GIL, so reading the next
    chunk overlaps the regex search of this one. The producer's error is
    raised here; if the consumer stops early the producer is stopped too.
    """
    handoff: queue.Queue[_Piece | _Failed | None] = queue.Queue(READ_AHEAD)  # None: no more

    def produce() -> None:
        try:
            for piece in pieces:
                if stop.is_set():
                    break
                handoff.put(piece)
        except BaseException as error:  # handed over and raised in the consuming thread
            handoff.put(_Failed(error))
        else:
            handoff.put(None)
        finally:
            pieces.close()

    producer = threading.Thread(target=produce, name="artifact-scan-reader", daemon=True)
    producer.start()
    try:
        while True:
            try:
                item = handoff.get(timeout=0.1)
            except queue.Empty:
                if _stopping():
                    raise ScanStopped("the secret scan was stopped") from None
                continue
            if item is None:
                break
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        while producer.is_alive():
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=0.05)
        producer.join()


class _Window:
    """The kinds of secret in a stream of bytes fed chunk by chunk.

    Consecutive buffers overlap by OVERLAP bytes. A match is judged only where
    its context is complete: one starting inside the last MAX_MATCH - 1 bytes
    of a buffer is left to the next buffer, which holds it whole, with the
    MAX_LOOKBEHIND bytes before it. `finish` judges the rest.
    """

    def __init__(self) -> None:
        self.found: set[str] = set()
        self._buffer = b""
        self._judged = 0  # every match starting before this index of the buffer was judged

    def feed(self, chunk: bytes) -> None:
        buffer = self._buffer + chunk
        decided = len(buffer) - MAX_MATCH + 1
        self.found |= content_kinds(buffer, self._judged, decided)
        cut = max(0, len(buffer) - OVERLAP)
        self._judged = max(self._judged, decided) - cut
        self._buffer = buffer[cut:]

    def finish(self) -> set[str]:
        return self.found | content_kinds(self._buffer, self._judged, len(self._buffer))


_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe", "utf-16-le"),
    (b"\xfe\xff", "utf-16-be"),
)


def wide_text(head: bytes) -> str | None:
    """The encoding of text in UTF-16 or UTF-32: by its byte-order mark, or by the NUL bytes that ASCII
    characters leave in every second (every second to fourth) byte."""
    for bom, encoding in _BOMS:
        if head.startswith(bom):
            return encoding
    sample = head[:512]
    if len(sample) < 16 or b"\x00" not in sample:
        return None
    for width, encoding, text_at in (
        (4, "utf-32-le", 0),
        (4, "utf-32-be", 3),
        (2, "utf-16-le", 0),
        (2, "utf-16-be", 1),
    ):
        whole = sample[: len(sample) // width * width]
        units = len(whole) // width
        text = whole[text_at::width]
        if text.count(0) <= units // 10 and all(
            whole[at::width].count(0) >= units * 9 // 10 for at in range(width) if at != text_at
        ):
            return encoding
    return None


class _MemberScan:
    """The kinds of secret in one member: from its path, and from its bytes fed chunk by chunk (decoded
    too when they are UTF-16 or UTF-32 text).

    A member named by a rule its content can clear keeps its first bytes, one
    more than PUBLIC_LIMIT, so that `finish` can tell a member too long to judge.
    """

    def __init__(self, member: str) -> None:
        self._named = name_kinds(member)
        self._keep = PUBLIC_LIMIT + 1 if any(kind in PUBLIC_CONTENT for kind in self._named) else 0
        self._head = b""
        self._raw = _Window()
        self._decoded: _Window | None = None
        self._decoder: codecs.IncrementalDecoder | None = None
        self._started = False

    def feed(self, chunk: bytes) -> None:
        if not self._started:
            self._started = True
            encoding = wide_text(chunk)
            if encoding is not None:
                self._decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
                self._decoded = _Window()
        if len(self._head) < self._keep:
            self._head += chunk[: self._keep - len(self._head)]
        self._raw.feed(chunk)
        if self._decoder is not None and self._decoded is not None:
            self._decoded.feed(self._decoder.decode(chunk).encode("utf-8", "replace"))

    def finish(self) -> list[str]:
        """The path's kinds that its content does not clear, then the content's, sorted."""
        found = self._raw.finish()
        if self._decoder is not None and self._decoded is not None:
            self._decoded.feed(self._decoder.decode(b"", final=True).encode("utf-8", "replace"))
            found |= self._decoded.finish()
        named = [kind for kind in self._named if not self._public(kind)]
        return named + sorted(found - set(self._named))

    def _public(self, kind: str) -> bool:
        clears = PUBLIC_CONTENT.get(kind)
        if clears is None or len(self._head) > PUBLIC_LIMIT:
            return False
        try:
            return clears(self._head.decode("utf-8"))
        except UnicodeDecodeError:  # binary: not a template, not PEM text
            return False
