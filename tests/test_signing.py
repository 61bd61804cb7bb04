"""`[release] sign-tags = true` is checked at preflight with the real gpg, gpgsm and git: no key git could sign
with is a refusal (exit 4) before anything changes; a key it can use signs the tag."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from relsafe.journal.runlog import RunLog
from relsafe.tools.git import Git
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.git import git
from tests.support.world import status_json, world

pytestmark = pytest.mark.skipif(shutil.which("gpg") is None, reason="needs GnuPG")

USER_ID = "Relsafe Test <signing@relsafe.invalid>"
OTHER_ID = "Someone Else <else@relsafe.invalid>"


@pytest.fixture
def gnupg_home(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty keyring of its own (a short path: gpg-agent's socket lives there); its agent ended after."""
    home = Path(tempfile.mkdtemp(prefix="gpg-"))
    home.chmod(0o700)
    monkeypatch.setenv("GNUPGHOME", str(home))
    yield home
    subprocess.run(["gpgconf", "--kill", "all"], env={**os.environ, "GNUPGHOME": str(home)}, check=False)
    shutil.rmtree(home, ignore_errors=True)


def generate_key(home: Path, expire: str = "0", user_id: str = USER_ID) -> str:
    """A passphrase-less ed25519 signing key in `home`; returns its fingerprint."""
    env = {**os.environ, "GNUPGHOME": str(home)}
    generate = ["gpg", "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--quick-gen-key", user_id]
    subprocess.run(
        [*generate, "ed25519", "sign", expire],
        env=env,
        check=True,
        capture_output=True,
    )
    listed = subprocess.run(
        ["gpg", "--batch", "--with-colons", "--list-secret-keys", user_id],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return next(line.split(":")[9] for line in listed.stdout.splitlines() if line.startswith("fpr:"))


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A repository whose committer is USER_ID."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    git(tmp_path, "config", "user.name", "Relsafe Test")
    git(tmp_path, "config", "user.email", "signing@relsafe.invalid")
    return tmp_path


def problem(repository: Path, **settings: str) -> str | None:
    for key, value in settings.items():
        git(repository, "config", key.replace("__", "."), value)
    return Git(repository, RunLog(None)).signing_problem()


NO_KEY_FOR_COMMITTER = (
    f"sign-tags is on, but gpg holds no secret key for {USER_ID}, the committer git signs as without "
    "user.signingkey; set user.signingkey or import a key"
)


def test_openpgp_without_any_secret_key(repository: Path, gnupg_home: Path) -> None:
    assert problem(repository) == NO_KEY_FOR_COMMITTER


def test_openpgp_with_a_key_of_someone_else_only(repository: Path, gnupg_home: Path) -> None:
    """Without user.signingkey git signs as the committer, not with the keyring's first key: `git tag -s` would
    fail, so preflight refuses, though gpg holds a key."""
    generate_key(gnupg_home, user_id=OTHER_ID)
    assert problem(repository) == NO_KEY_FOR_COMMITTER
    git(repository, "commit", "-q", "--allow-empty", "-m", "c")
    signed = subprocess.run(["git", "tag", "-s", "v1", "-m", "v1"], cwd=repository, capture_output=True, text=True)
    assert signed.returncode != 0 and "gpg failed to sign" in signed.stderr, "git itself refuses the same"


def test_openpgp_with_a_key_the_keyring_does_not_hold(repository: Path, gnupg_home: Path) -> None:
    generate_key(gnupg_home)
    found = problem(repository, user__signingkey="0123456789ABCDEF")
    assert found == "sign-tags is on, but gpg holds no secret key 0123456789ABCDEF (user.signingkey) to sign with"


def test_openpgp_with_the_default_key_or_the_named_one(repository: Path, gnupg_home: Path) -> None:
    fingerprint = generate_key(gnupg_home)
    assert problem(repository) is None
    assert problem(repository, user__signingkey=fingerprint) is None


def test_openpgp_with_an_expired_key_only(repository: Path, gnupg_home: Path) -> None:
    fingerprint = generate_key(gnupg_home, expire="seconds=1")
    time.sleep(2)
    found = problem(repository)
    assert found is not None and found.endswith("cannot sign: expired"), found
    assert fingerprint[-16:] in found


def test_a_signing_program_that_is_not_installed(repository: Path, gnupg_home: Path) -> None:
    found = problem(repository, gpg__program="/nonexistent/gpg2")
    assert found == ("sign-tags is on, but the signing program '/nonexistent/gpg2' (gpg.program) is not installed")


@pytest.mark.skipif(shutil.which("gpgsm") is None, reason="needs gpgsm")
def test_x509_without_a_certificate(repository: Path, gnupg_home: Path) -> None:
    found = problem(repository, gpg__format="x509")
    assert found == NO_KEY_FOR_COMMITTER.replace("gpg holds", "gpgsm holds")


def test_an_unknown_format(repository: Path) -> None:
    found = problem(repository, gpg__format="pgp")
    assert found == "sign-tags is on, but gpg.format is 'pgp'; expected one of openpgp, x509, ssh"


@pytest.mark.skipif(shutil.which("ssh-keygen") is None, reason="needs ssh-keygen")
def test_ssh_keys(repository: Path, tmp_path: Path) -> None:
    assert problem(repository, gpg__format="ssh") == (
        "sign-tags is on, but no SSH signing key is set (git config user.signingkey)"
    )
    assert problem(repository, gpg__ssh__defaultKeyCommand="false") == (
        "sign-tags is on, but gpg.ssh.defaultKeyCommand (false) gives no key to sign with"
    )
    assert problem(repository, gpg__ssh__defaultKeyCommand="echo key::ssh-ed25519 AAAAC3Nza") is None
    git(repository, "config", "--unset", "gpg.ssh.defaultKeyCommand")
    missing = tmp_path / "absent_ed25519"
    assert problem(repository, user__signingkey=str(missing)) == (
        f"sign-tags is on, but the SSH signing key {missing} does not exist (user.signingkey)"
    )
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(missing)], check=True)
    assert problem(repository) is None
    assert problem(repository, user__signingkey="key::ssh-ed25519 AAAAC3Nza") is None


def sign_tags(sample: SampleProject) -> None:
    config = sample.root / "release.toml"
    text = config.read_text(encoding="utf-8")
    if "[release]\n" in text:
        text = text.replace("[release]\n", "[release]\nsign-tags = true\n", 1)
    else:
        text += "\n[release]\nsign-tags = true\n"
    config.write_text(text, encoding="utf-8")
    git(sample.root, "commit", "-qam", "Sign the release tags")
    git(sample.root, "push", "-q", "origin", "main")


def test_a_release_with_sign_tags_and_no_key_is_refused_before_anything_changes(
    sample: SampleProject, local_index: LocalIndex, gnupg_home: Path, run_relsafe: RunRelsafe
) -> None:
    sign_tags(sample)
    generate_key(gnupg_home, user_id=OTHER_ID)  # a key, but not the committer's: `git tag -s` would fail
    before = world(sample)

    proc = run_relsafe("release", "minor", cwd=sample.root, env=relsafe_env(GNUPGHOME=str(gnupg_home)))

    output = proc.stdout + proc.stderr
    assert proc.returncode == 4, output
    assert "preflight: sign-tags is on, but gpg holds no secret key for relsafe demo <demo@relsafe.invalid>" in output
    assert "nothing was changed" in output
    assert world(sample) == before
    assert list(local_index.storage.iterdir()) == []
    record = status_json(sample)
    assert record is not None and record["steps"]["bump"]["status"] == "pending"


@pytest.mark.slow
def test_a_release_with_sign_tags_and_a_key_pushes_a_signed_tag(
    release_sample: SampleProject, gnupg_home: Path, run_relsafe: RunRelsafe
) -> None:
    sign_tags(release_sample)
    git(release_sample.root, "config", "user.signingkey", generate_key(gnupg_home))

    proc = run_relsafe("release", "minor", cwd=release_sample.root, env=relsafe_env(GNUPGHOME=str(gnupg_home)))

    assert proc.returncode == 0, proc.stdout + proc.stderr
    verified = subprocess.run(
        ["git", "verify-tag", "v0.2.0"], cwd=release_sample.remote, capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0 and USER_ID in verified.stderr, verified.stderr
