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
import html
import re
import threading
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

_JOINT = r"(?:\r?\n[ \t]*|<wbr\s*/?>|&shy;|\u00ad|\u200b)?"
"""What may stand between two characters of an echoed secret: a line break and the next line's indent (a
tool wrapping its output), `<wbr>` or a soft hyphen (an HTML page breaking a long word)."""


def _character(char: str) -> str:
    """A pattern for one character of a secret in any encoding of it: as is, percent-encoded, as an HTML
    entity (named, decimal, hexadecimal), JSON-escaped."""
    return "(?:" + "|".join(_encodings(char)) + ")"


def _encodings(char: str) -> list[str]:
    """The patterns of one character's encodings, each starting with a literal character."""
    code = ord(char)
    forms = [re.escape(char)]
    if code < 0x80:
        forms.append(f"%(?i:{code:02x})")
    else:
        forms.append("".join(f"%(?i:{byte:02x})" for byte in char.encode("utf-8")))
    if char == " ":
        forms.append(r"\+")
    forms.append(f"&#0*{code};")
    forms.append(f"&#[xX]0*(?i:{code:x});")
    named = html.escape(char)
    if named != char:
        forms.append(re.escape(named))
        if char == "'":
            forms.append("&apos;")
    if char in '"\\/':
        forms.append(re.escape("\\" + char))
    if code <= 0xFFFF:
        forms.append(f"\\\\u(?i:{code:04x})")
    return forms


def _form_pattern(form: str) -> list[str]:
    """The form in any encoding and wrapped anywhere, as alternatives that each start with a literal (so that
    the regex engine skips every position where none of them can start, as fast as for a plain string)."""
    rest = "".join(_JOINT + _character(char) for char in form[1:])
    return [first + rest for first in _encodings(form[0])]


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
        forms = {secret, _base64(secret)}
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
        pattern = self._known()
        if pattern is not None:
            text = pattern.sub(MASK, text)
        text = self._mask_windows(text)
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

    def _known(self) -> re.Pattern[str] | None:
        """One pattern for every known form, longest first, each in any encoding and wrapped anywhere."""
        with self._lock:
            if self._pattern is None and self._forms:
                ordered = sorted(self._forms, key=len, reverse=True)
                self._pattern = re.compile("|".join(branch for form in ordered for branch in _form_pattern(form)))
            return self._pattern

    def _mask_windows(self, text: str) -> str:
        """Mask every run of WINDOW characters of a known secret (a truncated echo), extended to all of the
        run that is part of one."""
        with self._lock:
            windows = self._windows
            if not windows:
                return text
            if self._window_run is None:
                alphabet = "".join(sorted({char for window in windows for char in window}))
                self._window_run = re.compile(f"[{re.escape(alphabet)}]{{{WINDOW},}}")
            runs = self._window_run
        pieces: list[str] = []
        last = 0
        for run in runs.finditer(text):
            value = run.group()
            hidden = [False] * len(value)
            for start in range(len(value) - WINDOW + 1):
                if value[start : start + WINDOW] in windows:
                    hidden[start : start + WINDOW] = [True] * WINDOW
            if not any(hidden):
                continue
            pieces.append(text[last : run.start()])
            pieces.append(_masked_spans(value, hidden))
            last = run.end()
        if not pieces:
            return text
        pieces.append(text[last:])
        return "".join(pieces)


def _masked_spans(value: str, hidden: list[bool]) -> str:
    """The value with each stretch of hidden characters replaced by one mask."""
    out: list[str] = []
    for index, char in enumerate(value):
        if not hidden[index]:
            out.append(char)
        elif index == 0 or not hidden[index - 1]:
            out.append(MASK)
    return "".join(out)


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
