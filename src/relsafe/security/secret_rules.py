"""What counts as a secret in a built file: rules on a member's bytes and on its name.

Content rules are byte patterns for the credential kinds that leak into real
packages. Each rule names literal anchors that every match holds (a token's
prefix, or the word that introduces a value); one Aho-Corasick pass
(ahocorasick-rs) finds every anchor of every rule in a buffer at once, and a
rule's regex runs only in a window around its anchors, so adding a rule costs
next to nothing on a buffer without its anchor. Measured here against the
engines that install as wheels (Kingfisher, Betterleaks, detect-secrets),
relsafe's own rules on that prefilter were the only ones to keep the benchmark
above 150 MB/s with flat memory and no false alarm on the most downloaded
wheels, so relsafe keeps its own rules; the token shapes follow the providers'
published formats, as Betterleaks' and Kingfisher's rules also describe them.

No false alarm by construction: a match is judged before it counts. A token
must stand on its own (no letter or digit glued before or after it: a C++
symbol such as `…highs_setCallback…` holds no `ghs_` token); its body must
look random (Shannon entropy) and must not be a placeholder (runs of `x`,
`X`, `0` or `*`, `<…>`, `${…}`, `your-…`, `...`, `EXAMPLE`) or a documented
sample value; a private key header needs a key body after it; a value beside
a keyword (AWS secret keys) needs the keyword, a separator and a value in
mixed case, which a RECORD line's hash or a hex digest is not.

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

import ahocorasick_rs

from relsafe.security.content_rule import MAX_MATCH
from relsafe.security.secret_kinds import CONTENT_RULES

_ANCHORS: list[bytes] = sorted({anchor for rule in CONTENT_RULES for anchor in rule.anchors})
_RULES_OF: list[list[int]] = [
    [index for index, rule in enumerate(CONTENT_RULES) if anchor in rule.anchors] for anchor in _ANCHORS
]


_AUTOMATON = ahocorasick_rs.BytesAhoCorasick(_ANCHORS, implementation=ahocorasick_rs.Implementation.DFA)
"""A DFA: 250 MB/s on real text here, against 150 MB/s for the default NFA. No two anchors overlap in a
way that matters, so the matches are taken without overlaps (cheaper again)."""


_SHORT_RULES = [index for index, rule in enumerate(CONTENT_RULES) if not rule.long_run]
KINDS: dict[str, str] = {}
"""Every kind the content rules report, with its confidence."""


for _content_rule in CONTENT_RULES:
    for _kind in [
        _content_rule.kind,
        *(name.replace("_", " ") for name in _content_rule.subkinds),
    ]:
        KINDS.setdefault(_kind, _content_rule.confidence)


PRINTABLE_RUN = 18
_PRINTABLE = bytes(ord("a") if 0x20 <= byte < 0x7F else ord(" ") for byte in range(256))
"""Printable ASCII as `a`, everything else as a blank. In random bytes a run of 18 printable characters
starts at one position in about 60 million, so a compressed or random MiB almost never has one."""


def content_kinds(data: bytes, start: int, stop: int) -> set[str]:
    """The kinds of every accepted match that starts in data[start:stop] (data may hold context beyond both
    ends: up to MAX_LOOKBEHIND bytes before, MAX_MATCH after)."""
    found: set[str] = set()
    if start >= stop:
        return found
    # Binary data (compressed assets, random blobs) almost never has a long run of printable characters;
    # finding there is none costs two C passes and spares every rule but the shortest (a URL password).
    if b"\x00" in data and b"a" * PRINTABLE_RUN not in data.translate(_PRINTABLE):
        for index in _SHORT_RULES:
            rule = CONTENT_RULES[index]
            for match in rule.pattern.finditer(data, start, min(len(data), stop + MAX_MATCH)):
                if match.start() >= stop:
                    break
                if rule.accepts(match):
                    found.add(rule.kind_of(match))
                    break
        return found
    done = [False] * len(CONTENT_RULES)  # the rule's only kind is found already
    searched = [0] * len(CONTENT_RULES)  # where a searching rule has looked up to
    for anchor_index, anchor_start, anchor_end in _AUTOMATON.find_matches_as_indexes(data):
        for index in _RULES_OF[anchor_index]:
            if done[index]:
                continue
            rule = CONTENT_RULES[index]
            if rule.exact:
                at = anchor_start - rule.back
                if not start <= at < stop:
                    continue
                tried = rule.pattern.match(data, at, min(len(data), at + MAX_MATCH))
                matches = [] if tried is None else [tried]
            else:
                if searched[index] > anchor_start or anchor_start - rule.back >= stop:
                    continue
                window_end = min(len(data), anchor_end + rule.tail)
                searched[index] = anchor_end
                matches = list(rule.pattern.finditer(data, max(0, anchor_start - rule.back), window_end))
            for match in matches:
                if start <= match.start() < stop and rule.accepts(match):
                    found.add(rule.kind_of(match))
                    done[index] = not rule.subkinds
    return found


@dataclass(frozen=True)
class NameRule:
    kind: str
    patterns: tuple[str, ...]
    """Globs matched case-insensitively against the member's file name."""
    unless: tuple[str, ...] = ()
    """Globs of names the rule spares (an SSH public key beside its private key's name)."""


NAME_RULES: tuple[NameRule, ...] = (
    NameRule(
        ".pypirc file",
        ("*pypirc*",),
        unless=("*.py", "*.pyi", "*.md", "*.rst", "*.txt"),
    ),
    NameRule(".netrc file", (".netrc", "_netrc", "netrc", ".netrc.*")),
    NameRule("git credentials file", (".git-credentials", "git-credentials")),
    NameRule(".env file", (".env", ".env.*", "*.env", ".envrc")),
    NameRule(
        "SSH private key file",
        ("id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*"),
        unless=("*.pub",),
    ),
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
