"""The credential kinds relsafe knows, one content rule each, after the providers' published token formats."""

from __future__ import annotations

import re

from relsafe.security.content_rule import (
    MEDIUM,
    ContentRule,
    body,
    cases,
    entropy,
    is_placeholder,
    pem_body,
    rule,
)

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
    rule(
        "PyPI API token",
        _START
        + rb"pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw(?P<TestPyPI_API_token>))(?P<secret>"
        + body(_URLSAFE, 50)
        + rb")",
        b"pypi-AgE",
    ),
    # GitHub: classic (ghp_), OAuth (gho_), app user-to-server (ghu_), app installation (ghs_), refresh (ghr_)
    rule(
        "GitHub token",
        _START + rb"gh[pousr]_(?P<secret>" + body(_ALNUM, 36) + rb")" + _END,
        (b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"),
    ),
    rule(
        "GitHub token",
        _START + rb"github_pat_(?P<secret>" + body(_ALNUM + b"_", 60) + rb")",
        b"github_pat_",
    ),
    # GitLab: personal, deploy, feed, runner, CI job, trigger, agent, OAuth, SCIM tokens
    rule(
        "GitLab token",
        _START + rb"gl(?:pat|dt|ft|soat|rt|cbt|imt|ptt|agent|oas)-(?P<secret>" + body(_URLSAFE, 20) + rb")",
        (
            b"glpat-",
            b"gldt-",
            b"glft-",
            b"glsoat-",
            b"glrt-",
            b"glcbt-",
            b"glimt-",
            b"glptt-",
            b"glagent-",
            b"gloas-",
        ),
    ),
    rule(
        "Slack token",
        _START + rb"xox[abposr]-(?P<secret>[0-9]" + body(_ALNUM + b"\\-", 12) + rb"[A-Za-z0-9\-]{0,80})",
        b"xox",
    ),
    rule(
        "Slack token",
        _START + rb"xapp-[0-9]-[A-Z0-9]{9,12}-[0-9]{10,14}-(?P<secret>[a-f0-9]{32,64})",
        b"xapp-",
    ),
    rule(
        "Slack webhook",
        rb"hooks\.slack\.com/(?:services/T[A-Za-z0-9_]{4,64}/B[A-Za-z0-9_]{4,64}/(?P<secret>[A-Za-z0-9]{16,64})"
        rb"|(?:workflows|triggers)/T[A-Za-z0-9_]{4,64}/(?:[A-Za-z0-9_]{4,64}/)?[0-9]{6,20}/(?P<workflow>[A-Za-z0-9]{16,64}))",
        b"hooks.slack.com/",
        entropy=0,
    ),
    rule(
        "Stripe live key",
        _START + rb"[rs]k_live_(?P<secret>" + body(_ALNUM, 24) + rb")",
        b"k_live_",
        back=1,
    ),
    rule(
        "Google API key",
        _START + rb"AIza(?P<secret>" + body(_URLSAFE, 35) + rb")" + _END_URLSAFE,
        b"AIza",
    ),
    rule(
        "Google OAuth client secret",
        _START + rb"GOCSPX-(?P<secret>[A-Za-z0-9_\-]{28})" + _END_URLSAFE,
        b"GOCSPX-",
    ),
    # AWS access key ids: long-term (AKIA), temporary (ASIA), and the other unique-id prefixes of access keys
    rule(
        "AWS access key",
        rb"(?<![A-Z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)(?P<secret>[A-Z0-9]{16})(?![A-Z0-9])",
        (b"A3T", b"AKIA", b"ASIA", b"ABIA", b"ACCA"),
        entropy=2.5,
    ),
    # As configuration and code write it: a name holding "aws" and "secret", a separator, 40 base64 characters.
    rule(
        "AWS secret key",
        rb"(?i:aws)[A-Za-z0-9_.\- \t]{0,20}?(?i:secret)"
        + _VALUE_GAP
        + rb"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        cases(b"aws"),
        confidence=MEDIUM,
        check=_aws_secret,
    ),
    rule(
        "AWS secret key",
        rb"(?i:secretaccesskey)[\"']?[ \t]*[:=][ \t]*[\"']?(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        (
            b"SecretAccessKey",
            b"secretAccessKey",
            b"secretaccesskey",
            b"SECRETACCESSKEY",
        ),
        confidence=MEDIUM,
        check=_aws_secret,
    ),
    rule(
        "npm token",
        _START + rb"npm_(?P<secret>" + body(_ALNUM, 36) + rb")" + _END,
        b"npm_",
    ),
    rule(
        "npm token",
        rb"_authToken[ \t]*=[ \t]*(?!\$\{)(?P<secret>[A-Za-z0-9_./+=\-]{8,})",
        b"_authToken",
        entropy=2.5,
    ),
    # sk-…, sk-proj-…, sk-svcacct-…, sk-admin-…: every one holds the marker T3BlbkFJ ("OpenAI" in base64)
    rule(
        "OpenAI API key",
        _START + rb"sk-[A-Za-z0-9_\-]{16,160}T3BlbkFJ[A-Za-z0-9_\-]{16,160}",
        b"T3BlbkFJ",
        back=170,
        exact=False,
        tail=200,
    ),
    rule(
        "Anthropic API key",
        _START + rb"sk-ant-(?:api|admin|oat|ort)[0-9]{2}-(?P<secret>[A-Za-z0-9_\-]{80,120})" + _END_URLSAFE,
        b"sk-ant-",
    ),
    rule("Groq API key", _START + rb"gsk_(?P<secret>[A-Za-z0-9]{52})" + _END, b"gsk_"),
    rule(
        "Replicate API token",
        _START + rb"r8_(?P<secret>[A-Za-z0-9]{37})" + _END,
        b"r8_",
    ),
    rule(
        "Hugging Face token",
        _START + rb"(?:hf_|api_org_)(?P<secret>" + body(rb"A-Za-z", 34) + rb")" + _END,
        (b"hf_", b"api_org_"),
    ),
    # PEM, OpenSSH, PGP and SSH2 (four dashes) headers, also inside JSON strings, with key material after them
    rule(
        "private key",
        rb"BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?(?=(?P<secret>[\s\S]{0,700}))",
        b"PRIVATE KEY",
        back=48,
        check=pem_body,
        exact=False,
        tail=800,
    ),
    rule(
        "private key",
        rb"PuTTY-User-Key-File-[0-9]+:",
        b"PuTTY-User-Key-File-",
        entropy=0,
    ),
    rule(
        "age secret key",
        rb"AGE-SECRET-KEY-1(?P<secret>[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58})",
        b"AGE-SECRET-KEY-1",
    ),
    rule(
        "Azure storage account key",
        rb"AccountKey=(?P<secret>[A-Za-z0-9+/]{86}==)",
        b"AccountKey=",
    ),
    rule(
        "Azure AD client secret",
        rb"(?<![A-Za-z0-9_~.\-])[A-Za-z0-9_~.]{3}[0-9]Q~(?P<secret>[A-Za-z0-9_~.\-]{31,34})(?![A-Za-z0-9_~.\-])",
        b"Q~",
        back=4,
        check=lambda body: _mixed(body) and not is_placeholder(body) and entropy(body) >= 3.5,
    ),
    rule(
        "Azure DevOps token",
        rb"(?<![A-Za-z0-9])(?P<secret>[A-Za-z0-9]{76}AZDO[A-Za-z0-9]{4})(?![A-Za-z0-9])",
        b"AZDO",
        back=76,
        entropy=4.0,
    ),
    rule(
        "Microsoft Teams webhook",
        rb"(?:webhook\.office\.com/webhookb2|outlook\.office(?:365)?\.com/webhook)/"
        + _UUID
        + rb"@"
        + _UUID
        + rb"/IncomingWebhook/(?P<secret>[0-9a-f]{32})/"
        + _UUID,
        (
            b"webhook.office.com/webhookb2/",
            b"outlook.office.com/webhook/",
            b"outlook.office365.com/webhook/",
        ),
    ),
    rule(
        "Microsoft Teams webhook",
        rb"logic\.azure\.com(?::443)?/workflows/[0-9a-f]{32}/triggers/[^\s\"'<>?]{1,200}\?[^\s\"'<>]{0,300}?"
        rb"sig=(?P<secret>[A-Za-z0-9_%\-]{40,})",
        b"logic.azure.com",
    ),
    rule(
        "Discord webhook",
        rb"discord(?:app)?\.com/api/webhooks/[0-9]{17,20}/(?P<secret>[A-Za-z0-9_\-]{60,68})" + _END_URLSAFE,
        b"/api/webhooks/",
        back=16,
        exact=False,
        tail=120,
    ),
    rule(
        "Discord bot token",
        rb"(?i:discord)[^\n]{0,60}?(?<![A-Za-z0-9_\-])(?P<secret>[MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}"
        rb"\.[A-Za-z0-9_\-]{27,38})" + _END_URLSAFE,
        cases(b"discord"),
        confidence=MEDIUM,
    ),
    rule(
        "Telegram bot token",
        rb"(?<![A-Za-z0-9_])[0-9]{8,10}:AA(?P<secret>[A-Za-z0-9_\-]{33})" + _END_URLSAFE,
        b":AA",
        back=10,
        exact=False,
        tail=40,
    ),
    rule(
        "SendGrid API key",
        _START + rb"SG\.(?P<secret>[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43})" + _END_URLSAFE,
        b"SG.",
    ),
    rule(
        "Shopify token",
        _START + rb"shp(?:at|ca|pa|ss)_(?P<secret>[a-fA-F0-9]{32})" + _END,
        (b"shpat_", b"shpca_", b"shppa_", b"shpss_"),
    ),
    rule(
        "DigitalOcean token",
        _START + rb"do[opr]_v1_(?P<secret>[a-f0-9]{64})" + _END,
        (b"dop_v1_", b"doo_v1_", b"dor_v1_"),
    ),
    rule(
        "Heroku API key",
        _START + rb"HRKU-AA(?P<secret>[A-Za-z0-9_\-]{58})" + _END_URLSAFE,
        b"HRKU-AA",
    ),
    rule(
        "Heroku API key",
        rb"(?i:heroku)[A-Za-z0-9_.\- \t]{0,20}?(?i:key|token|secret|password|auth)"
        + _VALUE_GAP
        + rb"(?P<secret>"
        + _UUID
        + rb")(?![0-9a-fA-F\-])",
        cases(b"heroku"),
        confidence=MEDIUM,
    ),
    rule(
        "RubyGems API key",
        _START + rb"rubygems_(?P<secret>[a-f0-9]{48})" + _END,
        b"rubygems_",
    ),
    rule(
        "Mailgun API key",
        rb"(?i:mailgun)[^\n]{0,80}?(?<![A-Za-z0-9_\-])(?P<secret>key-[a-f0-9]{32}|[a-f0-9]{32}-[a-f0-9]{8}-[a-f0-9]{8})"
        + _END_URLSAFE,
        cases(b"mailgun"),
        confidence=MEDIUM,
    ),
    rule(
        "Mailchimp API key",
        rb"(?<![A-Za-z0-9])(?P<secret>[a-f0-9]{32})-us[0-9]{1,2}" + _END,
        b"-us",
        back=32,
    ),
    rule(
        "Square token",
        _START + rb"(?:EAAA|sq0atp-|sq0csp-)(?P<secret>[A-Za-z0-9_\-]{22,60})" + _END_URLSAFE,
        (b"EAAA", b"sq0atp-", b"sq0csp-"),
        entropy=3.5,
    ),
    rule(
        "Atlassian API token",
        _START + rb"ATATT3(?P<secret>[A-Za-z0-9_\-=]{150,200})",
        b"ATATT3",
    ),
    rule(
        "Databricks token",
        _START + rb"dapi(?P<secret>[a-f0-9]{32})(?:-[0-9])?" + _END,
        b"dapi",
    ),
    rule(
        "Postman API key",
        _START + rb"PMAK-(?P<secret>[a-f0-9]{24}-[a-f0-9]{34})" + _END,
        b"PMAK-",
    ),
    rule(
        "Vault token",
        _START + rb"hv[sb]\.(?P<secret>[A-Za-z0-9_\-]{90,400})" + _END_URLSAFE,
        (b"hvs.", b"hvb."),
    ),
    rule(
        "Terraform Cloud token",
        rb"(?<![A-Za-z0-9])[A-Za-z0-9]{14}\.atlasv1\.(?P<secret>[A-Za-z0-9_\-=]{60,70})" + _END_URLSAFE,
        b".atlasv1.",
        back=14,
    ),
    rule(
        "Docker Hub token",
        _START + rb"dckr_(?:pat|oat)_(?P<secret>[A-Za-z0-9_\-]{27,40})" + _END_URLSAFE,
        (b"dckr_pat_", b"dckr_oat_"),
    ),
    rule(
        "Artifactory API key",
        _START + rb"AKCp(?P<secret>[A-Za-z0-9]{69})" + _END,
        b"AKCp",
    ),
    rule(
        "Linear API key",
        _START + rb"lin_api_(?P<secret>[A-Za-z0-9]{40})" + _END,
        b"lin_api_",
    ),
    rule("New Relic API key", _START + rb"NRAK-(?P<secret>[A-Z0-9]{27})" + _END, b"NRAK-"),
    rule(
        "Grafana token",
        _START + rb"(?:glsa_(?P<secret>[A-Za-z0-9]{32}_[a-f0-9]{8})|glc_(?P<cloud>[A-Za-z0-9+/]{32,400}={0,2}))" + _END,
        (b"glsa_", b"glc_"),
    ),
    rule(
        "PlanetScale token",
        _START + rb"pscale_(?:tkn|pw|oauth)_(?P<secret>[A-Za-z0-9_.\-]{32,64})",
        b"pscale_",
    ),
    rule("Supabase token", _START + rb"sbp_(?P<secret>[a-f0-9]{40})" + _END, b"sbp_"),
    rule(
        "Tailscale key",
        _START + rb"tskey-[a-z]{3,8}-(?P<secret>[A-Za-z0-9]{6,20}-[A-Za-z0-9]{20,40})" + _END,
        b"tskey-",
    ),
    rule(
        "Doppler token",
        _START + rb"dp\.(?:pt|st|ct|sa|scim|audit)\.(?P<secret>[A-Za-z0-9]{40,44})" + _END,
        b"dp.",
    ),
    rule("Pulumi token", _START + rb"pul-(?P<secret>[a-f0-9]{40})" + _END, b"pul-"),
    rule(
        "Sentry token",
        _START + rb"(?:sntrys_(?P<secret>eyJ[A-Za-z0-9+/=_\-]{60,400})|sntryu_(?P<user>[a-f0-9]{64})" + _END + rb")",
        (b"sntrys_", b"sntryu_"),
    ),
    rule(
        "Notion token",
        _START + rb"ntn_(?P<secret>[0-9]{11}[A-Za-z0-9]{35})" + _END,
        b"ntn_",
    ),
    rule(
        "Figma token",
        _START + rb"figd_(?P<secret>[A-Za-z0-9_\-]{40})" + _END_URLSAFE,
        b"figd_",
    ),
    rule("Prefect API key", _START + rb"pnu_(?P<secret>[A-Za-z0-9]{36})" + _END, b"pnu_"),
    rule("Buildkite token", _START + rb"bkua_(?P<secret>[a-f0-9]{40})" + _END, b"bkua_"),
    rule(
        "Shippo token",
        _START + rb"shippo_live_(?P<secret>[a-f0-9]{40})" + _END,
        b"shippo_live_",
    ),
    rule(
        "Flutterwave secret key",
        _START + rb"FLWSECK-(?P<secret>[a-f0-9]{32})-X",
        b"FLWSECK-",
    ),
    rule(
        "Mapbox secret token",
        _START + rb"sk\.eyJ(?P<secret>[A-Za-z0-9_\-]{50,})\.[A-Za-z0-9_\-]{20,}",
        b"sk.eyJ",
    ),
    rule(
        "1Password service account token",
        _START + rb"ops_eyJ(?P<secret>[A-Za-z0-9+/=_\-]{200,})",
        b"ops_eyJ",
    ),
    # scheme://user:password@host, also percent-encoded, except templates (${PASSWORD}, $PASSWORD, {password},
    # <password>, %s, %(password)s, ***) and the words documentation and default setups put there
    # (user:password@, user:token@, user:xxx@, guest:guest@, scott:tiger@, postgres:postgres@)
    rule(
        "password in a URL",
        rb"://[^\s:/?#@'\"<>\[\]{}()$%*\\]{1,64}:" + _NOT_PLACEHOLDER + rb"[^\s/?#@'\",<>\[\]{}\\]{1,256}@",
        b"://",
        confidence=MEDIUM,
        check=lambda body: True,  # the placeholders are in the pattern: a percent-encoded password is one
        long_run=False,
    ),
)
