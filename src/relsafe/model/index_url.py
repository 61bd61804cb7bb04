"""Index URLs from the configuration: which host they name, and whether they may be used at all.

A URL is printed by `--plan`, stored in the journal and passed to tools, so
one that carries a credential (user:password@, a token in the path or the
query) is refused when the configuration is read, and never quoted.
The production guard compares host names only after normalising them, so
`PyPI.org.`, `pypi.org:443`, a full-width `ｐｙｐｉ.org` or PyPI's older
names cannot slip past it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from relsafe.core.redaction import DEFAULT_REDACTOR

PRODUCTION_HOSTS = frozenset(
    {
        "pypi.org",
        "www.pypi.org",
        "upload.pypi.org",
        "pypi.python.org",
        "upload.pypi.python.org",
        "pypi.io",
        "upload.pypi.io",
    }
)
"""PyPI under every name it answers to, the legacy ones included."""

SCHEMES = ("https", "http")

CREDENTIAL_HOSTS = frozenset({"test.pypi.org"})
"""Where the staging upload may send the maintainer's login without a word: TestPyPI (and loopback)."""


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 and localhost: an index on this machine."""
    return host in ("localhost", "::1") or (host.startswith("127.") and host.replace(".", "").isdigit())


def host_of(url: str) -> str:
    """The URL's host as DNS sees it: lower case, no port, no trailing dot, IDNA's ASCII form."""
    host = (urlsplit(url.strip()).hostname or "").rstrip(".")
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:  # not a valid IDNA name: compare it as written
        return host.lower()


def is_production_pypi(url: str) -> bool:
    """True for PyPI itself (not TestPyPI), which relsafe must never upload to."""
    return host_of(url) in PRODUCTION_HOSTS


def url_problem(url: str) -> str | None:
    """Why the URL cannot name an index, in words that never quote it; None when it can."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in SCHEMES:
        return "expected an https:// (or http://) URL"
    if not parts.netloc:
        return f"expected a host after {parts.scheme}://"
    if "@" in parts.netloc:
        return "expected a URL without credentials (user:password@)"
    if parts.query or parts.fragment:
        return "expected a URL without a query string or fragment, which may hold a credential"
    for number, segment in enumerate(map(unquote, parts.path.split("/"))):
        if DEFAULT_REDACTOR(segment) != segment or _looks_like_a_token(segment):
            return (
                f"expected a URL without a credential in its path (path segment {number} looks like a token, as "
                "private indexes put one there); use the index's URL without it"
            )
    return None


_RANDOM_SEGMENT = re.compile(r"(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{16,}")


def _looks_like_a_token(segment: str) -> bool:
    """16 or more letters and digits, both, without a separator: an access token (Cloudsmith's entitlement
    tokens, a private index's `https://host/<token>/simple/`), not a name a person gave a path."""
    return bool(_RANDOM_SEGMENT.fullmatch(segment))
