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
