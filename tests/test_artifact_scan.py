"""The secret scan of built wheels and sdists.

Every token here is assembled at run time from a prefix and random characters,
so this file never holds a token-shaped string itself (relsafe's own sdist
ships its tests and must pass its own scan).
"""

from __future__ import annotations

import os
import random
import string
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from relsafe.core.errors import StepFailed
from relsafe.security.artifact_scan import CHUNK_SIZE, OVERLAP, PUBLIC_LIMIT, SecretFinding, scan_distribution
from tests.support.distributions import write_distribution
from tests.support.projects import build_project
from tests.support.sdists import write_sdist
from tests.support.wheels import wheel_files, write_wheel

ALNUM = string.ascii_letters + string.digits
URLSAFE = ALNUM + "_-"
UPPER_DIGITS = string.ascii_uppercase + string.digits


def rand(alphabet: str, length: int) -> str:
    return "".join(random.choices(alphabet, k=length))


def private_key(label: str) -> str:
    body = "\n".join(rand(ALNUM + "+/", 64) for _ in range(5))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"


SECRETS: dict[str, tuple[str, Callable[[], str]]] = {
    "pypi": ("PyPI API token", lambda: "pypi-AgEIcHlwaS5vcmc" + rand(URLSAFE, 150)),
    "pypi-minimal": ("PyPI API token", lambda: "pypi-AgEIcHlwaS5vcmc" + rand(URLSAFE, 50)),
    "testpypi": ("TestPyPI API token", lambda: "pypi-AgENdGVzdC5weXBpLm9yZw" + rand(URLSAFE, 150)),
    "ghp": ("GitHub token", lambda: "ghp_" + rand(ALNUM, 36)),
    "gho": ("GitHub token", lambda: "gho_" + rand(ALNUM, 36)),
    "ghu": ("GitHub token", lambda: "ghu_" + rand(ALNUM, 36)),
    "ghs": ("GitHub token", lambda: "ghs_" + rand(ALNUM, 36)),
    "ghr": ("GitHub token", lambda: "ghr_" + rand(ALNUM, 36)),
    "github_pat": ("GitHub token", lambda: "github_pat_" + rand(ALNUM, 22) + "_" + rand(ALNUM, 59)),
    "akia": ("AWS access key", lambda: "AKIA" + rand(UPPER_DIGITS, 16)),
    "asia": ("AWS access key", lambda: "ASIA" + rand(UPPER_DIGITS, 16)),
    "rsa-key": ("private key", lambda: private_key("RSA " + "PRIVATE KEY")),
    "openssh-key": ("private key", lambda: private_key("OPENSSH " + "PRIVATE KEY")),
    "pkcs8-key": ("private key", lambda: private_key("PRIVATE KEY")),
    "encrypted-key": ("private key", lambda: private_key("ENCRYPTED " + "PRIVATE KEY")),
    "pgp-key": ("private key", lambda: private_key("PGP " + "PRIVATE KEY BLOCK")),
}


def assert_secret_hidden(findings: list[SecretFinding], secret: str) -> None:
    shown = [str(findings), repr(findings), *(str(f) for f in findings), *(repr(f) for f in findings)]
    for text in shown:
        assert secret not in text
        assert secret.strip()[-20:] not in text


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
@pytest.mark.parametrize("secret_id", sorted(SECRETS))
def test_each_kind_of_planted_secret_is_found_in_text_and_binary_and_never_shown(
    tmp_path: Path, kind: str, secret_id: str
) -> None:
    expected, make = SECRETS[secret_id]
    in_text, in_binary = make(), make()
    distribution = write_distribution(
        tmp_path,
        kind,
        {
            "pkg/__init__.py": b"VERSION = '1.0'\n",
            "pkg/settings.py": f"TOKEN = '{in_text}'\n".encode(),
            "pkg/_native.so": os.urandom(5000) + b"\0" + in_binary.encode() + b"\0" + os.urandom(5000),
        },
    )

    findings = scan_distribution(distribution)

    assert findings == [
        SecretFinding(distribution.name, "pkg/settings.py", expected),
        SecretFinding(distribution.name, "pkg/_native.so", expected),
    ]
    assert_secret_hidden(findings, in_text)
    assert_secret_hidden(findings, in_binary)


@pytest.mark.parametrize(
    "text",
    [
        "pip install pypi-AgEIcHlwaS5vcmc",  # a prefix alone
        "pypi-AgEIcHlwaS5vcmc" + "x" * 49,  # one character short
        "ghp_" + "a" * 35,
        "ghp-" + "a" * 36,
        "github_pat_" + "X" * 10,
        "AKIA" + "abcdefghijklmnop",  # lower case
        "XAKIA" + "A" * 16,  # inside a longer upper-case word
        "AKIA" + "A" * 17,
        "-----BEGIN " + "PUBLIC KEY-----",
        "-----BEGIN " + "CERTIFICATE-----",
    ],
)
def test_look_alikes_are_not_secrets(tmp_path: Path, text: str) -> None:
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/doc.txt": f"{text}\n".encode()})
    assert scan_distribution(wheel) == []


@pytest.mark.parametrize(
    ("member", "kind"),
    [
        ("pkg/.pypirc", ".pypirc file"),
        (".pypirc", ".pypirc file"),
        ("pkg/.env", ".env file"),
        ("pkg/.env.production", ".env file"),
        ("pkg/certs/server.pem", ".pem file"),
        ("pkg/certs/SERVER.PEM", ".pem file"),
        ("pkg/tls/server.key", ".key file"),
        ("pkg/id_rsa", "SSH private key file"),
        (".git/config", "file under .git/"),
        ("pkg/vendored/.git/objects/ab/cdef", "file under .git/"),
        ("pkg/__pycache__/mod.cpython-311.pyc", ".pyc file"),
        ("pkg/stale.pyc", ".pyc file"),
    ],
)
@pytest.mark.parametrize("kind_of_file", ["wheel", "sdist"])
def test_risky_file_names_are_findings(tmp_path: Path, member: str, kind: str, kind_of_file: str) -> None:
    distribution = write_distribution(tmp_path, kind_of_file, {"pkg/__init__.py": b"", member: b"harmless content\n"})
    assert scan_distribution(distribution) == [SecretFinding(distribution.name, member, kind)]


@pytest.mark.parametrize(
    "member", ["pkg/environment.py", "pkg/pem.py", "pkg/.gitignore", "pkg/git/.keep", "pkg/rsa.py"]
)
def test_ordinary_file_names_are_not_findings(tmp_path: Path, member: str) -> None:
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {member: b"x = 1\n"})
    assert scan_distribution(wheel) == []


def test_a_pem_holding_a_key_reports_both_the_name_and_the_key(tmp_path: Path) -> None:
    key = private_key("EC " + "PRIVATE KEY")
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/server.pem": key.encode()})
    findings = scan_distribution(wheel)
    assert [f.kind for f in findings] == [".pem file", "private key"]
    assert_secret_hidden(findings, key)


def certificate() -> str:
    body = "\n".join(rand(ALNUM + "+/", 64) for _ in range(5))
    return f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_a_ca_bundle_of_certificates_is_public_data(tmp_path: Path, kind: str) -> None:
    bundle = f"# Issuer: CN=Först Root CA\n# Label: one\n{certificate()}\n# Label: two\n{certificate()}"
    distribution = write_distribution(tmp_path, kind, {"pkg/cacert.pem": bundle.encode()})
    assert scan_distribution(distribution) == []


def test_certifis_own_bundle_is_public_data(tmp_path: Path) -> None:
    certifi = pytest.importorskip("certifi")
    bundle = Path(certifi.where()).read_bytes()
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"certifi/cacert.pem": bundle})
    assert scan_distribution(wheel) == []


@pytest.mark.parametrize(
    ("member", "content", "kinds"),
    [
        ("pkg/server.pem", certificate() + private_key("RSA " + "PRIVATE KEY"), [".pem file", "private key"]),
        ("pkg/server.key", private_key("PRIVATE KEY"), [".key file", "private key"]),
        ("pkg/server.key", certificate() + private_key("EC " + "PRIVATE KEY"), [".key file", "private key"]),
        # beside certificates, a block no rule knows to be public
        ("pkg/bundle.pem", certificate() + "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n", [".pem file"]),
        ("pkg/notes.pem", "no PEM block at all\n", [".pem file"]),
    ],
)
def test_a_pem_or_key_file_with_more_than_public_blocks_is_a_finding(
    tmp_path: Path, member: str, content: str, kinds: list[str]
) -> None:
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {member: content.encode()})
    findings = scan_distribution(wheel)
    assert [(f.member, f.kind) for f in findings] == [(member, kind) for kind in kinds]
    assert_secret_hidden(findings, content)


def test_a_pem_that_is_not_text_is_a_finding(tmp_path: Path) -> None:
    """Certificate markers in bytes that are no UTF-8 text: DER or worse, not known to be public."""
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/cert.pem": b"\xff\xfe" + certificate().encode()})
    assert [f.kind for f in scan_distribution(wheel)] == [".pem file"]


def test_a_ca_bundle_too_long_to_judge_stays_a_finding(tmp_path: Path) -> None:
    block = certificate()
    bundle = block * (PUBLIC_LIMIT // len(block) + 1)
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/huge.pem": bundle.encode()})
    assert [f.kind for f in scan_distribution(wheel)] == [".pem file"]


ENV_TEMPLATE = """\
# Copy to .env and fill in.

API_KEY=
SECRET=""
  PASSWORD=''   # ask the team
export DATABASE_URL=
export  AWS_REGION = \r
# DEBUG=1
"""


@pytest.mark.parametrize("name", [".env", ".env.example", ".env.template", ".envrc"])
@pytest.mark.parametrize("kind", ["wheel", "sdist"])
def test_a_env_template_with_empty_values_is_not_a_finding(tmp_path: Path, name: str, kind: str) -> None:
    distribution = write_distribution(tmp_path, kind, {f"pkg/{name}": ENV_TEMPLATE.encode(), "pkg/empty/.env": b""})
    assert scan_distribution(distribution) == []


@pytest.mark.parametrize("name", [".env", ".env.example"])
@pytest.mark.parametrize(
    "line",
    [
        "API_TOKEN=s3cr3tvalue123",
        "DATABASE_PASSWORD=hunter2",
        'SECRET="hunter2"',
        "export API_KEY=abcd1234abcd1234",
        "API_KEY=#not-a-comment-without-a-blank",
        "SESSION_COOKIE=abc",
        "api_key: hunter2",  # not .env syntax: not known to be empty
    ],
)
def test_a_env_file_with_a_value_is_a_finding(tmp_path: Path, name: str, line: str) -> None:
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {f"pkg/{name}": f"{ENV_TEMPLATE}{line}\n".encode()})
    findings = scan_distribution(wheel)
    assert findings == [SecretFinding(wheel.name, f"pkg/{name}", ".env file")]
    assert_secret_hidden(findings, line)


@pytest.mark.parametrize(
    "line",
    [
        "DEBUG=1",
        "PORT=8000",
        "export LOG_LEVEL=info",
        "API_KEY=${API_KEY}",
        "TOKEN=<your-token>",
        'SECRET="<your token>"',
        "PASSWORD=changeme",
    ],
)
def test_a_env_file_without_secret_looking_values_is_not_a_finding(tmp_path: Path, line: str) -> None:
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/.env": f"{ENV_TEMPLATE}{line}\n".encode()})
    assert scan_distribution(wheel) == []


def test_a_env_template_too_long_to_judge_stays_a_finding(tmp_path: Path) -> None:
    long_template = "# a comment\n" * (PUBLIC_LIMIT // 12 + 1)
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/.env.example": long_template.encode()})
    assert [f.kind for f in scan_distribution(wheel)] == [".env file"]


def test_a_token_in_a_member_name_is_found_and_masked(tmp_path: Path) -> None:
    token = SECRETS["ghp"][1]()
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {f"pkg/{token}.txt": b"nothing\n"})
    findings = scan_distribution(wheel)
    assert [f.kind for f in findings] == ["GitHub token"]
    assert findings[0].member.startswith("pkg/") and findings[0].member.endswith(".txt")
    assert_secret_hidden(findings, token)


def test_allow_list_passes_reviewed_sdist_members_without_their_top_folder(tmp_path: Path) -> None:
    key = private_key("RSA " + "PRIVATE KEY")
    sdist = write_sdist(
        tmp_path / "pkg-1.0.tar.gz",
        {
            "tests/fixtures/fake.pem": key.encode(),
            "tests/fixtures/more/other.pem": key.encode(),
            "src/pkg/.env": b"A_SECRET=1\n",
        },
    )

    exact = scan_distribution(sdist, allow=["tests/fixtures/fake.pem"])
    glob = scan_distribution(sdist, allow=["tests/fixtures/*", "*.env"])
    with_top_folder = scan_distribution(sdist, allow=["pkg-1.0/tests/fixtures/fake.pem"])

    assert [(f.member, f.kind) for f in exact] == [
        ("tests/fixtures/more/other.pem", ".pem file"),
        ("tests/fixtures/more/other.pem", "private key"),
        ("src/pkg/.env", ".env file"),
    ]
    assert glob == []
    assert len(with_top_folder) == 5


def test_allow_list_matches_wheel_members_by_their_full_path(tmp_path: Path) -> None:
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/data/test.pem": b"x", "pkg/other.pem": b"x"})
    findings = scan_distribution(wheel, allow=["pkg/data/*.pem"])
    assert [f.member for f in findings] == ["pkg/other.pem"]


def boundary_offsets() -> list[int]:
    """Start offsets that put a token across, at, or near a chunk boundary."""
    near = [1, 2, 10, 39, 40, 41, OVERLAP - 2, OVERLAP - 1, OVERLAP, OVERLAP + 1]
    return [CHUNK_SIZE] + [CHUNK_SIZE - d for d in near] + [2 * CHUNK_SIZE - d for d in (1, 40, OVERLAP)]


@pytest.mark.parametrize("kind", ["wheel", "sdist"])
@pytest.mark.parametrize("offset", boundary_offsets())
def test_a_token_split_across_a_chunk_boundary_is_found(tmp_path: Path, kind: str, offset: int) -> None:
    token = SECRETS["testpypi"][1]()
    data = b"." * offset + token.encode() + b"." * 100
    distribution = write_distribution(tmp_path, kind, {"pkg/blob.bin": data})
    findings = scan_distribution(distribution)
    assert findings == [SecretFinding(distribution.name, "pkg/blob.bin", "TestPyPI API token")]
    assert_secret_hidden(findings, token)


KEY_SHAPE = b"AKIA" + b"B" * 16


@pytest.mark.parametrize(
    "start",
    [CHUNK_SIZE - OVERLAP + d for d in (-1, 0, 1)] + [CHUNK_SIZE - len(KEY_SHAPE) + d for d in (-1, 0, 1)],
)
@pytest.mark.parametrize(("before", "after"), [(b"Q", b"."), (b".", b"Q")])
def test_context_around_a_chunk_boundary_is_kept(tmp_path: Path, start: int, before: bytes, after: bytes) -> None:
    """An access-key shape inside a longer upper-case word is no key, even where a
    chunk boundary would cut the word's start or end off."""
    data = b"." * (start - 1) + before + KEY_SHAPE + after + b"." * 200
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/blob.bin": data})
    assert scan_distribution(wheel) == []


def test_short_reads_of_a_member_still_find_tokens(tmp_path: Path) -> None:
    """A member read in small pieces (stored, tiny) and a token at its very start and end."""
    token = SECRETS["akia"][1]()
    wheel = write_wheel(
        tmp_path / "pkg-1.0-py3-none-any.whl",
        {"pkg/start.txt": token.encode(), "pkg/end.txt": ("x" * 300 + " " + token).encode()},
        compression=zipfile.ZIP_STORED,
    )
    assert [f.member for f in scan_distribution(wheel)] == ["pkg/start.txt", "pkg/end.txt"]


def test_a_file_that_is_not_a_distribution_is_refused(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with pytest.raises(StepFailed, match="neither a wheel"):
        scan_distribution(notes)


@pytest.mark.parametrize("name", ["pkg-1.0-py3-none-any.whl", "pkg-1.0.tar.gz"])
def test_a_damaged_archive_is_a_step_failure(tmp_path: Path, name: str) -> None:
    good = write_distribution(
        tmp_path, "wheel" if name.endswith(".whl") else "sdist", {"pkg/a.bin": os.urandom(100_000)}
    )
    damaged = tmp_path / "damaged" / name
    damaged.parent.mkdir()
    damaged.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(StepFailed, match="cannot read"):
        scan_distribution(damaged)


def test_the_reading_thread_ends_with_every_scan(tmp_path: Path) -> None:
    before = threading.active_count()
    good = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/a.bin": os.urandom(3 * CHUNK_SIZE)})
    damaged = tmp_path / "damaged" / good.name
    damaged.parent.mkdir()
    damaged.write_bytes(good.read_bytes()[: 2 * CHUNK_SIZE])
    assert scan_distribution(good) == []
    with pytest.raises(StepFailed):
        scan_distribution(damaged)
    assert threading.active_count() == before


@pytest.mark.slow
def test_secrets_planted_in_a_real_build_are_found_in_wheel_and_sdist(tmp_path: Path) -> None:
    token = SECRETS["pypi"][1]()
    key = private_key("OPENSSH " + "PRIVATE KEY")
    wheel, sdist = sorted(
        build_project(
            tmp_path / "project",
            {
                "src/sample/data/config.txt": f"password = {token}\n",
                "src/sample/.env": "SECRET_KEY=django-insecure-1\n",
                "tests/fixtures/fake.pem": key,
            },
        ),
        key=lambda path: path.suffix != ".whl",
    )

    wheel_findings = scan_distribution(wheel)
    sdist_findings = scan_distribution(sdist)
    sdist_allowed = scan_distribution(sdist, allow=["tests/fixtures/fake.pem"])

    assert sorted((f.member, f.kind) for f in wheel_findings) == [
        ("sample/.env", ".env file"),
        ("sample/data/config.txt", "PyPI API token"),
    ]
    assert sorted((f.member, f.kind) for f in sdist_findings) == [
        ("src/sample/.env", ".env file"),
        ("src/sample/data/config.txt", "PyPI API token"),
        ("tests/fixtures/fake.pem", ".pem file"),
        ("tests/fixtures/fake.pem", "private key"),
    ]
    assert {f.archive for f in sdist_findings} == {sdist.name}
    assert sorted(f.member for f in sdist_allowed) == ["src/sample/.env", "src/sample/data/config.txt"]
    for secret in (token, key):
        assert_secret_hidden(wheel_findings + sdist_findings, secret)


@pytest.mark.slow
def test_a_clean_real_build_has_no_findings(tmp_path: Path) -> None:
    dists = build_project(
        tmp_path / "project",
        {
            "src/sample/core.py": "def answer() -> int:\n    return 42\n",
            "src/sample/cacert.pem": certificate() + certificate(),
            "src/sample/.env.example": ENV_TEMPLATE,
        },
    )
    assert len(dists) == 2
    wheel = dists[0] if dists[0].suffix == ".whl" else dists[1]
    assert {"sample/cacert.pem", "sample/.env.example"} <= set(wheel_files(wheel))
    assert [scan_distribution(path) for path in dists] == [[], []]


@pytest.mark.parametrize("planted", ["corpus", "url"])
def test_random_binary_data_skips_the_rules_only_where_nothing_printable_is_long_enough(
    tmp_path: Path, planted: str
) -> None:
    """A binary buffer without a run of PRINTABLE_RUN printable characters is spared all rules but the URL
    password's, the one short enough to hide there; a token, or a short URL password, is still found."""
    secret = f"ftp://a:{rand(ALNUM, 3)}@h" if planted == "url" else SECRETS["ghp"][1]()
    blob = os.urandom(3 << 20)
    middle = len(blob) // 2
    data = blob[:middle] + b"\0" + secret.encode() + b"\0" + blob[middle:]
    wheel = write_wheel(tmp_path / "pkg-1.0-py3-none-any.whl", {"pkg/model.bin": data})
    expected = "password in a URL" if planted == "url" else "GitHub token"
    assert [finding.kind for finding in scan_distribution(wheel)] == [expected]
