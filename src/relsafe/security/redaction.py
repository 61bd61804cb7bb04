"""Removes secrets from any text before it reaches the screen, a log or the journal.

Two kinds of secret are hidden: values relsafe knows (credentials it read from
the environment or a .pypirc) and anything shaped like a well-known token.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

MASK = "********"

TOKEN_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"pypi-[A-Za-z0-9_-]{16,}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}"),
    re.compile(r"github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"),
    # credentials embedded in URLs: https://user:secret@host
    re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),
)

SECRET_ENV_VARS = ("TWINE_PASSWORD", "RELSAFE_STAGING_PASSWORD", "GITHUB_TOKEN", "GH_TOKEN")


class Redactor:
    """Masks known secret values and token-shaped strings."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for secret in secrets:
            self.add(secret)
        for name in SECRET_ENV_VARS:
            self.add(os.environ.get(name, ""))

    def add(self, secret: str | None) -> None:
        """Remember a value that must never be shown; short values are ignored
        because masking every "a" would destroy the text without protecting anything."""
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        for pattern in TOKEN_PATTERNS:
            text = pattern.sub(MASK, text)
        return text


DEFAULT_REDACTOR = Redactor()
