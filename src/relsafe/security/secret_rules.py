"""What counts as a secret in a built file: rules on a member's bytes and on its name.

Content rules are byte patterns for the tokens and keys that leaked into real
packages. Each rule names literal triggers that any match must contain; a
buffer without them skips the rule's regex, and every regex starts with a
literal, so `re` jumps between candidates instead of trying every byte: this
keeps the scan well above 150 MB/s. detect-secrets' plugins were measured at
0.3 MB/s here (line by line, entropy per string), far too slow for a 200 MB
wheel, so relsafe keeps its own rules and the tests hold them to at least what
detect-secrets finds on the same planted corpus.

A token's body may be cut by a joint, the way code splits a long literal
("pypi-AgE…" "…" or a backslash and a new line) or a file wraps a long line:
the body patterns accept one joint after any character, so the split token
matches as one.

Name rules flag files that are secrets by nature (.pypirc, .netrc, SSH keys,
compiled bytecode). Some of them can be cleared by their content: a CA bundle
named .pem, a .env template whose values are empty or harmless.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

_JOINT = rb"""(?:["'][ \t\r\n+\\]{0,40}[bBrRuUfF]{0,2}["']|\\?\r?\n[ \t]{0,40}(?:\#[ \t]?)?)?"""
"""Between two characters of a token: nothing, adjacent string literals (with `+`, a backslash or
line breaks between them), or a line break with the next line's indent (and a comment mark)."""


def _body(characters: bytes, count: int) -> bytes:
    """`count` token characters, each optionally followed by a joint, and one may come before the first
    (a token split right after its prefix)."""
    return _JOINT + rb"(?:[" + characters + rb"]" + _JOINT + rb"){" + str(count).encode() + rb"}"


MAX_MATCH = 4096
"""An upper bound on the bytes one match spans, joints included (the longest body is 60 characters
with at most 45 bytes of joint after each)."""

MAX_LOOKBEHIND = 192
"""An upper bound on the bytes before a match that a rule's lookbehind reads."""


@dataclass(frozen=True)
class ContentRule:
    """A secret's byte pattern. Its kind is `kind`, or the name of the empty group that closed last
    (one pass finds several kinds that share a first letter: a pass costs far more than a match)."""

    kind: str
    pattern: re.Pattern[bytes]
    anchor: bytes | None = None
    """A literal every match holds, at most MAX_LOOKBEHIND bytes from its start: `bytes.find` skips
    through a buffer without it faster than `re` can, so the pattern only runs from where it occurs."""
    folded: bool = False
    """Matched against the buffer in lower case (the pattern is written in lower case)."""
    long_run: bool = True
    """Every match spans PRINTABLE_RUN printable ASCII characters or more: binary data without such a run
    cannot hold one (in a compiled file or a data blob a token is contiguous text)."""

    def kind_of(self, match: re.Match[bytes]) -> str:
        return match.lastgroup or self.kind


def _rule(
    kind: str, pattern: bytes, anchor: bytes | None = None, folded: bool = False, long_run: bool = True
) -> ContentRule:
    return ContentRule(kind, re.compile(pattern), anchor, folded, long_run)


PRINTABLE_RUN = 18
_PRINTABLE = bytes(ord("a") if 0x20 <= byte < 0x7F else ord(" ") for byte in range(256))
"""Printable ASCII as `a`, everything else as a blank. In random bytes a run of 18 printable characters
starts at one position in about 60 million, so a compressed or random MiB almost never has one."""


_URLSAFE = rb"A-Za-z0-9_\-"
_NOT_PLACEHOLDER = (
    rb"(?!(?i:pass(?:word|wd)?|pwd|secret|token|changeme|guest|tiger|postgres|x+|\*+|\.\.\.|\xe2\x80\xa6)@"
    rb"|\$\{|\$[A-Za-z_]|%\(|%s@)"
)
_ALNUM = rb"A-Za-z0-9"

# Fewer passes beat simpler patterns: each rule is one pass over every buffer.
CONTENT_RULES: tuple[ContentRule, ...] = (
    _rule(
        "PyPI API token",
        rb"pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw(?P<TestPyPI_API_token>))" + _body(_URLSAFE, 50),
        anchor=b"pypi-AgE",
    ),
    # GitHub: classic (ghp_), OAuth (gho_), app user-to-server (ghu_), app installation (ghs_), refresh (ghr_),
    # fine-grained (github_pat_); GitLab: personal, deploy, feed, runner, CI job, trigger, agent, OAuth tokens.
    _rule(
        "GitHub token",
        rb"g(?:h[pousr]_" + _body(_ALNUM, 36) + rb"|ithub_pat_" + _body(_ALNUM + b"_", 60) + rb"|l(?:pat|dt|ft|soat|rt"
        rb"|cbt|imt|ptt|agent|oas)-" + _body(_URLSAFE, 20) + rb"(?P<GitLab_token>))",
    ),
    _rule("Slack token", rb"xox[abposr]-[0-9]" + _body(_ALNUM + b"\\-", 12)),
    _rule(
        "Slack webhook",
        rb"hooks\.slack\.com/services/T[A-Za-z0-9_]{4,64}/B[A-Za-z0-9_]{4,64}/",
        anchor=b"hooks.slack.com/services/",
    ),
    _rule("Stripe live key", rb"_live_(?<=[rs]k_live_)" + _body(_ALNUM, 24), anchor=b"k_live_"),
    # Google API keys and AWS access key ids share their first letter; the lookbehind sits after it.
    _rule(
        "Google API key",
        rb"A(?:Iza" + _body(_URLSAFE, 35) + rb"|(?<![A-Z0-9]A)(?:KIA|SIA|BIA|CCA|3T[A-Z0-9])[A-Z0-9]{16}"
        rb"(?![A-Z0-9])(?P<AWS_access_key>))",
    ),
    _rule("npm token", rb"npm_" + _body(_ALNUM, 36), anchor=b"npm_"),
    _rule("npm token", rb"_authToken[ \t]*=[ \t]*(?!\$\{)[A-Za-z0-9_./+=\-]{8}", anchor=b"_authToken"),
    # sk-…, sk-proj-…, sk-svcacct-…, sk-admin-…: every one holds the marker T3BlbkFJ ("OpenAI" in base64)
    _rule("OpenAI API key", rb"sk-[A-Za-z0-9_\-]{16,160}T3BlbkFJ", anchor=b"T3BlbkFJ"),
    # As detect-secrets words it: a 40-character key near "aws" and "key", "secret", "token" or "pass".
    _rule(
        "AWS secret key",
        rb"aws.{0,20}?(?:key|secret|token|pwd|pw|pass).{0,20}?(?<![a-z0-9/+])[a-z0-9/+]{40}(?![a-z0-9/+=])",
        anchor=b"aws",
        folded=True,
    ),
    # PEM, OpenSSH, PGP and SSH2 (four dashes) headers, also inside JSON strings.
    _rule("private key", rb"BEGIN[ A-Z0-9]{0,40}PRIVATE KEY", anchor=b"PRIVATE KEY"),
    _rule("private key", rb"PuTTY-User-Key-File-[0-9]+:", anchor=b"PuTTY-User-Key-File-"),
    # scheme://user:password@host, also percent-encoded, except templates (${PASSWORD}, $PASSWORD, {password},
    # <password>, %s, %(password)s, ***) and the words documentation and default setups put there
    # (user:password@, user:token@, user:xxx@, guest:guest@, scott:tiger@, postgres:postgres@)
    _rule(
        "password in a URL",
        rb"://[^\s:/?#@'\"<>\[\]{}()$%*\\]{1,64}:" + _NOT_PLACEHOLDER + rb"[^\s/?#@'\"<>\[\]{}\\]{1,256}@",
        anchor=b"://",
        long_run=False,
    ),
)


def content_kinds(data: bytes, start: int, stop: int) -> set[str]:
    """The kinds of every match that starts in data[start:stop] (data may hold context beyond both ends)."""
    found: set[str] = set()
    if start >= stop:
        return found
    folded: bytes | None = None
    # Binary data (compressed assets, random blobs) almost never has a long run of printable characters;
    # finding there is none costs two C passes and spares every rule but the shortest (a URL password).
    has_run = b"\x00" not in data or b"a" * PRINTABLE_RUN in data.translate(_PRINTABLE)
    for rule in CONTENT_RULES:
        if rule.long_run and not has_run:
            continue
        text = data
        if rule.folded:
            folded = data.lower() if folded is None else folded
            text = folded
        position = start
        if rule.anchor is not None:
            position = text.find(rule.anchor, max(0, start - MAX_LOOKBEHIND), stop + MAX_MATCH)
            if position < 0:
                continue
            position = max(start, position - MAX_LOOKBEHIND)
        for match in rule.pattern.finditer(text, position):
            if match.start() >= stop:
                break
            found.add(rule.kind_of(match).replace("_", " "))
    return found


@dataclass(frozen=True)
class NameRule:
    kind: str
    patterns: tuple[str, ...]
    """Globs matched case-insensitively against the member's file name."""
    unless: tuple[str, ...] = ()
    """Globs of names the rule spares (an SSH public key beside its private key's name)."""


NAME_RULES: tuple[NameRule, ...] = (
    NameRule(".pypirc file", ("*pypirc*",), unless=("*.py", "*.pyi", "*.md", "*.rst", "*.txt")),
    NameRule(".netrc file", (".netrc", "_netrc", "netrc", ".netrc.*")),
    NameRule("git credentials file", (".git-credentials", "git-credentials")),
    NameRule(".env file", (".env", ".env.*", "*.env", ".envrc")),
    NameRule("SSH private key file", ("id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*"), unless=("*.pub",)),
    NameRule("PuTTY private key file", ("*.ppk",)),
    NameRule(".pem file", ("*.pem",)),
    NameRule(".key file", ("*.key",)),
    NameRule("PKCS#12 key store", ("*.p12", "*.pfx")),
    NameRule(".pyc file", ("*.pyc", "*.pyo")),
)

GIT_FOLDER = "file under .git/"
AWS_CREDENTIALS = "AWS credentials file"


def name_kinds(member: str) -> list[str]:
    """The secrets a member's path reveals: files that are secrets by nature, and tokens in the path."""
    path = PurePosixPath(member.replace("!/", "/"))
    name = path.name.lower()
    kinds = [
        rule.kind
        for rule in NAME_RULES
        if any(fnmatchcase(name, pattern) for pattern in rule.patterns)
        and not any(fnmatchcase(name, pattern) for pattern in rule.unless)
    ]
    if ".git" in path.parts[:-1]:
        kinds.append(GIT_FOLDER)
    if name == "credentials" and ".aws" in path.parts[:-1]:
        kinds.append(AWS_CREDENTIALS)
    encoded = member.encode()
    return kinds + sorted(content_kinds(encoded, 0, len(encoded)) - set(kinds))


_PUBLIC_PEM_LABELS = frozenset({"CERTIFICATE", "TRUSTED CERTIFICATE", "X509 CRL", "PUBLIC KEY"})
_PEM_BEGIN = re.compile(r"-----BEGIN ([^-\r\n]*)-----")


def _holds_public_pem(text: str) -> bool:
    """Certificates, CRLs and public keys only: a CA bundle, with its comments."""
    labels = _PEM_BEGIN.findall(text)
    return bool(labels) and all(label in _PUBLIC_PEM_LABELS for label in labels)


# A blank line or a comment; in a .env a "#" starts a comment only after a blank, as python-dotenv reads it.
_ENV_BLANK = re.compile(r"[ \t]*(?:#.*)?\r?")
_ENV_ASSIGNMENT = re.compile(
    r"[ \t]*(?:export[ \t]+)?(?P<name>[A-Za-z_][A-Za-z0-9_.]*)[ \t]*=[ \t]*"
    r"(?P<value>\"[^\"]*\"|'[^']*'|[^ \t#\r]*)(?:[ \t]+#.*)?[ \t]*\r?"
)
_SECRET_NAME = re.compile(r"(?i)key|token|secret|pass|pwd|auth|credential|private|session|signature|cookie")
# Values that stand for a secret to be filled in: ${VAR}, $VAR, <your key>, changeme, xxxx, ****.
_PLACEHOLDER = re.compile(r"(?i)\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|<[^<>]*>|changeme|change[-_]me|x{3,}|\*{3,}|\.{3}")


def _env_without_secrets(text: str) -> bool:
    """A .env that only lists names, or gives values to names that are not secrets (DEBUG=1, PORT=8000)."""
    for line in text.split("\n"):
        if _ENV_BLANK.fullmatch(line):
            continue
        assignment = _ENV_ASSIGNMENT.fullmatch(line)
        if assignment is None:
            return False
        value = assignment["value"].strip("\"'")
        if value and _SECRET_NAME.search(assignment["name"]) and not _PLACEHOLDER.fullmatch(value):
            return False
    return True


PUBLIC_CONTENT: dict[str, Callable[[str], bool]] = {
    ".env file": _env_without_secrets,
    ".pem file": _holds_public_pem,
    ".key file": _holds_public_pem,
}
"""The name rules a member's text can clear, and how."""
