"""A content rule: a credential kind's byte pattern, its anchors, and the judgement a match must pass.

No false alarm by construction: a token must stand on its own, its body must look random (Shannon entropy)
and must not be a placeholder or a documented sample value, and a private key header needs a key body.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

_JOINT = rb"""(?:["'][ \t\r\n+\\]{0,40}[bBrRuUfF]{0,2}["']|\\?\r?\n[ \t]{0,40}(?:\#[ \t]?)?)?"""
"""Between two characters of a token: nothing, adjacent string literals (with `+`, a backslash or
line breaks between them), or a line break with the next line's indent (and a comment mark)."""


def body(characters: bytes, count: int) -> bytes:
    """`count` token characters, each optionally followed by a joint, and one may come before the first
    (a token split right after its prefix)."""
    return _JOINT + rb"(?:[" + characters + rb"]" + _JOINT + rb"){" + str(count).encode() + rb"}"


MAX_MATCH = 4096
"""An upper bound on the bytes one match spans, joints included (the longest body is 60 characters
with at most 45 bytes of joint after each)."""


MAX_LOOKBEHIND = 192
"""An upper bound on the bytes before a match's anchor that a rule reads (the match's own start included)."""


HIGH, MEDIUM = "high", "medium"
"""Confidence: a token with its provider's own prefix or marker is `high`; a value recognised by the
keyword beside it (an AWS secret key, a Discord bot token) or a password in a URL is `medium`."""


@dataclass(frozen=True)
class ContentRule:
    """A secret's byte pattern. Its kind is `kind`, or the name of the empty group that closed last
    (one rule may tell apart kinds that share an anchor: PyPI and TestPyPI)."""

    kind: str
    pattern: re.Pattern[bytes]
    anchors: tuple[bytes, ...]
    """Literals, one of which every match holds within `back` bytes of its start."""
    back: int = 0
    confidence: str = HIGH
    entropy: float = 3.0
    """The least Shannon entropy, in bits per character, of the token's body (group `secret`, or the
    whole match): random tokens have 4 to 6, words and placeholders less. 0 skips the test."""
    check: Callable[[bytes], bool] | None = None
    """A further judgement of the body (a private key needs key material after its header)."""
    long_run: bool = True
    """Every match spans PRINTABLE_RUN printable ASCII characters or more: binary data without such a run
    cannot hold one (in a compiled file or a data blob a token is contiguous text)."""

    exact: bool = True
    """The anchor stands exactly `back` bytes after the match's start, so the pattern is tried once, there;
    otherwise it is searched for in a window from `back` bytes before the anchor to `tail` bytes after."""
    tail: int = 512

    @property
    def subkinds(self) -> tuple[str, ...]:
        """Named groups that name a kind of their own (capitalised), e.g. TestPyPI_API_token."""
        return tuple(name for name in self.pattern.groupindex if name[0].isupper())

    def kind_of(self, match: re.Match[bytes]) -> str:
        for name in self.subkinds:
            if match.start(name) >= 0:
                return name.replace("_", " ")
        return self.kind

    def accepts(self, match: re.Match[bytes]) -> bool:
        """The match is a secret, not a placeholder, a documented example or a random-looking word."""
        body = match.group("secret") if "secret" in self.pattern.groupindex else match.group()
        if body is None:
            body = match.group()
        core = _STRIP_JOINTS.sub(b"", body)
        if _known_public(body):
            return False
        if self.check is not None:
            return self.check(body)
        if is_placeholder(core):
            return False
        return not self.entropy or entropy(core) >= self.entropy


def rule(
    kind: str,
    pattern: bytes,
    anchors: tuple[bytes, ...] | bytes,
    *,
    back: int = 0,
    confidence: str = HIGH,
    entropy: float = 3.0,
    check: Callable[[bytes], bool] | None = None,
    long_run: bool = True,
    exact: bool = True,
    tail: int = 512,
) -> ContentRule:
    anchors = (anchors,) if isinstance(anchors, bytes) else anchors
    return ContentRule(
        kind,
        re.compile(pattern),
        anchors,
        back,
        confidence,
        entropy,
        check,
        long_run,
        exact,
        tail,
    )


def cases(word: bytes) -> tuple[bytes, ...]:
    """A keyword as code writes it: lower case, upper case, capitalised."""
    return tuple(dict.fromkeys((word.lower(), word.upper(), word.capitalize())))


_STRIP_JOINTS = re.compile(rb"""["'\s\\+#]|(?<=["'])[bBrRuUfF]{1,2}(?=["'])""")
_PLACEHOLDER_MARKS = re.compile(
    rb"(?i:example|sample|dummy|placeholder|redacted|your[-_ .]|changeme|change[-_]me|fake|foobar|insert|replace)"
    rb"|x{4}|X{4}|0{6}|\*{3}|\.\.\.|\xe2\x80\xa6|[<>{}$%]|(.)\1{7}"
)
"""Marks of a value to be filled in or a documented sample: `ghp_xxxx…`, `glpat-XXXX…`,
`AKIAIOSFODNN7EXAMPLE`, `<your token>`, `${TOKEN}`, `%(token)s`, a character eight times in a row."""


KNOWN_PUBLIC = frozenset(
    {
        # Azurite's and the Azure Storage Emulator's documented account key for devstoreaccount1
        "0011cc25eb4320717494d2703e8cba85743e71b500283c21c8b88147992f9059",
    }
)
"""sha256 of credentials that are public by design (a local emulator's fixed key); kept as hashes so
that this file holds no credential-shaped string."""


def is_placeholder(value: bytes) -> bool:
    return bool(_PLACEHOLDER_MARKS.search(value)) or hashlib.sha256(value).hexdigest() in KNOWN_PUBLIC


def _known_public(value: bytes) -> bool:
    return hashlib.sha256(value).hexdigest() in KNOWN_PUBLIC


def entropy(value: bytes) -> float:
    """Shannon entropy in bits per character."""
    if not value:
        return 0.0
    total = len(value)
    return -sum(count / total * math.log2(count / total) for count in Counter(value).values())


_PEM_HEADERS = re.compile(rb"(?:(?:Proc-Type|DEK-Info|Comment|Version|Hash|Charset):[^\n\\]*(?:\\n|\r?\n))+")
_PEM_SPACE = re.compile(rb"""(?:\\[nr]|\r?\n)[ \t]*|["',]""")
"""Line breaks (also escaped, as in JSON) with the next line's indent, and the quotes of split literals:
what may stand between two lines of a key body. A blank inside a line ends the body."""


_PEM_BODY = re.compile(rb"[A-Za-z0-9+/=]{16}")
_PEM_LEAD = re.compile(rb"""^(?:[- \t"']|\\[nr]|\r?\n)*""")


def pem_body(after: bytes) -> bool:
    """Key material follows a private key header: 16 base64 characters at least, before the END line and
    with no placeholder in it. A header alone (a constant, a regex, a docstring) is no key."""
    body = after.split(b"-----END", 1)[0].split(b"---- END", 1)[0]
    body = _PEM_HEADERS.sub(b"", _PEM_LEAD.sub(b"", body, count=1), count=1)
    if is_placeholder(body[:600]):
        return False
    return bool(_PEM_BODY.match(_PEM_SPACE.sub(b"", body)))
