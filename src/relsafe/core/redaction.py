"""Removes secrets from any text before it reaches the screen, a log or the journal.

Two kinds of secret are hidden: values relsafe knows (credentials it read from
the environment, a .pypirc or keyring) and anything shaped like a credential
(core.credential_shapes: the token shapes the secret scan looks for, a login
in a URL, an `Authorization` header, an AWS secret key next to its name).

A known value is found in every form a tool or an index may echo it in:
as written; base64 of `user:secret` (HTTP basic auth, what an index echoing
its request shows, with the secret percent-encoded too, as uv sends it);
with any of its characters percent-encoded, HTML-escaped (`&amp;`, `&#43;`,
`&#x2B;`) or JSON-escaped (`\\"`, `\\/`, `\\u00e9`); with a line break and an
indent (a wrapped line), a `<wbr>` or a soft hyphen between two characters;
and cut short: any 12 characters of it in a row (a truncated echo).
"""

from __future__ import annotations

import base64
import re
import threading
from bisect import bisect_right
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from relsafe.core.credential_shapes import CONTEXT_SHAPES, TOKEN_SHAPES
from relsafe.core.environment import secret_values
from relsafe.core.withheld import credential_environment

MASK = "********"

MIN_SECRET = 4
"""Shorter values are not masked: hiding every "a" would destroy the text without protecting anything."""

WINDOW = 12
"""A run of this many characters of a known secret is masked wherever it stands: what a tool that cut the
secret short (an error quoting the first bytes of a header) still shows of it."""

TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (*TOKEN_SHAPES, *CONTEXT_SHAPES)

_ENCODED = re.compile(
    r"(?P<percent>(?:%[0-9A-Fa-f]{2})+)"
    r"|&#(?P<decimal>[0-9]{1,7});|&#[xX](?P<hex>[0-9A-Fa-f]{1,6});|&(?P<named>amp|lt|gt|quot|apos|#39);"
    r"|\\u(?P<unicode>[0-9A-Fa-f]{4})|\\(?P<escaped>[\"\\/])"
    r"|(?P<joint>\r?\n[ \t]*|<wbr\s*/?>|&shy;|\u00ad|\u200b)"
)
"""What stands in a text for a secret's characters or between them: percent-encoding, HTML entities, JSON
escapes; a line break and the next line's indent (a tool wrapping its output), `<wbr>` or a soft hyphen (an
HTML page breaking a long word), which stand for nothing."""

_NAMED = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'", "#39": "'"}


def _decoded(match: re.Match[str]) -> str:
    kind = match.lastgroup
    value = match.group(kind) if kind else ""
    if kind == "percent":
        return bytes.fromhex(value.replace("%", "")).decode("utf-8", errors="replace")
    if kind in ("decimal", "hex", "unicode"):
        code = int(value, 10 if kind == "decimal" else 16)
        return chr(code) if code <= 0x10FFFF else match.group()
    if kind == "named":
        return _NAMED[value]
    if kind == "escaped":
        return value
    return ""  # a joint


def _normalised(text: str) -> tuple[str, list[tuple[int, int, int, int]]]:
    """The text with every encoding decoded and every joint taken out, and where each decoded piece came
    from: (start and end in the result, start and end in the text)."""
    pieces: list[str] = []
    where: list[tuple[int, int, int, int]] = []
    length = last = 0
    for match in _ENCODED.finditer(text):
        plain = text[last : match.start()]
        pieces.append(plain)
        length += len(plain)
        decoded = _decoded(match)
        where.append((length, length + len(decoded), match.start(), match.end()))
        pieces.append(decoded)
        length += len(decoded)
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces), where


def _original(position: int, where: list[tuple[int, int, int, int]], starts: list[int], *, end: bool) -> int:
    """Where a position of the normalised text lies in the text: a start inside a decoded piece moves to the
    piece's start, an end inside one to the piece's end, so a mask covers whole encodings."""
    index = bisect_right(starts, position) - 1
    if index < 0:
        return position
    start, stop, original_start, original_stop = where[index]
    if end and position == start:
        return original_start
    if position < stop or (end and position == stop and stop > start):
        return original_stop if end else original_start
    return original_stop + position - stop


class Redactor:
    """Masks known secret values in every encoded, wrapped or truncated form, and credential-shaped strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: set[str] = set()
        self._windows: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None
        self._window_run: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember a value that must never be shown, and the forms it is sent in."""
        if not secret or len(secret) < MIN_SECRET:
            return
        forms = {secret, _base64(secret), secret.replace(" ", "+")}
        windows = _windows(secret)
        with self._lock:
            if forms <= self._forms and windows <= self._windows:
                return
            self._forms |= forms
            self._windows |= windows
            self._pattern = self._window_run = None

    def add_login(self, username: str | None, password: str | None) -> None:
        """A username and password: HTTP basic auth sends base64("user:password"), which an index may echo
        (uv percent-encodes the password first; requests, under twine, encodes the login in latin-1)."""
        self.add(password)
        if username and password:
            for login in {f"{username}:{password}", f"{username}:{quote(password, safe='')}"}:
                self.add(_base64(login))
                try:
                    self.add(base64.b64encode(login.encode("latin-1")).decode("ascii"))
                except UnicodeEncodeError:
                    continue

    def __call__(self, text: str) -> str:
        self._learn_environment()
        return self._redact(text)

    def data(self, value: Any) -> Any:
        """A JSON-like structure with every string in it redacted, keys included: what the journal stores.

        The environment is read once for the whole structure, not once per string (a journal holds
        thousands)."""
        self._learn_environment()
        return self._redact_data(value)

    def _learn_environment(self) -> None:
        """The environment can change (tests, a credential helper), so each redaction looks at it again; the
        credentials taken out of relsafe's own environment (core.withheld) count too."""
        for value in secret_values(credential_environment()):
            if value not in self._forms:
                self.add(value)

    def _redact(self, text: str) -> str:
        spans = self._secret_spans(text)
        if spans:
            text = _masked_text(text, spans)
        for token in TOKEN_PATTERNS:
            text = token.sub(_masked, text)
        return text

    def _redact_data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, dict):
            return {self._redact_data(key): self._redact_data(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [self._redact_data(item) for item in value]
        return value

    def _known(self) -> tuple[re.Pattern[str] | None, set[str], re.Pattern[str] | None]:
        """One pattern for every known form, longest first; the windows and a pattern for runs of their
        characters."""
        with self._lock:
            if self._pattern is None and self._forms:
                ordered = sorted(self._forms, key=len, reverse=True)
                self._pattern = re.compile("|".join(map(re.escape, ordered)))
                alphabet = "".join(sorted({char for window in self._windows for char in window}))
                self._window_run = re.compile(f"[{re.escape(alphabet)}]{{{WINDOW},}}") if alphabet else None
            return self._pattern, self._windows, self._window_run

    def _secret_spans(self, text: str) -> list[tuple[int, int]]:
        """Where the text holds a known secret, in any of its forms, encoded, wrapped or cut short."""
        pattern, windows, runs = self._known()
        if pattern is None:
            return []
        where: list[tuple[int, int, int, int]] = []
        if _ENCODED.search(text) is None:
            normalised = text
        else:
            normalised, where = _normalised(text)
        found = [match.span() for match in pattern.finditer(normalised)]
        if runs is not None:
            found += _window_spans(normalised, windows, runs)
        if not where or not found:
            return found
        starts = [piece[0] for piece in where]
        return [
            (_original(start, where, starts, end=False), _original(stop, where, starts, end=True))
            for start, stop in found
        ]


def _window_spans(text: str, windows: set[str], runs: re.Pattern[str]) -> list[tuple[int, int]]:
    """Every stretch of the text made of WINDOW-character runs of a known secret (a truncated echo)."""
    spans: list[tuple[int, int]] = []
    for run in runs.finditer(text):
        value = run.group()
        hidden = [False] * len(value)
        for start in range(len(value) - WINDOW + 1):
            if value[start : start + WINDOW] in windows:
                hidden[start : start + WINDOW] = [True] * WINDOW
        index = 0
        while index < len(value):
            if hidden[index]:
                stop = index
                while stop < len(value) and hidden[stop]:
                    stop += 1
                spans.append((run.start() + index, run.start() + stop))
                index = stop
            else:
                index += 1
    return spans


def _masked_text(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with each stretch the spans cover (merged where they overlap or touch) replaced by one mask."""
    pieces: list[str] = []
    last = 0
    for start, stop in sorted(spans):
        if start < last:  # overlaps the stretch masked already
            last = max(last, stop)
            continue
        pieces.append(text[last:start])
        pieces.append(MASK)
        last = stop
    pieces.append(text[last:])
    return "".join(pieces)


def _windows(secret: str) -> set[str]:
    """Every WINDOW characters in a row of a secret longer than that (the base64 of a login is one too)."""
    if len(secret) <= WINDOW:
        return set()
    return {secret[start : start + WINDOW] for start in range(len(secret) - WINDOW + 1)}


def _masked(match: re.Match[str]) -> str:
    """The mask over the part a pattern names as the secret (what stands around it stays readable: the
    `password = ` before a value, the `@` after a URL's login), or over the whole match."""
    if match.groupdict().get("secret") is None:
        return MASK
    start, end = match.span("secret")
    whole = match.group()
    return whole[: start - match.start()] + MASK + whole[end - match.start() :]


def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


DEFAULT_REDACTOR = Redactor()
"""The one redactor of a relsafe process: every credential read is added to it as soon as it is read."""
