"""A corpus of secrets planted the ways they reach real distributions, and clean look-alikes.

Every secret is assembled at run time from a prefix and random characters, so
this file holds no token-shaped string itself: relsafe's own sdist ships its
tests and must pass its own scan.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import lzma
import random
import string
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tests.support.archives import tar_of, zip_of

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
UPPER_DIGITS = string.ascii_uppercase + string.digits
DIGITS = string.digits
BASE64 = ALNUM + "+/"


def rand(alphabet: str, length: int) -> str:
    return "".join(random.choices(alphabet, k=length))


def pypi_token() -> str:
    return "pypi-AgEIcHlwaS5vcmc" + rand(URLSAFE, 160)


def testpypi_token() -> str:
    return "pypi-AgENdGVzdC5weXBpLm9yZw" + rand(URLSAFE, 160)


def pem(label: str, lines: int = 6) -> str:
    body = "\n".join(rand(BASE64, 64) for _ in range(lines))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


def private(label: str) -> str:
    return pem(f"{label}PRIVATE KEY".strip())


def wrapped(text: str, width: int = 76) -> str:
    return "\n".join(text[i : i + width] for i in range(0, len(text), width))


def adjacent_literals(token: str, piece: int = 30) -> str:
    parts = [token[i : i + piece] for i in range(0, len(token), piece)]
    return "TOKEN = (\n" + "".join(f'    "{part}"\n' for part in parts) + ")\n"


def pypirc(token: str) -> bytes:
    return f"[distutils]\nindex-servers = pypi\n\n[pypi]\nusername = __token__\npassword = {token}\n".encode()


@dataclass(frozen=True)
class Variant:
    name: str
    files: Callable[[], dict[str, bytes]]
    """The members to plant beside the package's own, made afresh for each distribution."""
    archived: bool = False
    """Only inside an archive: a scanner that reads plain files cannot see it."""


def _text(path: str, make: Callable[[], str]) -> Callable[[], dict[str, bytes]]:
    return lambda: {path: make().encode()}


PLANTED: tuple[Variant, ...] = (
    # tokens in source and data files
    Variant("pypi token in code", _text("pkg/settings.py", lambda: f'UPLOAD_TOKEN = "{pypi_token()}"\n')),
    Variant("testpypi token in code", _text("pkg/settings.py", lambda: f"token = '{testpypi_token()}'\n")),
    Variant("pypi token in adjacent literals", _text("pkg/settings.py", lambda: adjacent_literals(pypi_token()))),
    Variant(
        "pypi token joined with +",
        _text("pkg/settings.py", lambda: (lambda t: f'TOKEN = "{t[:40]}" + \\\n    "{t[40:]}"\n')(pypi_token())),
    ),
    Variant(
        "pypi token split after its prefix",
        _text("pkg/settings.py", lambda: (lambda t: f'TOKEN = "{t[:20]}" + "{t[20:]}"\n')(pypi_token())),
    ),
    Variant("pypi token wrapped over lines", _text("pkg/notes.txt", lambda: "token:\n" + wrapped(pypi_token()) + "\n")),
    Variant("github classic token", _text("pkg/ci.py", lambda: f'GH = "ghp_{rand(ALNUM, 36)}"\n')),
    Variant("github oauth token", _text("pkg/ci.py", lambda: f'GH = "gho_{rand(ALNUM, 36)}"\n')),
    Variant("github app installation token", _text("pkg/ci.py", lambda: f'GH = "ghs_{rand(ALNUM, 36)}"\n')),
    Variant("github app user token", _text("pkg/ci.py", lambda: f'GH = "ghu_{rand(ALNUM, 36)}"\n')),
    Variant(
        "github fine-grained token",
        _text("pkg/ci.yml", lambda: f"token: github_pat_{rand(ALNUM, 22)}_{rand(ALNUM, 59)}\n"),
    ),
    Variant("gitlab personal token", _text("pkg/ci.py", lambda: f'GITLAB = "glpat-{rand(URLSAFE, 20)}"\n')),
    Variant("gitlab runner token", _text("pkg/runner.toml", lambda: f'token = "glrt-{rand(URLSAFE, 24)}"\n')),
    Variant(
        "slack bot token",
        _text("pkg/notify.py", lambda: f'SLACK = "xoxb-{rand(DIGITS, 12)}-{rand(DIGITS, 12)}-{rand(ALNUM, 24)}"\n'),
    ),
    Variant(
        "slack webhook",
        _text(
            "pkg/notify.py",
            lambda: (
                "HOOK = 'https://hooks.slack.com/services/"
                + f"T{rand(UPPER_DIGITS, 8)}/B{rand(UPPER_DIGITS, 8)}/{rand(ALNUM, 24)}'\n"
            ),
        ),
    ),
    Variant("stripe live secret key", _text("pkg/billing.py", lambda: f'STRIPE = "sk_live_{rand(ALNUM, 24)}"\n')),
    Variant("stripe restricted key", _text("pkg/billing.py", lambda: f'STRIPE = "rk_live_{rand(ALNUM, 24)}"\n')),
    Variant("google api key", _text("pkg/maps.js", lambda: f'const key = "AIza{rand(URLSAFE, 35)}";\n')),
    Variant("npm token", _text("pkg/publish.sh", lambda: f"export NPM_TOKEN=npm_{rand(ALNUM, 36)}\n")),
    Variant(
        "npmrc auth token",
        _text("pkg/js/.npmrc", lambda: f"//registry.npmjs.org/:_authToken={uuid.uuid4()}\n"),
    ),
    Variant("aws access key id", _text("pkg/cloud.py", lambda: f'KEY_ID = "AKIA{rand(UPPER_DIGITS, 16)}"\n')),
    Variant("aws temporary key id", _text("pkg/cloud.py", lambda: f'KEY_ID = "ASIA{rand(UPPER_DIGITS, 16)}"\n')),
    Variant(
        "aws secret key in code",
        _text("pkg/cloud.py", lambda: f'aws_secret_access_key = "{rand(BASE64, 40)}"\n'),
    ),
    Variant(
        "aws credentials file",
        _text(
            "pkg/.aws/credentials",
            lambda: (
                f"[default]\naws_access_key_id = AKIA{rand(UPPER_DIGITS, 16)}\n"
                f"aws_secret_access_key = {rand(BASE64, 40)}\n"
            ),
        ),
    ),
    Variant("rsa private key", _text("pkg/certs/server.txt", lambda: private("RSA "))),
    Variant("ec private key", _text("pkg/certs/server.txt", lambda: private("EC "))),
    Variant("openssh private key", _text("pkg/deploy_key", lambda: private("OPENSSH "))),
    Variant("pkcs8 private key", _text("pkg/certs/key.txt", lambda: private(""))),
    Variant("encrypted private key", _text("pkg/certs/key.txt", lambda: private("ENCRYPTED "))),
    Variant("pgp private key", _text("pkg/signing.asc", lambda: pem("PGP PRIVATE KEY BLOCK"))),
    Variant(
        "private key inside json",
        _text(
            "pkg/service-account.json",
            lambda: '{"type": "service_account", "private_key": "' + private("").replace("\n", "\\n") + '"}\n',
        ),
    ),
    Variant(
        "putty key content",
        _text(
            "pkg/keys/deploy.txt",
            lambda: (
                "PuTTY-User-Key-File-"
                + "3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\n"
                + rand(BASE64, 44)
                + "\n"
            ),
        ),
    ),
    Variant(
        "password in a database url",
        _text("pkg/db.py", lambda: f'DSN = "postgres://admin:{rand(ALNUM, 14)}@db.internal:5432/app"\n'),
    ),
    Variant(
        "password in an index url",
        _text("requirements.txt", lambda: f"--extra-index-url https://deploy:{rand(ALNUM, 20)}@pypi.corp.example/\n"),
    ),
    Variant(
        "openai key",
        _text("pkg/ai.py", lambda: f'OPENAI = "sk-{rand(ALNUM, 20)}T3BlbkFJ{rand(ALNUM, 20)}"\n'),
    ),
    # files that are secrets by name
    Variant("pypirc at the root", lambda: {".pypirc": pypirc(pypi_token())}),
    Variant("pypirc in a package folder", lambda: {"pkg/data/.pypirc": pypirc(testpypi_token())}),
    Variant("pypirc without its dot", lambda: {"pkg/pypirc": pypirc(pypi_token())}),
    Variant("pypirc backup", lambda: {"pkg/.pypirc.bak": b"[pypi]\nusername = me\npassword = hunter2-but-longer\n"}),
    Variant("netrc", lambda: {"pkg/.netrc": b"machine upload.pypi.org login me password correct-horse-battery\n"}),
    Variant(
        "git credentials",
        lambda: {"pkg/.git-credentials": f"https://me:{rand(ALNUM, 20)}@github.com\n".encode()},
    ),
    Variant("dot env", lambda: {"pkg/.env": f"DEBUG=1\nSECRET_KEY={rand(ALNUM, 32)}\n".encode()}),
    Variant("named env", lambda: {"pkg/prod.env": f"DB_PASSWORD={rand(ALNUM, 16)}\n".encode()}),
    Variant("env local", lambda: {"pkg/.env.local": f"export API_KEY='{rand(ALNUM, 24)}'\n".encode()}),
    Variant("ssh key without header", lambda: {"pkg/keys/id_rsa": wrapped(rand(BASE64, 512), 64).encode()}),
    Variant("ed25519 key file", lambda: {"pkg/keys/id_ed25519": private("OPENSSH ").encode()}),
    Variant("putty key file", lambda: {"pkg/keys/deploy.ppk": b"binary-ish\x00\x01 key material"}),
    Variant("pkcs12 store", lambda: {"pkg/keys/client.p12": bytes(random.getrandbits(8) for _ in range(256))}),
    Variant("stale pyc", lambda: {"pkg/__pycache__/settings.cpython-311.pyc": b"\xa7\r\r\n" + bytes(60)}),
    Variant("pyo", lambda: {"pkg/old.pyo": b"\x03\xf3\r\n" + bytes(40)}),
    Variant("git folder", lambda: {"pkg/vendored/.git/config": b"[core]\n\tbare = false\n"}),
    Variant("token in a member name", lambda: {f"pkg/ghp_{rand(ALNUM, 36)}.txt": b"nothing here\n"}),
    # containers
    Variant(
        "pypirc in a nested zip",
        lambda: {"tests/data/home.zip": zip_of({".pypirc": pypirc(pypi_token())})},
        archived=True,
    ),
    Variant(
        "token in a stored nested zip",
        lambda: {"pkg/fixtures.zip": zip_of({"conf.py": f"T = 'ghp_{rand(ALNUM, 36)}'".encode()}, zipfile.ZIP_STORED)},
        archived=True,
    ),
    Variant(
        "key in a nested tar",
        lambda: {"tests/data/keys.tar": tar_of({"home/.ssh/id_rsa": private("RSA ").encode()})},
        archived=True,
    ),
    Variant(
        "env in a nested tar.gz",
        lambda: {"tests/data/project.tar.gz": tar_of({"proj/.env": b"API_TOKEN=abcdef123456\n"}, "w:gz")},
        archived=True,
    ),
    Variant(
        "token in a gz member",
        lambda: {"pkg/logs/upload.log.gz": gzip.compress(f"using {pypi_token()}\n".encode())},
        archived=True,
    ),
    Variant(
        "netrc in a tar.xz",
        lambda: {"tests/data/backup.tar.xz": lzma.compress(tar_of({"home/.netrc": b"machine x password zzzzzz\n"}))},
        archived=True,
    ),
    Variant(
        "token in a bz2 member",
        lambda: {"pkg/data/dump.sql.bz2": bz2.compress(f"INSERT INTO t VALUES ('{testpypi_token()}');\n".encode())},
        archived=True,
    ),
    Variant(
        "zip in a zip in a tar.gz",
        lambda: {
            "tests/data/deep.tar.gz": tar_of(
                {"outer.zip": zip_of({"inner.zip": zip_of({"creds.py": f"AKIA{rand(UPPER_DIGITS, 16)}".encode()})})},
                "w:gz",
            )
        },
        archived=True,
    ),
)


def ca_bundle() -> bytes:
    """certifi's real CA bundle: certificates only (certifi comes with requests, a twine dependency)."""
    import certifi

    return Path(certifi.where()).read_bytes()


CLEAN: dict[str, Callable[[], dict[str, bytes]]] = {
    "ca bundle": lambda: {"pkg/cacert.pem": ca_bundle()},
    "env template": lambda: {"pkg/.env.example": b"# fill in\nAPI_KEY=\nSECRET=''\nexport DATABASE_URL=\n"},
    "env without secrets": lambda: {"pkg/.env": b"DEBUG=1\nPORT=8000\nLOG_LEVEL=info\n"},
    "prose about tokens": lambda: {
        "README.md": b"Upload with a PyPI API token (it starts with pypi-) and username __token__.\n"
        b"Set `password = <your token>` in ~/.pypirc; never commit it. AKIA keys belong in a vault.\n"
    },
    "url placeholders": lambda: {
        "docs/install.md": b"pip install --index-url https://user:password@host/simple pkg\n"
        b"git clone https://${USER}:${TOKEN}@example.com/repo.git\n"
        b"curl https://{user}:{password}@api.example.com\nssh://git@github.com/org/repo.git\n"
    },
    "ssh public key": lambda: {"pkg/keys/id_ed25519.pub": f"ssh-ed25519 {rand(BASE64, 68)} me@host\n".encode()},
    "code reading secrets from the environment": lambda: {
        "pkg/auth.py": b'import os\n\npassword = os.environ["PASSWORD"]\ntoken = os.getenv("GITHUB_TOKEN")\n'
        b'aws_region = "us-east-1"\n'
    },
    "short look-alikes": lambda: {
        "pkg/names.py": b'PREFIX = "ghp_"\nEXAMPLE_ID = "AKIAEXAMPLE"\nheader = "-----BEGIN PUBLIC KEY-----"\n'
    },
    "clean nested zip": lambda: {"tests/data/sample.zip": zip_of({"a.txt": b"hello\n", "b/c.py": b"x = 1\n"})},
    "base64 image": lambda: {"pkg/logo.txt": base64.b64encode(bytes(random.getrandbits(8) for _ in range(3000)))},
}


HEX = "0123456789abcdef"
LETTERS = string.ascii_letters
BECH32 = "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L"


def mixed(alphabet: str, length: int) -> str:
    """Random characters holding an upper-case letter, a lower-case letter and a digit, as real keys do."""
    while True:
        value = rand(alphabet, length)
        if any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value):
            return value


def _uuid() -> str:
    return str(uuid.uuid4())


# One realistic sample per kind the content rules report, generated from the kind's public format (prefix,
# alphabet, length); every one random, never a real credential, and assembled at run time so that this file
# holds no credential-shaped string. Each is a line of code or configuration as it would leak.
KIND_SAMPLES: dict[str, Callable[[], str]] = {
    "PyPI API token": lambda: f'TOKEN = "{pypi_token()}"',
    "TestPyPI API token": lambda: f'TOKEN = "{testpypi_token()}"',
    "GitHub token": lambda: 'GH_TOKEN = "gh' + f'p_{rand(ALNUM, 36)}"',
    "GitLab token": lambda: "token: gl" + f"pat-{rand(URLSAFE, 20)}",
    "Slack token": lambda: "SLACK_APP_TOKEN=xa" + f"pp-1-A{rand(UPPER_DIGITS, 10)}-{rand(DIGITS, 13)}-{rand(HEX, 64)}",
    "Slack webhook": lambda: (
        "url = 'https://hooks.slack.com/" + f"workflows/T{rand(UPPER_DIGITS, 10)}/A{rand(UPPER_DIGITS, 10)}/"
        f"{rand(DIGITS, 18)}/{rand(ALNUM, 24)}'"
    ),
    "Stripe live key": lambda: 'stripe.api_key = "sk' + f'_live_{rand(ALNUM, 24)}"',
    "Google API key": lambda: 'MAPS_KEY = "AI' + f'za{rand(URLSAFE, 35)}"',
    "Google OAuth client secret": lambda: '"client_secret": "GOC' + f'SPX-{rand(URLSAFE, 28)}"',
    "AWS access key": lambda: 'aws_access_key_id = "AK' + f'IA{rand(UPPER_DIGITS, 16)}"',
    "AWS secret key": lambda: f"aws_secret_access_key = {mixed(BASE64, 40)}",
    "npm token": lambda: "//registry.npmjs.org/:_authToken=np" + f"m_{rand(ALNUM, 36)}",
    "OpenAI API key": lambda: 'OPENAI_API_KEY = "sk-proj-' + f"{rand(URLSAFE, 20)}T3Blb" + f'kFJ{rand(URLSAFE, 20)}"',
    "Anthropic API key": lambda: 'ANTHROPIC_API_KEY = "sk-an' + f't-api03-{rand(URLSAFE, 93)}AA"',
    "Groq API key": lambda: 'GROQ_API_KEY = "gs' + f'k_{rand(ALNUM, 52)}"',
    "Replicate API token": lambda: "REPLICATE_API_TOKEN=r8" + f"_{rand(ALNUM, 37)}",
    "Hugging Face token": lambda: 'HF_TOKEN = "h' + f'f_{rand(LETTERS, 34)}"',
    "private key": lambda: private("EC "),
    "age secret key": lambda: "AGE-SECRET-" + f"KEY-1{rand(BECH32, 58)}",
    "Azure storage account key": lambda: (
        "DefaultEndpointsProtocol=https;AccountName=acme;Account" + f"Key={rand(BASE64, 86)}==;"
        "EndpointSuffix=core.windows.net"
    ),
    "Azure AD client secret": lambda: (
        f'AZURE_CLIENT_SECRET = "{rand(ALNUM, 3)}{random.choice(DIGITS)}Q' + f'~{mixed(ALNUM + "_~.-", 34)}"'
    ),
    "Azure DevOps token": lambda: f'ADO_PAT = "{rand(ALNUM, 76)}AZ' + f'DO{rand(ALNUM, 4)}"',
    "Microsoft Teams webhook": lambda: (
        "https://acme.webhook.office.com/" + f"webhookb2/{_uuid()}@{_uuid()}/IncomingWebhook/{rand(HEX, 32)}/{_uuid()}"
    ),
    "Discord webhook": lambda: "https://discord.com/api/" + f"webhooks/{rand(DIGITS, 18)}/{rand(URLSAFE, 68)}",
    "Discord bot token": lambda: 'DISCORD_TOKEN = "M' + f'{rand(ALNUM, 25)}.{rand(URLSAFE, 6)}.{rand(URLSAFE, 38)}"',
    "Telegram bot token": lambda: (
        f'TELEGRAM_BOT_TOKEN = "{random.choice("123456789")}{rand(DIGITS, 9)}:A' + f'A{rand(URLSAFE, 33)}"'
    ),
    "SendGrid API key": lambda: 'SENDGRID_API_KEY = "S' + f'G.{rand(URLSAFE, 22)}.{rand(URLSAFE, 43)}"',
    "Shopify token": lambda: 'SHOPIFY_TOKEN = "shp' + f'at_{rand(HEX, 32)}"',
    "DigitalOcean token": lambda: 'DO_TOKEN = "do' + f'p_v1_{rand(HEX, 64)}"',
    "Heroku API key": lambda: 'HEROKU_API_KEY = "HR' + f'KU-AA{rand(URLSAFE, 58)}"',
    "RubyGems API key": lambda: ":rubygems_api_key: ruby" + f"gems_{rand(HEX, 48)}",
    "Mailgun API key": lambda: 'MAILGUN_API_KEY = "ke' + f'y-{rand(HEX, 32)}"',
    "Mailchimp API key": lambda: f'MAILCHIMP_KEY = "{rand(HEX, 32)}-u' + 's12"',
    "Square token": lambda: 'SQUARE_ACCESS_TOKEN = "EA' + f'AA{rand(URLSAFE, 60)}"',
    "Atlassian API token": lambda: 'JIRA_API_TOKEN = "ATA' + f'TT3{rand(URLSAFE, 186)}"',
    "Databricks token": lambda: 'DATABRICKS_TOKEN = "da' + f'pi{rand(HEX, 32)}"',
    "Postman API key": lambda: 'POSTMAN_API_KEY = "PM' + f'AK-{rand(HEX, 24)}-{rand(HEX, 34)}"',
    "Vault token": lambda: 'VAULT_TOKEN = "hv' + f's.{rand(URLSAFE, 91)}"',
    "Terraform Cloud token": lambda: f'token = "{rand(ALNUM, 14)}.atlas' + f'v1.{rand(URLSAFE, 67)}"',
    "Docker Hub token": lambda: "DOCKERHUB_TOKEN=dckr" + f"_pat_{rand(URLSAFE, 27)}",
    "Artifactory API key": lambda: 'ARTIFACTORY_API_KEY = "AK' + f'Cp{rand(ALNUM, 69)}"',
    "Linear API key": lambda: 'LINEAR_API_KEY = "lin' + f'_api_{rand(ALNUM, 40)}"',
    "New Relic API key": lambda: 'NEW_RELIC_API_KEY = "NR' + f'AK-{rand(UPPER_DIGITS, 27)}"',
    "Grafana token": lambda: 'GRAFANA_TOKEN = "gl' + f'sa_{rand(ALNUM, 32)}_{rand(HEX, 8)}"',
    "PlanetScale token": lambda: 'PLANETSCALE_TOKEN = "pscale' + f'_tkn_{rand(URLSAFE, 43)}"',
    "Supabase token": lambda: 'SUPABASE_ACCESS_TOKEN = "sb' + f'p_{rand(HEX, 40)}"',
    "Tailscale key": lambda: 'TS_API_KEY = "tskey' + f'-api-k{rand(ALNUM, 10)}CNTRL-{rand(ALNUM, 32)}"',
    "Doppler token": lambda: 'DOPPLER_TOKEN = "dp' + f'.pt.{rand(ALNUM, 43)}"',
    "Pulumi token": lambda: 'PULUMI_ACCESS_TOKEN = "pu' + f'l-{rand(HEX, 40)}"',
    "Sentry token": lambda: 'SENTRY_AUTH_TOKEN = "sntr' + f'yu_{rand(HEX, 64)}"',
    "Notion token": lambda: 'NOTION_TOKEN = "nt' + f'n_{rand(DIGITS, 11)}{rand(ALNUM, 35)}"',
    "Figma token": lambda: 'FIGMA_TOKEN = "fig' + f'd_{rand(URLSAFE, 40)}"',
    "Prefect API key": lambda: 'PREFECT_API_KEY = "pn' + f'u_{rand(ALNUM, 36)}"',
    "Buildkite token": lambda: 'BUILDKITE_TOKEN = "bk' + f'ua_{rand(HEX, 40)}"',
    "Shippo token": lambda: 'SHIPPO_TOKEN = "shippo' + f'_live_{rand(HEX, 40)}"',
    "Flutterwave secret key": lambda: 'FLW_SECRET_KEY = "FLWSE' + f'CK-{rand(HEX, 32)}-X"',
    "Mapbox secret token": lambda: 'MAPBOX_TOKEN = "sk.ey' + f'J{rand(URLSAFE, 60)}.{rand(URLSAFE, 22)}"',
    "1Password service account token": lambda: 'OP_SERVICE_ACCOUNT_TOKEN = "ops' + f'_eyJ{rand(URLSAFE, 250)}"',
    "password in a URL": lambda: f'DSN = "postgres://app:{rand(ALNUM, 16)}@db.internal:5432/app"',
}

# More shapes of kinds above: each must be found as its kind too.
SHAPE_SAMPLES: dict[str, tuple[str, Callable[[], str]]] = {
    "github fine-grained": ("GitHub token", lambda: "github" + f"_pat_{rand(ALNUM, 22)}_{rand(ALNUM, 59)}"),
    "slack bot": ("Slack token", lambda: "xo" + f"xb-{rand(DIGITS, 12)}-{rand(DIGITS, 12)}-{rand(ALNUM, 24)}"),
    "slack services webhook": (
        "Slack webhook",
        lambda: (
            "https://hooks.slack.com/" + f"services/T{rand(UPPER_DIGITS, 8)}/B{rand(UPPER_DIGITS, 8)}/{rand(ALNUM, 24)}"
        ),
    ),
    "slack trigger webhook": (
        "Slack webhook",
        lambda: "https://hooks.slack.com/" + f"triggers/T{rand(UPPER_DIGITS, 9)}/{rand(DIGITS, 13)}/{rand(HEX, 32)}",
    ),
    "teams workflow": (
        "Microsoft Teams webhook",
        lambda: (
            "https://prod-00.westus.logic.azure.com:443/workflows/"
            + f"{rand(HEX, 32)}/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun"
            + f"&sv=1.0&sig={rand(URLSAFE, 43)}"
        ),
    ),
    "heroku legacy": ("Heroku API key", lambda: f'HEROKU_API_KEY = "{_uuid()}"'),
    "hugging face org": ("Hugging Face token", lambda: 'HF_ORG_TOKEN = "api' + f'_org_{rand(LETTERS, 34)}"'),
    "mailgun new": ("Mailgun API key", lambda: f'MAILGUN_KEY = "{rand(HEX, 32)}-{rand(HEX, 8)}-{rand(HEX, 8)}"'),
    "square oauth secret": ("Square token", lambda: 'SQUARE_SECRET = "sq0' + f'csp-{rand(URLSAFE, 43)}"'),
    "vault batch": ("Vault token", lambda: 'VAULT_TOKEN = "hv' + f'b.{rand(URLSAFE, 138)}"'),
    "docker hub org token": ("Docker Hub token", lambda: "DOCKER_TOKEN=dckr" + f"_oat_{rand(URLSAFE, 32)}"),
    "digitalocean oauth": ("DigitalOcean token", lambda: 'DO_TOKEN = "do' + f'o_v1_{rand(HEX, 64)}"'),
    "aws secret in json": ("AWS secret key", lambda: '{"SecretAccess' + f'Key": "{mixed(BASE64, 40)}"' + "}"),
    "aws temporary key id": ("AWS access key", lambda: "AS" + f"IA{rand(UPPER_DIGITS, 16)}"),
    "openssh key": ("private key", lambda: private("OPENSSH ")),
    "pgp key": ("private key", lambda: pem("PGP PRIVATE KEY BLOCK")),
    "putty key": ("private key", lambda: "PuTTY-User-Key-" + "File-3: ssh-ed25519\nEncryption: none\n"),
}

# Near misses real packages ship: none may be a finding.
FALSE_ALARMS: dict[str, Callable[[], str]] = {
    "c++ symbol holding ghs_": lambda: "_ZN5Highs17highs_setCallbackP5HighsSt8functionIFviRKS3_iiPvE",
    "aws documented example key id": lambda: "aws_access_key_id = AK" + "IAIOSFODNN7EXAMPLE",
    "aws documented example secret": lambda: "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLE" + "KEY",
    "pem header as a constant": lambda: 'MARKER = b"-----BEGIN OPENSSH ' + 'PRIVATE KEY-----"',
    "pem header as a regex": lambda: 'PEM = r"-----BEGIN (RSA )?' + 'PRIVATE KEY-----\\s*([A-Za-z0-9+/=\\s]+)"',
    "pem with a placeholder body": lambda: "-----BEGIN RSA " + "PRIVATE KEY-----\n<a very long private key string>\n",
    "pem with an elided body": lambda: "-----BEGIN RSA " + "PRIVATE KEY-----\\nMIIEowIBAAKCAQEAqKp...fvY4+te\\n",
    "pem with words": lambda: "-----BEGIN RSA " + "PRIVATE KEY-----\nkey omitted for security reasons\n",
    "record line near aws and secret": lambda: (
        "airflow/providers/amazon/aws/hooks/secrets_manager.py,sha256=" + rand(URLSAFE, 43) + ",8123"
    ),
    "sha1 near aws secret": lambda: f"aws_secret_access_key_sha1 = {rand(HEX, 40)}",
    "x placeholder github": lambda: "token = gh" + "p_" + "x" * 36,
    "X placeholder gitlab": lambda: "token = glp" + "at-" + "X" * 20,
    "zero placeholder aws": lambda: "AK" + "IA" + "0" * 16,
    "angle placeholder": lambda: "sk" + "_live_<your-stripe-key-goes-here-ok>",
    "your- placeholder": lambda: "HF_TOKEN=h" + "f_yourHuggingFaceTokenGoesHereNowOk",
    "base64 blob holding AIza": lambda: rand(BASE64, 40) + "AI" + "za" + rand(BASE64, 40) + rand(BASE64, 40),
    "url with foo bar": lambda: "MultiHostUrl('https://foo.com:123,foo:bar@bar.com/path')",
    "azurite key": lambda: (
        "AccountName=devstoreaccount1;Account"
        + "Key=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    ),
    "api key word beside aws": lambda: "aws apigateway get-api-key --api-key " + mixed(ALNUM, 40),
}
