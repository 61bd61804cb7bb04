"""Removes secrets from any text before it reaches the screen, a log or the journal.

Two kinds of secret are hidden: values relsafe knows (credentials it read from
the environment, a .pypirc or keyring) and anything shaped like a well-known
token. A known value is found in the forms an index or a tool may echo it
in (base64 inside an `Authorization` header, URL-encoded in a URL) and when a
tool wrapped its output so that a line break fell inside it.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from relsafe.core.environment import secret_values

MASK = "********"

MIN_SECRET = 4
"""Shorter values are not masked: hiding every "a" would destroy the text without protecting anything."""

TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"pypi-[A-Za-z0-9_-]{16,}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"glpat-[A-Za-z0-9_-]{20,}"),
    re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,}"),
    re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    # credentials embedded in URLs: https://user:secret@host, //user:secret@host
    re.compile(r"(?<=//)[^/\s:@]+:[^/\s@]+(?=@)"),
    # what an index echoes of a request: Authorization: Basic dXNlcjpwYXNz, Bearer …
    re.compile(r"(?i)(?<=basic )[A-Za-z0-9+/=]{8,}|(?<=bearer )[A-Za-z0-9._~+/=-]{8,}"),
    # a line of a credentials file, as a parser quotes it: password = …, token: …
    re.compile(r"(?i)(?<=password)(?P<keep>[ \t]*[:=][ \t]*)[^\s'\",;]+"),
)

_BREAK = r"(?:\r?\n[ \t]*)?"
"""What a tool that wraps its output may put inside a long value: a line break and the next line's indent."""


class Redactor:
    """Masks known secret values, in their encoded and line-wrapped forms, and token-shaped strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Remember a value that must never be shown, and the forms it is sent in."""
        if not secret or len(secret) < MIN_SECRET:
            return
        forms = {secret, quote(secret, safe=""), quote_plus(secret), _base64(secret)}
        with self._lock:
            if forms <= self._secrets:
                return
            self._secrets |= forms
            self._pattern = None

    def add_login(self, username: str | None, password: str | None) -> None:
        """A username and password: HTTP basic auth sends base64("user:password"), which an index may echo."""
        self.add(password)
        if username and password:
            self.add(_base64(f"{username}:{password}"))

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
        """The environment can change (tests, a credential helper), so each redaction looks at it again."""
        for value in secret_values():
            if value not in self._secrets:
                self.add(value)

    def _redact(self, text: str) -> str:
        pattern = self._known()
        if pattern is not None:
            text = pattern.sub(MASK, text)
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
        """One pattern for every known form, longest first, each allowing a wrapped line inside it."""
        with self._lock:
            if self._pattern is None and self._secrets:
                ordered = sorted(self._secrets, key=len, reverse=True)
                self._pattern = re.compile("|".join(_BREAK.join(map(re.escape, value)) for value in ordered))
            return self._pattern


def _masked(match: re.Match[str]) -> str:
    """The mask, after what a pattern keeps to stay readable (the `password = ` before a value)."""
    keep = match.groupdict().get("keep")
    return (keep or "") + MASK


def _base64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


DEFAULT_REDACTOR = Redactor()
"""The one redactor of a relsafe process: every credential read is added to it as soon as it is read."""
