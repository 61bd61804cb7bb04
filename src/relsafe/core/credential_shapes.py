"""What a credential looks like in text: the token shapes of the services whose secrets leak most, a login
inside a URL, and the context that marks a secret (`Authorization: Basic …`, `password = …`, an AWS secret
key next to its name).

The secret scan of built files (security/secret_rules.py) looks for the same kinds in bytes, joints and
all; these are their text forms, used where text is made: redaction masks them, and the environment of the
project's code leaves out any variable whose value holds one (core.environment).
"""

from __future__ import annotations

import re

TOKEN_SHAPES: tuple[re.Pattern[str], ...] = (
    re.compile(r"pypi-[A-Za-z0-9_-]{16,}"),
    re.compile(r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{20,}"),
    re.compile(r"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-[A-Za-z0-9_-]{20,}"),
    re.compile(r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    re.compile(r"hooks\.slack\.com/services/T[A-Za-z0-9_]{4,64}/B[A-Za-z0-9_]{4,64}/[A-Za-z0-9_]+"),
    re.compile(r"[rs]k_live_[A-Za-z0-9]{24,}"),
    re.compile(r"AIza[A-Za-z0-9_-]{35}"),
    re.compile(r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Z0-9])"),
    re.compile(r"npm_[A-Za-z0-9]{36}"),
    re.compile(r"sk-[A-Za-z0-9_-]{16,160}T3BlbkFJ[A-Za-z0-9_-]*"),
    re.compile(r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY-----(?:[\s\S]*?-----END[ A-Z0-9]{0,40}PRIVATE KEY-----|[\s\S]*)"),
)
"""Tokens and keys recognisable on their own: PyPI, GitHub, GitLab, Slack (tokens, webhooks), Stripe live
keys, Google API keys, AWS access key ids, npm, OpenAI, private keys (PEM, OpenSSH, PGP)."""

URL_LOGIN = re.compile(r"//(?P<secret>[^/\s:@]+:[^/\s@]+|[A-Za-z0-9_.~%+-]{16,})@")
"""The login in a URL: `user:password@`, or a token given as the user name alone (`https://<token>@host/`,
how GitHub and others take a token in a remote's URL; a short `git@` is a user name, not a secret)."""

CONTEXT_SHAPES: tuple[re.Pattern[str], ...] = (
    URL_LOGIN,
    # what an index echoes of a request: Authorization: Basic dXNlcjpwYXNz, Bearer …
    re.compile(r"(?i)basic (?P<secret>[A-Za-z0-9+/=]{8,})"),
    re.compile(r"(?i)bearer (?P<secret>[A-Za-z0-9._~+/=-]{8,})"),
    # a line of a credentials file, as a parser quotes it: password = …
    re.compile(r"(?i)password[ \t]*[:=][ \t]*(?P<secret>[^\s'\",;]+)"),
    # npm's .npmrc line
    re.compile(r"_authToken[ \t]*=[ \t]*(?P<secret>[^\s'\"]{8,})"),
    # an AWS secret access key (40 base64 characters) near its name, as detect-secrets words it
    re.compile(
        r"(?i)aws.{0,20}?(?:key|secret|token|pwd|pw|pass).{0,20}?(?<![A-Za-z0-9/+])"
        r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
    ),
)
"""Secrets known by what stands around them: only their `secret` group is masked."""


def holds_credential(value: str) -> bool:
    """Whether a text (an environment variable's value) holds a login in a URL or a token of a known shape."""
    if not value or len(value) < 8:
        return False
    if "@" in value and URL_LOGIN.search(value):
        return True
    return any(shape.search(value) for shape in TOKEN_SHAPES)
