"""Finds secrets inside built distributions before they are uploaded.

Real leaks reached PyPI through .pypirc, .env and stale .pyc files shipped in
sdists and through tokens pasted into fixtures; no packaging tool looks inside
the built files for them. Every member of a wheel or an sdist is read as a
stream, straight from the archive and in chunks, so a large file costs no
memory and nothing is ever extracted to disk.

Public data is not a secret: a .pem CA bundle (certifi ships one) and a .env
template with empty values are passed on their content, read up to a bound.
"""

from __future__ import annotations

import contextlib
import queue
import re
import tarfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import IO, TypeAlias

from relsafe.errors import StepFailed
from relsafe.security.redaction import DEFAULT_REDACTOR

CHUNK_SIZE = 1 << 20
"""Bytes read from a member at a time."""

READ_AHEAD = 4
"""Chunks the reading thread may hold ready: memory stays within a few MiB."""

# Each pattern begins with a literal, so `re` skips ahead with a fast search:
# four passes run about three times faster than one alternation of all,
# which `re` has to try at every byte.
# The empty named group at the end of an alternative names the kind that
# matched (Match.lastgroup). Quantifiers are bounded, or stop at the minimum a
# real token has, so a match is decided within OVERLAP bytes.
_PATTERNS: tuple[re.Pattern[bytes], ...] = (
    re.compile(rb"pypi-AgE(?:IcHlwaS5vcmc(?P<pypi>)|NdGVzdC5weXBpLm9yZw(?P<testpypi>))[A-Za-z0-9_-]{50}"),
    re.compile(rb"g(?:h[pousr]_[A-Za-z0-9]{36}|ithub_pat_[A-Za-z0-9_]{22})(?P<github>)"),
    # The lookbehind sits after the leading "A" to keep that literal first.
    re.compile(rb"A(?<![A-Z0-9]A)[KS]IA[A-Z0-9]{16}(?![A-Z0-9])(?P<aws>)"),
    re.compile(rb"-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?P<private_key>)"),
)

_CONTENT_KINDS = {
    "pypi": "PyPI API token",
    "testpypi": "TestPyPI API token",
    "github": "GitHub token",
    "aws": "AWS access key",
    "private_key": "private key",
}

OVERLAP = 128
"""Bytes each buffer shares with the next. At least the longest span a pattern
reads to decide a match (77 bytes for a PyPI token prefix and its 50
characters) plus one byte of lookbehind, so a token cut by a chunk boundary is
whole, with its context, in one buffer."""

# Matched case-insensitively against the member's file name.
_NAME_RULES: tuple[tuple[str, str], ...] = (
    (".pypirc", ".pypirc file"),
    (".env*", ".env file"),
    ("*.pem", ".pem file"),
    ("*.key", ".key file"),
    ("id_rsa*", "id_rsa key file"),
    ("*.pyc", ".pyc file"),
)

PUBLIC_LIMIT = CHUNK_SIZE
"""Bytes of a member a name rule reads to see it holds public data only (certifi's
bundle is under 300 KiB). A longer member stays a finding: the decision fails closed."""

_PUBLIC_PEM_LABELS = frozenset({"CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CRL", "PUBLIC KEY"})
_PEM_BEGIN = re.compile(r"-----BEGIN ([^-\r\n]*)-----")
# A blank line, a comment, or a name given an empty value ("" and '' are empty too);
# in a .env a "#" starts a comment only after a blank, as python-dotenv reads it.
_ENV_TEMPLATE_LINE = re.compile(
    r"[ \t]*(?:#.*|(?:export[ \t]+)?[A-Za-z_][A-Za-z0-9_.]*[ \t]*=[ \t]*(?:\"\"|'')?(?:[ \t]+#.*)?)?[ \t]*\r?"
)


def _holds_public_pem(text: str) -> bool:
    """Certificates, CRLs and public keys only: a CA bundle, with its comments."""
    labels = _PEM_BEGIN.findall(text)
    return bool(labels) and all(label in _PUBLIC_PEM_LABELS for label in labels)


def _is_env_template(text: str) -> bool:
    """Names without values: a .env.example to copy and fill in, not a filled-in .env."""
    return all(_ENV_TEMPLATE_LINE.fullmatch(line) for line in text.split("\n"))


# The name rules a member's text can clear, and how.
_PUBLIC_CONTENT: dict[str, Callable[[str], bool]] = {
    ".env file": _is_env_template,
    ".pem file": _holds_public_pem,
    ".key file": _holds_public_pem,
}


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

    def __str__(self) -> str:
        return f"{self.archive}: {self.member}: {self.kind}"


def scan_distribution(path: Path, allow: Sequence[str] = ()) -> list[SecretFinding]:
    """Every secret in a wheel (.whl) or an sdist (.tar.gz), in archive order.

    A member whose path matches one of the `allow` glob patterns (as in
    fnmatch, where `*` also crosses folders) is skipped entirely.
    """
    findings: list[SecretFinding] = []
    scan: _MemberScan | None = None
    try:
        for member, chunk in _read_ahead(_pieces(path, allow)):
            if scan is None:
                scan = _MemberScan(member)
            if chunk is not None:
                scan.feed(chunk)
                continue
            findings += [SecretFinding(path.name, DEFAULT_REDACTOR(member), kind) for kind in scan.finish()]
            scan = None
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise StepFailed(f"cannot read {path.name} to scan it for secrets: {error}") from error
    return findings


_Piece: TypeAlias = tuple[str, bytes | None]
"""A member's path and the next chunk of its bytes, or None once they are all read."""


def _pieces(path: Path, allow: Sequence[str]) -> Generator[_Piece, None, None]:
    """The bytes of every member not allowed, chunk by chunk, each member closed by None."""
    for member, stream in _members(path):
        if any(fnmatchcase(member, pattern) for pattern in allow):
            continue
        while stream is not None and (chunk := stream.read(CHUNK_SIZE)):
            yield member, chunk
        yield member, None


def _members(path: Path) -> Iterator[tuple[str, IO[bytes] | None]]:
    """Each non-folder member's path and, for regular files, its open stream."""
    if path.name.endswith(".whl"):
        with zipfile.ZipFile(path) as wheel:
            for entry in wheel.infolist():
                if not entry.is_dir():
                    with wheel.open(entry) as stream:
                        yield entry.filename, stream
    elif path.name.endswith(".tar.gz"):
        # Stream mode reads the archive front to back and never seeks back,
        # which in a gzip stream would mean decompressing again from the start.
        with tarfile.open(path, mode="r|gz") as sdist:
            for info in sdist:
                if info.isdir():
                    continue
                parts = PurePosixPath(info.name).parts
                member = "/".join(parts[1:]) if len(parts) > 1 else info.name
                yield member, sdist.extractfile(info) if info.isfile() else None
    else:
        raise StepFailed(f"{path.name} is neither a wheel (.whl) nor an sdist (.tar.gz)")


@dataclass(frozen=True)
class _Failed:
    error: BaseException


def _read_ahead(pieces: Generator[_Piece, None, None]) -> Iterator[_Piece]:
    """Yield `pieces` as a thread produces them, up to READ_AHEAD chunks ahead.

    Inflating and checksumming a member release the GIL, so reading the next
    chunk overlaps the regex search of this one. The producer's error is
    raised here; if the consumer stops early the producer is stopped too.
    """
    handoff: queue.Queue[_Piece | _Failed | None] = queue.Queue(READ_AHEAD)  # None: no more
    stop = threading.Event()

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
        while (item := handoff.get()) is not None:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        while producer.is_alive():
            with contextlib.suppress(queue.Empty):
                handoff.get(timeout=0.05)
        producer.join()


def _name_kinds(member: str) -> list[str]:
    """The secrets a member's path reveals: risky file names, tokens in the name."""
    path = PurePosixPath(member)
    name = path.name.lower()
    kinds = [kind for pattern, kind in _NAME_RULES if fnmatchcase(name, pattern)]
    if ".git" in path.parts[:-1]:
        kinds.append("file under .git/")
    encoded = member.encode()
    return kinds + sorted(_content_kinds(encoded, 0, len(encoded)))


class _MemberScan:
    """The kinds of secret in one member: from its path, and from its bytes fed chunk by chunk.

    Consecutive buffers overlap by OVERLAP bytes. A match is judged only where
    its context is complete: one starting inside the last OVERLAP - 1 bytes of
    a buffer is left to the next buffer, which holds it whole, with the byte
    before it for the lookbehind. `finish` judges the rest.

    A member named by a rule its content can clear keeps its first bytes, one
    more than PUBLIC_LIMIT, so that `finish` can tell a member too long to judge.
    """

    def __init__(self, member: str) -> None:
        self._named = _name_kinds(member)
        self._keep = PUBLIC_LIMIT + 1 if any(kind in _PUBLIC_CONTENT for kind in self._named) else 0
        self._head = b""
        self._found: set[str] = set()
        self._buffer = b""
        self._judged = 0  # every match starting before this index of the buffer was judged

    def feed(self, chunk: bytes) -> None:
        if len(self._head) < self._keep:
            self._head += chunk[: self._keep - len(self._head)]
        buffer = self._buffer + chunk
        decided = len(buffer) - OVERLAP + 1
        self._found |= _content_kinds(buffer, self._judged, decided)
        cut = max(0, len(buffer) - OVERLAP)
        self._judged = max(self._judged, decided) - cut
        self._buffer = buffer[cut:]

    def finish(self) -> list[str]:
        """The path's kinds that its content does not clear, then the content's, sorted."""
        found = self._found | _content_kinds(self._buffer, self._judged, len(self._buffer))
        named = [kind for kind in self._named if not self._public(kind)]
        return named + sorted(found - set(self._named))

    def _public(self, kind: str) -> bool:
        clears = _PUBLIC_CONTENT.get(kind)
        if clears is None or len(self._head) > PUBLIC_LIMIT:
            return False
        try:
            return clears(self._head.decode("utf-8"))
        except UnicodeDecodeError:  # binary: not a template, not PEM text
            return False


def _content_kinds(data: bytes, start: int, stop: int) -> set[str]:
    """The kinds of every match that starts in data[start:stop]."""
    found: set[str] = set()
    if start >= stop:
        return found
    for pattern in _PATTERNS:
        for match in pattern.finditer(data, start):
            if match.start() >= stop:
                break
            found.add(_CONTENT_KINDS[str(match.lastgroup)])
    return found
