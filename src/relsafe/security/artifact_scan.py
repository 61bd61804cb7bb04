"""Finds secrets inside built distributions before they are uploaded.

Real leaks reached PyPI through .pypirc, .env and stale .pyc files shipped in
sdists and through tokens pasted into fixtures; no packaging tool looks inside
the built files for them. Every member of a wheel or an sdist is read as a
stream, straight from the archive and in chunks, so a large file costs no
memory and nothing is ever extracted to disk.
"""

from __future__ import annotations

import re
import tarfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import IO

from relsafe.errors import StepFailed
from relsafe.security.redaction import DEFAULT_REDACTOR

CHUNK_SIZE = 1 << 20
"""Bytes read from a member at a time."""

# Each pattern begins with a literal, so `re` skips ahead with a fast search:
# one pass per pattern runs about 30 times faster than a single alternation.
# The empty named group at the end of an alternative names the kind that
# matched (Match.lastgroup). Quantifiers are bounded, or stop at the minimum a
# real token has, so a match is decided within OVERLAP bytes.
_PATTERNS: tuple[re.Pattern[bytes], ...] = (
    re.compile(rb"pypi-AgE(?:IcHlwaS5vcmc(?P<pypi>)|NdGVzdC5weXBpLm9yZw(?P<testpypi>))[A-Za-z0-9_-]{50}"),
    re.compile(rb"gh[pousr]_[A-Za-z0-9]{36}(?P<github>)"),
    re.compile(rb"github_pat_[A-Za-z0-9_]{22}(?P<github>)"),
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
    ("id_rsa*", "id_rsa key file"),
    ("*.pyc", ".pyc file"),
)


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
    try:
        for member, stream in _members(path):
            if any(fnmatchcase(member, pattern) for pattern in allow):
                continue
            kinds = _name_kinds(member)
            if stream is not None:
                kinds += sorted(_stream_kinds(stream) - set(kinds))
            shown = DEFAULT_REDACTOR(member)
            findings += [SecretFinding(path.name, shown, kind) for kind in kinds]
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise StepFailed(f"cannot read {path.name} to scan it for secrets: {error}") from error
    return findings


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


def _name_kinds(member: str) -> list[str]:
    """The secrets a member's path reveals: risky file names, tokens in the name."""
    path = PurePosixPath(member)
    name = path.name.lower()
    kinds = [kind for pattern, kind in _NAME_RULES if fnmatchcase(name, pattern)]
    if ".git" in path.parts[:-1]:
        kinds.append("file under .git/")
    found: set[str] = set()
    _collect(member.encode(), 0, len(member.encode()), found)
    return kinds + sorted(found)


def _stream_kinds(stream: IO[bytes]) -> set[str]:
    """The kinds of secret in a member's bytes, read CHUNK_SIZE at a time.

    Consecutive buffers overlap by OVERLAP bytes. A match is judged only where
    its context is complete: one starting inside the last OVERLAP - 1 bytes of
    a buffer is left to the next buffer, which holds it whole, with the byte
    before it for the lookbehind. After the last chunk the rest is judged.
    """
    found: set[str] = set()
    buffer = b""
    judged = 0  # every match starting before this index of `buffer` was judged
    while chunk := stream.read(CHUNK_SIZE):
        buffer += chunk
        decided = len(buffer) - OVERLAP + 1
        _collect(buffer, judged, decided, found)
        cut = max(0, len(buffer) - OVERLAP)
        judged = max(judged, decided) - cut
        buffer = buffer[cut:]
    _collect(buffer, judged, len(buffer), found)
    return found


def _collect(data: bytes, start: int, stop: int, found: set[str]) -> None:
    """Add the kind of every match that starts in data[start:stop]."""
    if start >= stop:
        return
    for pattern in _PATTERNS:
        for match in pattern.finditer(data, start):
            if match.start() >= stop:
                break
            found.add(_CONTENT_KINDS[str(match.lastgroup)])
