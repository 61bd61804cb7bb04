"""The project's own code (its build backend, its tests, git's hooks) never gets the maintainer's secrets.

A real release runs with credentials in the shell and in ~/.pypirc. A build
backend and a test of the sample look for them everywhere they could: their
own environment, every ancestor's /proc/<pid>/environ (relsafe's included),
and ~/.pypirc; git's hooks do the same. They find nothing, while the staging
upload still gets its login from each place twine and uv take it from.
Everything is real: git repositories with a bare remote, pypiserver on
loopback requiring the login, builds, venvs, uv or twine.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import random
import re
import stat
import string
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest

from relsafe.app.sample import SampleProject, create_sample
from relsafe.core.environment import HELPERS_FOR_GIT
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.git import git
from tests.support.release_config import rewrite_workflow, staging_toml
from tests.support.world import journal_dir, world

LOGIN = "__token__"


def token(prefix: str = "pypi-AgEIcHlwaS5vcmc", length: int = 60) -> str:
    """A token assembled at run time, so this file holds none."""
    return prefix + "".join(random.choices(string.ascii_letters + string.digits, k=length))


def aws_secret() -> str:
    return "".join(random.choices(string.ascii_letters + string.digits + "/+", k=40))


PROBE = r"""
import json, os, sys, time

MARKERS = {markers!r}
OUT = {out!r}


def ancestors():
    pid, seen = os.getppid(), {{}}
    while pid > 1:
        try:
            seen[pid] = open(f"/proc/{{pid}}/environ", "rb").read().decode("utf-8", "replace")
        except OSError as error:
            seen[pid] = "unreadable: " + type(error).__name__
        try:
            pid = int(open(f"/proc/{{pid}}/stat").read().rpartition(")")[2].split()[1])
        except OSError:
            break
    return seen


def probe(where):
    own = "\n".join(f"{{k}}={{v}}" for k, v in os.environ.items())
    pypirc = os.path.expanduser("~/.pypirc")
    found = {{
        "own": [m for m in MARKERS if m in own],
        "ancestors": {{str(pid): [m for m in MARKERS if m in text] for pid, text in ancestors().items()}},
        "pypirc": os.path.exists(pypirc),
        "home": os.environ.get("HOME"),
    }}
    with open(os.path.join(OUT, f"{{where}}-{{os.getpid()}}-{{time.time_ns()}}.json"), "w") as stream:
        json.dump(found, stream)
"""


def plant_probes(sample: SampleProject, markers: list[str], out: Path, *, hooks: bool = True) -> None:
    """A build backend and a test that run the probe; git hooks that run it too."""
    out.mkdir()
    probe = PROBE.format(markers=markers, out=str(out))
    backend = sample.root / "_backend" / "probing_backend.py"
    backend.parent.mkdir()
    backend.write_text(probe + "\nprobe('backend')\nfrom hatchling.build import *  # noqa: F403\n", encoding="utf-8")
    pyproject = sample.root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    text = re.sub(r'build-backend = "[^"]*"', 'build-backend = "probing_backend"\nbackend-path = ["_backend"]', text)
    pyproject.write_text(text, encoding="utf-8")
    (sample.root / "tests" / "test_probe.py").write_text(
        probe + "\n\nimport unittest\n\n\nclass Probe(unittest.TestCase):\n    def test_probe(self):\n"
        "        probe('tests')\n",
        encoding="utf-8",
    )
    if hooks:
        (sample.root / "_backend" / "hook_probe.py").write_text(probe + "\nprobe(sys.argv[1])\n", encoding="utf-8")
        for hook in ("pre-push", "reference-transaction", "post-commit"):
            path = sample.root / ".git" / "hooks" / hook
            path.write_text(
                f'#!/bin/sh\ncat >/dev/null\n"{sys.executable}" "{sample.root}/_backend/hook_probe.py" "hook.{hook}"\n',
                encoding="utf-8",
            )
            path.chmod(0o755)
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", "probe for secrets everywhere")
    for found in out.iterdir():  # the set-up commit's own hooks ran
        found.unlink()


def commit_config(sample: SampleProject, text: str) -> None:
    """release.toml and relsafe's workflow for it (`relsafe init --update`), committed and pushed."""
    (sample.root / "release.toml").write_text(text, encoding="utf-8")
    git(sample.root, "add", "release.toml", str(rewrite_workflow(sample.root)))
    git(sample.root, "commit", "-qm", "release configuration")
    git(sample.root, "push", "-q", "origin", "main")


def base_env(home: Path, **extra: str) -> dict[str, str]:
    env = {name: value for name, value in relsafe_env().items() if not name.startswith(("TWINE_", "PYPI_"))}
    env["HOME"] = str(home)
    env.update(extra)
    return env


KEYRING_BACKEND = '''
import json
from keyring.backend import KeyringBackend
from keyring.credentials import SimpleCredential

STORE = {store!r}


class FileKeyring(KeyringBackend):
    """A keyring in a file of the test's: keyring's own extension point, found through PYTHON_KEYRING_BACKEND."""

    priority = 1

    def _load(self):
        with open(STORE) as stream:
            return json.load(stream)

    def get_password(self, service, username):
        entry = self._load().get(service)
        return entry["password"] if entry and entry["username"] == username else None

    def get_credential(self, service, username):
        entry = self._load().get(service)
        return SimpleCredential(entry["username"], entry["password"]) if entry else None

    def set_password(self, service, username, password):
        raise NotImplementedError

    def delete_password(self, service, username):
        raise NotImplementedError
'''


def credential_source(source: str, index: LocalIndex, secret: str, home: Path, tmp_path: Path) -> dict[str, str]:
    """The shell's variables that give the upload its login from `source` (writing the file it is in)."""
    if source == "TWINE_*":
        return {"TWINE_USERNAME": LOGIN, "TWINE_PASSWORD": secret}
    if source == "UV_PUBLISH_*":
        return {"UV_PUBLISH_TOKEN": secret}
    if source == ".pypirc":
        pypirc = home / ".pypirc"
        pypirc.write_text(
            f"[distutils]\nindex-servers = staging\n\n[staging]\nrepository = {index.upload_url}\n"
            f"username = {LOGIN}\npassword = {secret}\n",
            encoding="utf-8",
        )
        pypirc.chmod(0o600)
        return {}
    assert source == "keyring"
    folder = tmp_path / "keyring-backend"
    folder.mkdir()
    store = folder / "store.json"
    store.write_text(json.dumps({index.upload_url: {"username": LOGIN, "password": secret}}), encoding="utf-8")
    (folder / "file_keyring.py").write_text(KEYRING_BACKEND.format(store=str(store)), encoding="utf-8")
    return {"PYTHONPATH": str(folder), "PYTHON_KEYRING_BACKEND": "file_keyring.FileKeyring"}


SHELL_SECRETS = (
    "AWS_SECRET_ACCESS_KEY",
    "GH_TOKEN",
    "GH_PAT",
    "GITHUB_TOKEN",
    "HATCH_INDEX_AUTH",
    "POETRY_PYPI_TOKEN_STAGING",
    "FLIT_PASSWORD",
    "DEPLOY_API_TOKEN",
)


@pytest.mark.slow
@pytest.mark.parametrize("source", ["TWINE_*", "UV_PUBLISH_*", "keyring", ".pypirc"])
def test_the_projects_code_finds_no_credential_while_the_upload_gets_its_login(
    source: str, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    secret = token()
    home = tmp_path / "home"
    home.mkdir()
    others = {name: token("x" + name.lower()[:4], 40) for name in SHELL_SECRETS}
    others["AWS_SECRET_ACCESS_KEY"] = aws_secret()
    mirror = token("mirror", 24)
    shell = {
        **others,
        "CORP_MIRROR_URL": f"https://deploy:{mirror}@mirror.invalid/simple/",
        "SSH_AUTH_SOCK": str(tmp_path / f"agent-{token('sock', 20)}.sock"),
        "GNUPGHOME": str(tmp_path / f"gnupg-{token('gpg', 20)}"),
    }
    with LocalIndex(username=LOGIN, password=secret) as index:
        sample = create_sample(tmp_path)
        steps = '["preflight", "bump", "build", "smoke", "stage", "tag", "push"]'
        commit_config(sample, staging_toml(index.upload_url, index.index_url, steps))
        helpers = {shell[name] for name in HELPERS_FOR_GIT if name in shell}
        markers = sorted({secret, mirror, *others.values(), *helpers})
        out = tmp_path / "found"
        plant_probes(sample, markers, out)
        git(sample.root, "push", "-q", "origin", "main")
        env = base_env(home, **shell, **credential_source(source, index, secret, home, tmp_path))
        previous = os.umask(0o022)
        try:
            done = run_relsafe("release", "minor", cwd=sample.root, env=env)
        finally:
            os.umask(previous)

        assert done.returncode == 0, done.stdout + done.stderr
        uploaded = sorted(path.name for path in index.storage.iterdir())
    assert uploaded == ["relsafe_sample-0.2.0-py3-none-any.whl", "relsafe_sample-0.2.0.tar.gz"], (
        f"the upload got its login from {source}"
    )
    reports = {path.name: json.loads(path.read_text(encoding="utf-8")) for path in out.iterdir()}
    kinds = {name.rsplit("-", 2)[0] for name in reports}
    assert {"backend", "tests", "hook.pre-push", "hook.reference-transaction"} <= kinds, sorted(kinds)
    for name, report in reports.items():
        allowed = helpers if name.startswith("hook.") else set()  # git's push and signing get the agents back
        assert set(report["own"]) <= allowed, (name, report["own"])
        for pid, seen in report["ancestors"].items():
            assert set(seen) <= allowed, (name, pid, seen)
        if not name.startswith("hook."):  # git and its hooks keep the user's HOME (its configuration)
            assert not report["pypirc"] and report["home"] != str(home), (name, report)
    relsafe_seen = [report["ancestors"] for name, report in reports.items() if name.startswith("tests")]
    assert relsafe_seen and all(relsafe_seen), "the test saw its ancestors, relsafe among them"
    written = everything_written(sample)
    for value in (secret, mirror, *others.values()):
        assert value not in done.stdout + done.stderr + written
    assert_private(journal_dir(sample))


def everything_written(sample: SampleProject) -> str:
    texts = [
        path.read_text(encoding="utf-8", errors="replace") for path in journal_dir(sample).rglob("*") if path.is_file()
    ]
    texts.append(git(sample.root, "log", "--all", "--format=%B"))
    texts.append(git(sample.root, "for-each-ref", "--format=%(contents)", "refs/tags"))
    return "\n".join(texts)


def assert_private(journal: Path) -> None:
    """.git/relsafe and everything under it: folders 0700, files readable by their owner only."""
    assert stat.S_IMODE(journal.stat().st_mode) == 0o700
    checked = 0
    for path in journal.rglob("*"):
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.stat().st_mode)
        if path.is_dir():
            assert mode == 0o700, (path, oct(mode))
        else:
            assert mode & 0o077 == 0, (path, oct(mode))
        checked += 1
    assert (journal / "releases").is_dir() and checked > 5


@pytest.mark.slow
def test_a_test_printing_an_aws_secret_key_is_masked_in_the_run_log(tmp_path: Path, run_relsafe: RunRelsafe) -> None:
    key = aws_secret()
    with LocalIndex() as index:
        sample = create_sample(tmp_path)
        commit_config(
            sample, staging_toml(index.upload_url, index.index_url, '["preflight", "bump", "build", "smoke"]')
        )
        half = len(key) // 2
        (sample.root / "tests" / "test_leaky.py").write_text(
            "import unittest\n\n\nclass Leaky(unittest.TestCase):\n    def test_config(self):\n"
            f"        key = {key[:half]!r} + {key[half:]!r}\n"
            "        print('aws_secret_access_key = ' + key)\n"
            "        self.fail('AWS_SECRET_ACCESS_KEY=' + key)\n",
            encoding="utf-8",
        )
        git(sample.root, "add", "-A")
        git(sample.root, "commit", "-qm", "a test that prints a key")
        git(sample.root, "push", "-q", "origin", "main")

        failed = run_relsafe("release", "minor", cwd=sample.root, env=base_env(tmp_path))

    assert failed.returncode == 1, failed.stdout + failed.stderr
    logs = "\n".join(path.read_text(encoding="utf-8") for path in (journal_dir(sample) / "logs").iterdir())
    assert "aws_secret_access_key = ********" in logs, "the test ran and printed it, masked"
    assert key not in logs + failed.stdout + failed.stderr + everything_written(sample)


# -- bump-my-version's globs -----------------------------------------------------------------

GLOBS = {
    "glob climbing out": '[[tool.bumpversion.files]]\nglob = "../outside/*.txt"\n',
    "absolute glob": '[[tool.bumpversion.files]]\nglob = "{outside}/*.txt"\n',
    "glob_exclude climbing out": '[[tool.bumpversion.files]]\nglob = "*.txt"\nglob_exclude = ["../outside/*"]\n',
    "glob matching a symlink out": '[[tool.bumpversion.files]]\nglob = "linked/*.txt"\n',
}


@pytest.mark.parametrize("shape", GLOBS)
def test_a_bump_my_version_glob_reaching_outside_the_repository_is_refused(
    shape: str, sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    outside = sample.root.parent / "outside"
    outside.mkdir()
    victim = outside / "victim.txt"
    victim.write_text("0.1.0\n", encoding="utf-8")
    (sample.root / "linked").symlink_to(outside, target_is_directory=True)  # ignored: not the repository's
    with (sample.root / ".git" / "info" / "exclude").open("a", encoding="utf-8") as exclude:
        exclude.write("/linked\n")
    (sample.root / "VERSION.txt").write_text("0.1.0\n", encoding="utf-8")
    config = '[tool.bumpversion]\ncurrent_version = "0.1.0"\n\n' + GLOBS[shape].format(outside=outside)
    (sample.root / ".bumpversion.toml").write_text(config, encoding="utf-8")
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", "bump-my-version with a glob")
    git(sample.root, "push", "-q", "origin", "main")
    before = world(sample)

    for command in (("release", "minor", "--plan"), ("release", "minor")):
        refused = run_relsafe(*command, cwd=sample.root)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert ".bumpversion.toml: bump-my-version glob" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    assert victim.read_text(encoding="utf-8") == "0.1.0\n"
    assert world(sample) == before


def test_a_cfg_glob_section_reaching_outside_is_refused(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    victim = sample.root.parent / "victim.txt"
    victim.write_text("0.1.0\n", encoding="utf-8")
    (sample.root / ".bumpversion.cfg").write_text(
        "[bumpversion]\ncurrent_version = 0.1.0\n\n[bumpversion:glob:../*.txt]\n", encoding="utf-8"
    )
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", "bump-my-version cfg with a glob")

    refused = run_relsafe("release", "minor", "--plan", cwd=sample.root)

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert ".bumpversion.cfg: bump-my-version glob: '../*.txt' climbs out" in refused.stderr
    assert victim.read_text(encoding="utf-8") == "0.1.0\n"


# -- the host the upload credential goes to -----------------------------------------------------


def test_an_upload_host_that_is_not_testpypi_or_loopback_must_be_named(
    sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    text = (sample.root / "release.toml").read_text(encoding="utf-8")
    text = re.sub(r'repository-url = "[^"]*"', 'repository-url = "https://pkgs.example.org/upload/"', text)
    commit_config(sample, text)

    refused = run_relsafe("release", "minor", "--plan", cwd=sample.root)

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "the upload credential would go to pkgs.example.org" in refused.stderr
    assert 'upload-host = "pkgs.example.org"' in refused.stderr

    commit_config(sample, text.replace("[staging]\n", '[staging]\nupload-host = "pkgs.example.org"\n'))
    planned = run_relsafe("release", "minor", "--plan", cwd=sample.root)
    assert planned.returncode == 0, planned.stdout + planned.stderr


@pytest.mark.slow
def test_the_upload_to_a_named_host_says_so_once(tmp_path: Path, run_relsafe: RunRelsafe) -> None:
    """0.0.0.0 reaches the loopback index on Linux but is not loopback by name: a host like any other."""
    with LocalIndex() as index:
        upload_url = index.upload_url.replace("127.0.0.1", "0.0.0.0")
        sample = create_sample(tmp_path)
        toml = staging_toml(upload_url, index.index_url, '["preflight", "bump", "build", "stage"]')
        commit_config(sample, toml.replace("[staging]\n", '[staging]\nupload-host = "0.0.0.0"\n'))
        env = base_env(tmp_path / "home", TWINE_USERNAME="someone", TWINE_PASSWORD=token("pw", 20))
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost,0.0.0.0"
        (tmp_path / "home").mkdir()

        done = run_relsafe("release", "minor", cwd=sample.root, env=env)

        assert done.returncode == 0, done.stdout + done.stderr
        assert len(list(index.storage.iterdir())) == 2
    said = (done.stdout + done.stderr).count("goes to 0.0.0.0, as [staging] upload-host allows")
    assert said == 1, done.stdout + done.stderr


# -- an index echoing the login in every form --------------------------------------------------


def echo_forms(username: str, password: str) -> dict[str, str]:
    """What an index's error page may make of a login."""
    login = f"{username}:{password}"
    return {
        "basic auth": base64.b64encode(login.encode()).decode(),
        "basic auth, percent-encoded password": base64.b64encode(
            f"{username}:{quote(password, safe='')}".encode()
        ).decode(),
        "decimal entities": "".join(f"&#{ord(char)};" for char in password),
        "hexadecimal entities": "".join(f"&#x{ord(char):x};" for char in password),
        "html-escaped": html.escape(password),
        "<wbr>-split": "<wbr>".join(password[i : i + 5] for i in range(0, len(password), 5)),
        "json-escaped": json.dumps({"password": password})[14:-2].replace("/", "\\/"),
        "percent-encoded": quote(password, safe=""),
        "truncated": password[3:17],
    }


@contextmanager
def echoing_index() -> Iterator[str]:
    """An index that refuses every upload with a page quoting the login in every form."""

    class Echo(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:  # http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            header = self.headers.get("Authorization", "")
            raw = base64.b64decode(header.partition(" ")[2])
            try:
                login = raw.decode("utf-8")
            except UnicodeDecodeError:  # requests (twine) sends a login in latin-1
                login = raw.decode("latin-1")
            username, _, password = login.partition(":")
            lines = [f"{name}: {form}" for name, form in echo_forms(username, password).items()]
            payload = ("<html><body><pre>" + "\n".join(lines) + "</pre></body></html>").encode()
            self.send_response(400, " | ".join(lines))  # twine shows the reason, uv the page
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST

    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
@pytest.mark.parametrize("uploader", ["uv", "twine"])
def test_an_index_echoing_a_password_in_any_form_never_shows_it(
    uploader: str, tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    password = "pä$$/wörd+" + "".join(random.choices(string.ascii_letters + string.digits, k=30))
    home = tmp_path / "home"
    home.mkdir()
    with LocalIndex() as index, echoing_index() as echo_url:
        sample = create_sample(tmp_path)
        commit_config(sample, staging_toml(echo_url, index.index_url, '["preflight", "bump", "build", "stage"]'))
        env = base_env(home, TWINE_USERNAME="maintainer", TWINE_PASSWORD=password)
        if uploader == "twine":
            env["RELSAFE_NO_UV"] = "1"

        failed = run_relsafe("release", "minor", cwd=sample.root, env=env)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    shown = failed.stdout + failed.stderr + everything_written(sample)
    assert "decimal entities:" in shown and "********" in shown, "the index's page reached the log, masked"
    for name, form in echo_forms("maintainer", password).items():
        assert form not in shown, f"the {name} form of the password was shown or written"


def test_each_echo_form_of_a_known_secret_is_masked() -> None:
    from relsafe.core.redaction import MASK, Redactor

    password = 'pä$$/wörd+"&<' + "".join(random.choices(string.ascii_letters + string.digits, k=30))
    redact = Redactor()
    redact.add_login("maintainer", password)
    for name, form in echo_forms("maintainer", password).items():
        shown = redact(f"{name}: {form}.")
        assert form not in shown and MASK in shown, (name, shown)


def test_a_token_given_as_a_remote_urls_user_name_is_masked(tmp_path: Path) -> None:
    from relsafe.core.errors import ToolFailed
    from relsafe.journal.runlog import RunLog
    from relsafe.tools.git import Git

    secret = token("", 40)  # a bare token, shaped like nothing known
    sample = create_sample(tmp_path)
    git(sample.root, "remote", "set-url", "origin", f"https://{secret}@127.0.0.1:9/owner/repo.git")
    log_path = tmp_path / "run.log"
    repository = Git(sample.root, RunLog(log_path))

    assert repository.remote_url("origin") is not None
    with pytest.raises(ToolFailed) as failed:
        repository.fetch("origin")

    shown = str(failed.value) + "".join(failed.value.details) + log_path.read_text(encoding="utf-8")
    assert "remote.origin.url" in shown or "git fetch origin" in shown
    assert secret not in shown
    from relsafe.core.redaction import Redactor

    assert secret not in Redactor()(f"remote: https://{secret}@github.com/owner/repo.git")


# -- the re-executed relsafe --------------------------------------------------------------------


def test_relsafe_hands_its_credentials_over_to_itself_and_keeps_none_in_its_environment(tmp_path: Path) -> None:
    """The handover, seen from a child: relsafe's /proc/<pid>/environ holds no credential after it."""
    import subprocess

    secret = token()
    script = textwrap.dedent(
        """
        import hashlib, os, subprocess, sys
        from relsafe.core import withheld
        from relsafe.tools.handover import withhold_credentials

        withhold_credentials()
        parent = os.getpid()
        seen = subprocess.run(
            [sys.executable, "-c", f"print(open('/proc/{parent}/environ', 'rb').read().decode())"],
            capture_output=True, text=True, env={"PATH": os.environ["PATH"]},
        ).stdout
        kept = withheld.get("TWINE_PASSWORD") or ""
        print("KEPT", hashlib.sha256(kept.encode()).hexdigest() == os.environ.get("EXPECTED"))
        print("SEEN", "TWINE_PASSWORD" in seen or "pypi-" in seen)
        print("OWN", "TWINE_PASSWORD" in os.environ)
        """
    )
    path = tmp_path / "probe.py"
    path.write_text(script, encoding="utf-8")
    expected = hashlib.sha256(secret.encode()).hexdigest()
    env = {"PATH": os.environ["PATH"], "TWINE_PASSWORD": secret, "EXPECTED": expected}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)

    done = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=60)

    assert done.returncode == 0, done.stderr
    assert "KEPT True" in done.stdout and "SEEN False" in done.stdout and "OWN False" in done.stdout, done.stdout


# -- what a suite may ask for, and the opt-out -----------------------------------------------------


@pytest.mark.slow
def test_test_env_passes_a_named_variable_to_the_tests_only_and_scratch_home_can_be_switched_off(
    tmp_path: Path, run_relsafe: RunRelsafe
) -> None:
    needed, other = token("db", 24), token("other", 24)
    home = tmp_path / "home"
    home.mkdir()
    with LocalIndex() as index:
        sample = create_sample(tmp_path)
        toml = staging_toml(index.upload_url, index.index_url, '["preflight", "bump", "build", "smoke"]')
        toml = toml.replace("[release]\n", "[release]\nscratch-home = false\n")
        toml = toml.replace("[test]\ncommand", '[test]\nenv = ["DB_PASSWORD"]\ncommand')
        commit_config(sample, toml)
        out = tmp_path / "found"
        plant_probes(sample, [needed, other], out, hooks=False)
        git(sample.root, "push", "-q", "origin", "main")

        done = run_relsafe(
            "release", "minor", cwd=sample.root, env=base_env(home, DB_PASSWORD=needed, OTHER_PASSWORD=other)
        )

    assert done.returncode == 0, done.stdout + done.stderr
    reports = {path.name.split("-")[0]: json.loads(path.read_text(encoding="utf-8")) for path in out.iterdir()}
    assert reports["tests"]["own"] == [needed], "the test got DB_PASSWORD, and only it"
    assert reports["backend"]["own"] == [], "the build did not"
    assert reports["tests"]["home"] == str(home) == reports["backend"]["home"], "scratch-home = false: your HOME"


def test_credential_variables_are_known_by_name_and_by_value() -> None:
    from relsafe.core.environment import scrubbed, secret_values, withheld

    environment = {
        "AWS_SECRET_ACCESS_KEY": "x" * 40,
        "AWS_ACCESS_KEY_ID": "AKIA" + "X" * 16,
        "GH_PAT": "x" * 20,
        "HATCH_INDEX_AUTH": "x" * 20,
        "POETRY_PYPI_TOKEN_PYPI": "x" * 20,
        "SSH_AUTH_SOCK": "/tmp/agent.sock",
        "GNUPGHOME": "/root/.gnupg",
        "GOOGLE_APPLICATION_CREDENTIALS": "/keys/sa.json",
        "PIP_INDEX_URL": "https://user:pass@mirror.example.org/simple/",
        "UV_INDEX_URL": "https://" + "t0k3n" * 5 + "@mirror.example.org/simple/",
        "SOMETHING": token(),
        # kept
        "GIT_AUTHOR_NAME": "Someone",
        "PATH": "/usr/bin",
        "HOME": "/root",
        "PIP_EXTRA_INDEX_URL": "https://mirror.example.org/simple/",
        "GIT_SSH_URL": "ssh://git@github.com/owner/repo.git",
    }
    kept = {"GIT_AUTHOR_NAME", "PATH", "HOME", "PIP_EXTRA_INDEX_URL", "GIT_SSH_URL"}
    assert set(scrubbed(environment)) == kept
    assert set(withheld(environment)) == set(environment) - kept
    assert set(secret_values(environment)) == {"x" * 40, "x" * 20}, "paths, ids and URLs are masked by shape"
