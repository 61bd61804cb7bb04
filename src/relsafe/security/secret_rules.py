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

import hashlib
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import PurePosixPath

import ahocorasick_rs

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


def _rule(
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
    return ContentRule(kind, re.compile(pattern), anchors, back, confidence, entropy, check, long_run, exact, tail)


def _cases(word: bytes) -> tuple[bytes, ...]:
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


def _pem_body(after: bytes) -> bool:
    """Key material follows a private key header: 16 base64 characters at least, before the END line and
    with no placeholder in it. A header alone (a constant, a regex, a docstring) is no key."""
    body = after.split(b"-----END", 1)[0].split(b"---- END", 1)[0]
    body = _PEM_HEADERS.sub(b"", _PEM_LEAD.sub(b"", body, count=1), count=1)
    if is_placeholder(body[:600]):
        return False
    return bool(_PEM_BODY.match(_PEM_SPACE.sub(b"", body)))


_URLSAFE = rb"A-Za-z0-9_\-"
_ALNUM = rb"A-Za-z0-9"
_HEX = rb"a-f0-9"
_START = rb"(?<![A-Za-z0-9_])"
"""A token starts at a word boundary: no letter, digit or underscore glued before it."""
_END = rb"(?![A-Za-z0-9_])"
_END_URLSAFE = rb"(?![A-Za-z0-9_\-])"
_NOT_PLACEHOLDER = (
    rb"(?!(?i:pass(?:word|wd)?|pwd|secret|token|changeme|guest|tiger|postgres|x+|\*+|\.\.\.|\xe2\x80\xa6)@"
    rb"|\$\{|\$[A-Za-z_]|%\(|%s@)"
)
_UUID = rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_VALUE_GAP = rb"""[A-Za-z0-9_.\- \t"'\[\]]{0,30}?[ \t"']*[:=>,(]{1,2}[ \t"'\[(]*"""
"""Between a keyword and its value: more of the name, then `=`, `:`, `=>`, `,` or `(`, quotes and blanks."""


def _mixed(value: bytes) -> bool:
    return bool(re.search(rb"[A-Z]", value) and re.search(rb"[a-z]", value) and re.search(rb"[0-9]", value))


def _aws_secret(body: bytes) -> bool:
    """40 base64 characters in mixed case with a digit: a sha1 hex digest or a RECORD hash is not one."""
    return _mixed(body) and not is_placeholder(body) and entropy(body) >= 4.0


# One rule per kind (or per shape of a kind); each is judged only around its anchors.
CONTENT_RULES: tuple[ContentRule, ...] = (
    _rule(
        "PyPI API token",
        _START
        + rb"pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw(?P<TestPyPI_API_token>))(?P<secret>"
        + _body(_URLSAFE, 50)
        + rb")",
        b"pypi-AgE",
    ),
    # GitHub: classic (ghp_), OAuth (gho_), app user-to-server (ghu_), app installation (ghs_), refresh (ghr_)
    _rule(
        "GitHub token",
        _START + rb"gh[pousr]_(?P<secret>" + _body(_ALNUM, 36) + rb")" + _END,
        (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"),
    ),
    _rule("GitHub token", _START + rb"github_pat_(?P<secret>" + _body(_ALNUM + b"_", 60) + rb")", b"github_pat_"),
    # GitLab: personal, deploy, feed, runner, CI job, trigger, agent, OAuth, SCIM tokens
    _rule(
        "GitLab token",
        _START + rb"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-(?P<secret>" + _body(_URLSAFE, 20) + rb")",
        (b"glpat-", b"gldt-", b"glft-", b"glsoat-", b"glrt-", b"glcbt-", b"glimt-", b"glptt-", b"glagent-", b"gloas-"),
    ),
    _rule(
        "Slack token",
        _START + rb"xox[abposr]-(?P<secret>[0-9]" + _body(_ALNUM + b"\\-", 12) + rb"[A-Za-z0-9\-]{0,80})",
        b"xox",
    ),
    _rule("Slack token", _START + rb"xapp-[0-9]-[A-Z0-9]{9,12}-[0-9]{10,14}-(?P<secret>[a-f0-9]{32,64})", b"xapp-"),
    _rule(
        "Slack webhook",
        rb"hooks\.slack\.com/(?:services/T[A-Za-z0-9_]{4,64}/B[A-Za-z0-9_]{4,64}/(?P<secret>[A-Za-z0-9]{16,64})"
        rb"|(?:workflows|triggers)/T[A-Za-z0-9_]{4,64}/(?:[A-Za-z0-9_]{4,64}/)?[0-9]{6,20}/(?P<workflow>[A-Za-z0-9]{16,64}))",
        b"hooks.slack.com/",
        entropy=0,
    ),
    _rule("Stripe live key", _START + rb"[rs]k_live_(?P<secret>" + _body(_ALNUM, 24) + rb")", b"k_live_", back=1),
    _rule("Google API key", _START + rb"AIza(?P<secret>" + _body(_URLSAFE, 35) + rb")" + _END_URLSAFE, b"AIza"),
    _rule(
        "Google OAuth client secret",
        _START + rb"GOCSPX-(?P<secret>[A-Za-z0-9_\-]{28})" + _END_URLSAFE,
        b"GOCSPX-",
    ),
    # AWS access key ids: long-term (AKIA), temporary (ASIA), and the other unique-id prefixes of access keys
    _rule(
        "AWS access key",
        rb"(?<![A-Z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)(?P<secret>[A-Z0-9]{16})(?![A-Z0-9])",
        (b"A3T", b"AKIA", b"ASIA", b"ABIA", b"ACCA"),
        entropy=2.5,
    ),
    # As configuration and code write it: a name holding "aws" and "secret", a separator, 40 base64 characters.
    _rule(
        "AWS secret key",
        rb"(?i:aws)[A-Za-z0-9_.\- \t]{0,20}?(?i:secret)"
        + _VALUE_GAP
        + rb"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        _cases(b"aws"),
        confidence=MEDIUM,
        check=_aws_secret,
    ),
    _rule(
        "AWS secret key",
        rb"(?i:secretaccesskey)[\"']?[ \t]*[:=][ \t]*[\"']?(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        (b"SecretAccessKey", b"secretAccessKey", b"secretaccesskey", b"SECRETACCESSKEY"),
        confidence=MEDIUM,
        check=_aws_secret,
    ),
    _rule("npm token", _START + rb"npm_(?P<secret>" + _body(_ALNUM, 36) + rb")" + _END, b"npm_"),
    _rule(
        "npm token",
        rb"_authToken[ \t]*=[ \t]*(?!\$\{)(?P<secret>[A-Za-z0-9_./+=\-]{8,})",
        b"_authToken",
        entropy=2.5,
    ),
    # sk-…, sk-proj-…, sk-svcacct-…, sk-admin-…: every one holds the marker T3BlbkFJ ("OpenAI" in base64)
    _rule(
        "OpenAI API key",
        _START + rb"sk-[A-Za-z0-9_\-]{16,160}T3BlbkFJ[A-Za-z0-9_\-]{16,160}",
        b"T3BlbkFJ",
        back=170,
        exact=False,
        tail=200,
    ),
    _rule(
        "Anthropic API key",
        _START + rb"sk-ant-(?:api|admin|oat|ort)[0-9]{2}-(?P<secret>[A-Za-z0-9_\-]{80,120})" + _END_URLSAFE,
        b"sk-ant-",
    ),
    _rule("Groq API key", _START + rb"gsk_(?P<secret>[A-Za-z0-9]{52})" + _END, b"gsk_"),
    _rule("Replicate API token", _START + rb"r8_(?P<secret>[A-Za-z0-9]{37})" + _END, b"r8_"),
    _rule(
        "Hugging Face token",
        _START + rb"(?:hf_|api_org_)(?P<secret>" + _body(rb"A-Za-z", 34) + rb")" + _END,
        (b"hf_", b"api_org_"),
    ),
    # PEM, OpenSSH, PGP and SSH2 (four dashes) headers, also inside JSON strings, with key material after them
    _rule(
        "private key",
        rb"BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?(?=(?P<secret>[\s\S]{0,700}))",
        b"PRIVATE KEY",
        back=48,
        check=_pem_body,
        exact=False,
        tail=800,
    ),
    _rule("private key", rb"PuTTY-User-Key-File-[0-9]+:", b"PuTTY-User-Key-File-", entropy=0),
    _rule(
        "age secret key",
        rb"AGE-SECRET-KEY-1(?P<secret>[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})",
        b"AGE-SECRET-KEY-1",
    ),
    _rule(
        "Azure storage account key",
        rb"AccountKey=(?P<secret>[A-Za-z0-9+/]{86}==)",
        b"AccountKey=",
    ),
    _rule(
        "Azure AD client secret",
        rb"(?<![A-Za-z0-9_~.\-])[A-Za-z0-9_~.]{3}[0-9]Q~(?P<secret>[A-Za-z0-9_~.\-]{31,34})(?![A-Za-z0-9_~.\-])",
        b"Q~",
        back=4,
        check=lambda body: _mixed(body) and not is_placeholder(body) and entropy(body) >= 3.5,
    ),
    _rule(
        "Azure DevOps token",
        rb"(?<![A-Za-z0-9])(?P<secret>[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4})(?![A-Za-z0-9])",
        b"AZDO",
        back=76,
        entropy=4.0,
    ),
    _rule(
        "Microsoft Teams webhook",
        rb"(?:webhook\.office\.com/webhookb2|outlook\.office(?:365)?\.com/webhook)/"
        + _UUID
        + rb"@"
        + _UUID
        + rb"/IncomingWebhook/(?P<secret>[0-9a-f]{32})/"
        + _UUID,
        (b"webhook.office.com/webhookb2/", b"outlook.office.com/webhook/", b"outlook.office365.com/webhook/"),
    ),
    _rule(
        "Microsoft Teams webhook",
        rb"logic\.azure\.com(?::443)?/workflows/[0-9a-f]{32}/triggers/[^\s\"'<>?]{1,200}\?[^\s\"'<>]{0,300}?"
        rb"sig=(?P<secret>[A-Za-z0-9_%\-]{40,})",
        b"logic.azure.com",
    ),
    _rule(
        "Discord webhook",
        rb"discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/(?P<secret>[A-Za-z0-9_\-]{60,68})" + _END_URLSAFE,
        b"/api/webhooks/",
        back=16,
        exact=False,
        tail=120,
    ),
    _rule(
        "Discord bot token",
        rb"(?i:discord)[^\n]{0,60}?(?<![A-Za-z0-9_\-])(?P<secret>[MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}"
        rb"\.[A-Za-z0-9_\-]{27,38})" + _END_URLSAFE,
        _cases(b"discord"),
        confidence=MEDIUM,
    ),
    _rule(
        "Telegram bot token",
        rb"(?<![A-Za-z0-9_])[0-9]{8,10}:AA(?P<secret>[A-Za-z0-9_\-]{33})" + _END_URLSAFE,
        b":AA",
        back=10,
        exact=False,
        tail=40,
    ),
    _rule(
        "SendGrid API key",
        _START + rb"SG\.(?P<secret>[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})" + _END_URLSAFE,
        b"SG.",
    ),
    _rule(
        "Shopify token",
        _START + rb"shp(?:at|ca|pa|ss)_(?P<secret>[a-fA-F0-9]{32})" + _END,
        (b"shpat_", b"shpca_", b"shppa_", b"shpss_"),
    ),
    _rule(
        "DigitalOcean token",
        _START + rb"do[opr]_v1_(?P<secret>[a-f0-9]{64})" + _END,
        (b"dop_v1_", b"doo_v1_", b"dor_v1_"),
    ),
    _rule("Heroku API key", _START + rb"HRKU-AA(?P<secret>[A-Za-z0-9_\-]{58})" + _END_URLSAFE, b"HRKU-AA"),
    _rule(
        "Heroku API key",
        rb"(?i:heroku)[A-Za-z0-9_.\- \t]{0,20}?(?i:key|token|secret|password|auth)"
        + _VALUE_GAP
        + rb"(?P<secret>"
        + _UUID
        + rb")(?![0-9a-fA-F\-])",
        _cases(b"heroku"),
        confidence=MEDIUM,
    ),
    _rule("RubyGems API key", _START + rb"rubygems_(?P<secret>[a-f0-9]{48})" + _END, b"rubygems_"),
    _rule(
        "Mailgun API key",
        rb"(?i:mailgun)[^\n]{0,80}?(?<![A-Za-z0-9_\-])(?P<secret>key-[a-f0-9]{32}|[a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8})"
        + _END_URLSAFE,
        _cases(b"mailgun"),
        confidence=MEDIUM,
    ),
    _rule("Mailchimp API key", rb"(?<![A-Za-z0-9])(?P<secret>[a-f0-9]{32})-us[0-9]{1,2}" + _END, b"-us", back=32),
    _rule(
        "Square token",
        _START + rb"(?:EAAA|sq0atp-|sq0csp-)(?P<secret>[A-Za-z0-9_\-]{22,60})" + _END_URLSAFE,
        (b"EAAA", b"sq0atp-", b"sq0csp-"),
        entropy=3.5,
    ),
    _rule("Atlassian API token", _START + rb"ATATT3(?P<secret>[A-Za-z0-9_\-=]{150,200})", b"ATATT3"),
    _rule("Databricks token", _START + rb"dapi(?P<secret>[a-f0-9]{32})(?:-[0-9])?" + _END, b"dapi"),
    _rule("Postman API key", _START + rb"PMAK-(?P<secret>[a-f0-9]{24}-[a-f0-9]{34})" + _END, b"PMAK-"),
    _rule("Vault token", _START + rb"hv[sb]\.(?P<secret>[A-Za-z0-9_\-]{90,400})" + _END_URLSAFE, (b"hvs.", b"hvb.")),
    _rule(
        "Terraform Cloud token",
        rb"(?<![A-Za-z0-9])[A-Za-z0-9]{14}\.atlasv1\.(?P<secret>[A-Za-z0-9_\-=]{60,70})" + _END_URLSAFE,
        b".atlasv1.",
        back=14,
    ),
    _rule(
        "Docker Hub token",
        _START + rb"dckr_(?:pat|oat)_(?P<secret>[A-Za-z0-9_\-]{27,40})" + _END_URLSAFE,
        (b"dckr_pat_", b"dckr_oat_"),
    ),
    _rule("Artifactory API key", _START + rb"AKCp(?P<secret>[A-Za-z0-9]{69})" + _END, b"AKCp"),
    _rule("Linear API key", _START + rb"lin_api_(?P<secret>[A-Za-z0-9]{40})" + _END, b"lin_api_"),
    _rule("New Relic API key", _START + rb"NRAK-(?P<secret>[A-Z0-9]{27})" + _END, b"NRAK-"),
    _rule(
        "Grafana token",
        _START + rb"(?:glsa_(?P<secret>[A-Za-z0-9]{32}_[a-f0-9]{8})|glc_(?P<cloud>[A-Za-z0-9+/]{32,400}={0,2}))" + _END,
        (b"glsa_", b"glc_"),
    ),
    _rule("PlanetScale token", _START + rb"pscale_(?:tkn|pw|oauth)_(?P<secret>[A-Za-z0-9_.\-]{32,64})", b"pscale_"),
    _rule("Supabase token", _START + rb"sbp_(?P<secret>[a-f0-9]{40})" + _END, b"sbp_"),
    _rule(
        "Tailscale key",
        _START + rb"tskey-[a-z]{3,8}-(?P<secret>[A-Za-z0-9]{6,20}-[A-Za-z0-9]{20,40})" + _END,
        b"tskey-",
    ),
    _rule("Doppler token", _START + rb"dp\.(?:pt|st|ct|sa|scim|audit)\.(?P<secret>[A-Za-z0-9]{40,44})" + _END, b"dp."),
    _rule("Pulumi token", _START + rb"pul-(?P<secret>[a-f0-9]{40})" + _END, b"pul-"),
    _rule(
        "Sentry token",
        _START + rb"(?:sntrys_(?P<secret>eyJ[A-Za-z0-9+/=_\-]{60,400})|sntryu_(?P<user>[a-f0-9]{64})" + _END + rb")",
        (b"sntrys_", b"sntryu_"),
    ),
    _rule("Notion token", _START + rb"ntn_(?P<secret>[0-9]{11}[A-Za-z0-9]{35})" + _END, b"ntn_"),
    _rule("Figma token", _START + rb"figd_(?P<secret>[A-Za-z0-9_\-]{40})" + _END_URLSAFE, b"figd_"),
    _rule("Prefect API key", _START + rb"pnu_(?P<secret>[A-Za-z0-9]{36})" + _END, b"pnu_"),
    _rule("Buildkite token", _START + rb"bkua_(?P<secret>[a-f0-9]{40})" + _END, b"bkua_"),
    _rule("Shippo token", _START + rb"shippo_live_(?P<secret>[a-f0-9]{40})" + _END, b"shippo_live_"),
    _rule("Flutterwave secret key", _START + rb"FLWSECK-(?P<secret>[a-f0-9]{32})-X", b"FLWSECK-"),
    _rule("Mapbox secret token", _START + rb"sk\.eyJ(?P<secret>[A-Za-z0-9_\-]{50,})\.[A-Za-z0-9_\-]{20,}", b"sk.eyJ"),
    _rule("1Password service account token", _START + rb"ops_eyJ(?P<secret>[A-Za-z0-9+/=_\-]{200,})", b"ops_eyJ"),
    # scheme://user:password@host, also percent-encoded, except templates (${PASSWORD}, $PASSWORD, {password},
    # <password>, %s, %(password)s, ***) and the words documentation and default setups put there
    # (user:password@, user:token@, user:xxx@, guest:guest@, scott:tiger@, postgres:postgres@)
    _rule(
        "password in a URL",
        rb"://[^\s:/?#@'\"<>\[\]{}()$%*\\]{1,64}:" + _NOT_PLACEHOLDER + rb"[^\s/?#@'\",<>\[\]{}\\]{1,256}@",
        b"://",
        confidence=MEDIUM,
        check=lambda _body: True,  # the placeholders are in the pattern: a percent-encoded password is one
        long_run=False,
    ),
)

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
    for _kind in [_content_rule.kind, *(name.replace("_", " ") for name in _content_rule.subkinds)]:
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
