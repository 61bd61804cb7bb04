"""The environment relsafe's subprocesses inherit: everything but the credentials.

A maintainer's shell often holds TWINE_PASSWORD or a GitHub token. Without
care every command relsafe starts would inherit it: the project's own tests,
its build backend, git hooks, pip. Only the twine upload needs a credential,
and it gets it explicitly; every other environment is scrubbed here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

SECRET_PREFIXES = ("TWINE_", "PYPI_", "KEYRING_", "PYTHON_KEYRING_")
SECRET_SUFFIXES = ("_TOKEN", "_PASSWORD", "_PASSWD", "_SECRET", "_API_KEY")
SECRET_NAMES = frozenset({"KEYRING", "NETRC"})
"""Names that hold, or point at, a credential (NETRC names a file of logins)."""


def is_secret_name(name: str) -> bool:
    """True for a variable that may hold a credential: TWINE_*, PYPI_*, keyring's, *_TOKEN, *_PASSWORD…"""
    upper = name.upper()
    return upper in SECRET_NAMES or upper.startswith(SECRET_PREFIXES) or upper.endswith(SECRET_SUFFIXES)


def secret_values(environ: Mapping[str, str] | None = None) -> Iterator[str]:
    """The values of the variables named as credentials (*_TOKEN, *_PASSWORD…): what redaction must know.

    Not every scrubbed variable is a secret: TWINE_USERNAME is `__token__`,
    which hints quote, and TWINE_REPOSITORY_URL is a URL the screen must show.
    """
    for name, value in (os.environ if environ is None else environ).items():
        if value and name.upper().endswith(SECRET_SUFFIXES):
            yield value


def scrubbed(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of the environment (default: this process's) without any variable that may hold a credential."""
    source = os.environ if environ is None else environ
    return {name: value for name, value in source.items() if not is_secret_name(name)}
