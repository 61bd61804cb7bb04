"""A realistic token planted where relsafe reads credentials never reaches anything relsafe writes or starts.

Each test plants a token (assembled at run time, so this file holds none),
drives the real CLI against real local indexes, and then greps everything:
stdout, stderr, every file under `.git/relsafe` (state, history, logs), the
commits and tags, and the environments that the project's tests, its build
backend and git's hooks really saw. The forms a tool or an index may turn the
token into are looked for too: base64 in an `Authorization` header,
URL-encoded, and cut by a line break where a tool wrapped its output.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import stat
import string
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from relsafe.app.sample import SampleProject, create_sample
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.fault_server import FaultServer
from tests.support.git import git
from tests.support.release_config import rewrite_workflow, staging_toml
from tests.support.world import journal_dir, world

LOGIN = "__token__"
FAST_STEPS = '["preflight", "bump", "build", "stage"]'


def token() -> str:
    """A token shaped like PyPI's: its fixed prefix, then random URL-safe characters."""
    return "pypi-" + "AgEIcHlwaS5vcmc" + "".join(random.choices(string.ascii_letters + string.digits + "_-", k=80))


def forms(secret: str, username: str = LOGIN) -> dict[str, str]:
    """What a secret looks like once a tool or an index has sent it on."""
    return {
        "plain": secret,
        "basic auth": base64.b64encode(f"{username}:{secret}".encode()).decode(),
        "url-encoded": quote(secret, safe=""),
    }


def written(sample: SampleProject) -> str:
    """Everything relsafe wrote in the repository: the journal's files, commit and tag messages."""
    texts = [
        path.read_text(encoding="utf-8", errors="replace") for path in journal_dir(sample).rglob("*") if path.is_file()
    ]
    texts.append(git(sample.root, "log", "--all", "--format=%B"))
    texts.append(git(sample.root, "for-each-ref", "--format=%(contents)", "refs/tags"))
    return "\n".join(texts)


def assert_nowhere(secret: str, *texts: str, username: str = LOGIN) -> None:
    """No form of the secret in the texts, even with the texts' line breaks, indents and log stamps taken out."""
    joined = "\n".join(texts)
    unwrapped = re.sub(r"\s+", "", re.sub(r"(?m)^\d\d:\d\d:\d\d ", "", joined))
    for name, form in forms(secret, username).items():
        assert form not in joined, f"the {name} form of the secret was written"
        assert re.sub(r"\s+", "", form) not in unwrapped, f"the {name} form of the secret was written, wrapped"


def commit_config(sample: SampleProject, text: str) -> None:
    (sample.root / "release.toml").write_text(text, encoding="utf-8")
    git(sample.root, "add", "release.toml", str(rewrite_workflow(sample.root)))
    git(sample.root, "commit", "-qm", "release configuration")
    git(sample.root, "push", "-q", "origin", "main")


def env_without_credentials(home: Path, **extra: str) -> dict[str, str]:
    """relsafe's environment with none of the machine's credentials, and a HOME of the test's own."""
    env = {name: value for name, value in relsafe_env().items() if not name.startswith(("TWINE_", "PYPI_"))}
    env["HOME"] = str(home)
    env.update(extra)
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    return folder


@pytest.fixture
def login_index() -> Iterator[tuple[LocalIndex, str]]:
    """A staging index that takes uploads only with its token."""
    secret = token()
    with LocalIndex(username=LOGIN, password=secret) as index:
        yield index, secret


# -- leak 1: a .pypirc that does not parse ------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("broken", ["bare token line", "password before any section"])
def test_a_malformed_pypirc_is_named_by_line_and_its_token_never_shown_or_journaled(
    broken: str, tmp_path: Path, home: Path, login_index: tuple[LocalIndex, str], run_relsafe: RunRelsafe
) -> None:
    index, secret = login_index
    sample = create_sample(tmp_path)
    commit_config(sample, staging_toml(index.upload_url, index.index_url, FAST_STEPS))
    section = f"[staging]\nrepository = {index.upload_url}\nusername = {LOGIN}\n"
    text = f"{section}{secret}\n" if broken == "bare token line" else f"password = {secret}\n{section}"
    (home / ".pypirc").write_text(text, encoding="utf-8")
    (home / ".pypirc").chmod(0o600)

    failed = run_relsafe("release", "minor", cwd=sample.root, env=env_without_credentials(home))

    assert failed.returncode == 1, failed.stdout + failed.stderr
    line = 4 if broken == "bare token line" else 1
    assert f".pypirc cannot be read: line {line}" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert_nowhere(secret, failed.stdout, failed.stderr, written(sample))


# -- leaks 2 and 3: an index that echoes the login, in lines a tool wraps ----------------


@pytest.mark.slow
def test_an_index_echoing_the_authorization_header_in_wrapped_lines_never_shows_the_token(
    tmp_path: Path, home: Path, login_index: tuple[LocalIndex, str], run_relsafe: RunRelsafe
) -> None:
    index, secret = login_index
    sample = create_sample(tmp_path)
    with FaultServer(index.upload_url.rstrip("/")).running() as echoing:
        echoing.mode = "echo"
        commit_config(sample, staging_toml(f"{echoing.url}/", index.index_url, FAST_STEPS))
        env = env_without_credentials(home, TWINE_USERNAME=LOGIN, TWINE_PASSWORD=secret)

        failed = run_relsafe("release", "minor", cwd=sample.root, env=env)

        assert echoing.uploads("echo"), "the index really echoed an upload's login"
    assert failed.returncode == 1, failed.stdout + failed.stderr
    stamp = r"\s+(\d\d:\d\d:\d\d\s+)?"  # twine wraps to the terminal's width; the log stamps each line
    assert re.search(rf"Authorization:{stamp}Basic{stamp}\*{{8}}", written(sample)), "the echo, masked"
    assert_nowhere(secret, failed.stdout, failed.stderr, written(sample))


# -- leak 4: credentials in an index URL -------------------------------------------------

URL_SHAPES = {
    "userinfo": "http://{login}:{secret}@127.0.0.1:9/legacy/",
    "scheme-less userinfo": "//{login}:{secret}@127.0.0.1:9/legacy/",
    "userinfo without slashes": "http:{login}:{secret}@127.0.0.1:9/legacy/",
    "query string": "http://127.0.0.1:9/legacy/?password={secret}",
    "token-shaped path segment": "http://127.0.0.1:9/{secret}/legacy/",
    "path segment that is a known secret": "http://127.0.0.1:9/{known}/legacy/",
    "path segment that is a private index's token": "https://dl.example.org/{random}/org/repo/python/simple/",
}


@pytest.mark.parametrize("shape", URL_SHAPES)
@pytest.mark.parametrize("command", [("release", "minor", "--plan"), ("release", "minor")])
def test_an_index_url_carrying_a_credential_is_refused_at_configuration_and_never_echoed(
    shape: str, command: tuple[str, ...], sample: SampleProject, home: Path, run_relsafe: RunRelsafe
) -> None:
    secret, known = token(), "hunter-" + "".join(random.choices(string.ascii_lowercase, k=12))
    random_segment = "".join(random.choices(string.ascii_letters, k=12)) + "".join(random.choices(string.digits, k=6))
    url = URL_SHAPES[shape].format(login=LOGIN, secret=secret, known=known, random=random_segment)
    text = (sample.root / "release.toml").read_text(encoding="utf-8")
    commit_config(sample, re.sub(r'repository-url = "[^"]*"', f'repository-url = "{url}"', text))
    before = world(sample)

    refused = run_relsafe(*command, cwd=sample.root, env=env_without_credentials(home, DEPLOY_PASSWORD=known))

    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "release.toml: staging.repository-url: expected" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert world(sample) == before
    assert not (journal_dir(sample) / "history").exists() and not (journal_dir(sample) / "state.json").exists()
    assert_nowhere(secret, refused.stdout, refused.stderr, written(sample))
    assert known not in refused.stdout + refused.stderr + written(sample)
    assert random_segment not in refused.stdout + refused.stderr + written(sample)


# -- leaks 5 and 6: what the subprocesses inherit, and who may read the journal ------------

DUMP_ENV = "import json, os, sys; json.dump(dict(os.environ), open(sys.argv[1], 'w'))"


def dump_environment_everywhere(sample: SampleProject, dumps: Path) -> None:
    """The project's tests, its build backend and git's hooks each write the environment they were given."""
    dumps.mkdir()
    backend = sample.root / "_backend" / "dumping_backend.py"
    backend.parent.mkdir()
    backend.write_text(
        "import json, os, time\n"
        "from hatchling.build import *  # noqa: F403\n"
        f"json.dump(dict(os.environ), open(os.path.join({str(dumps)!r}, f'backend-{{time.time_ns()}}.json'), 'w'))\n",
        encoding="utf-8",
    )
    pyproject = sample.root / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    text = re.sub(r'build-backend = "[^"]*"', 'build-backend = "dumping_backend"\nbackend-path = ["_backend"]', text)
    pyproject.write_text(text, encoding="utf-8")
    (sample.root / "tests" / "test_environment.py").write_text(
        "import json, os, unittest\n\n\n"
        "class Environment(unittest.TestCase):\n"
        "    def test_dump(self):\n"
        f"        json.dump(dict(os.environ), open(os.path.join({str(dumps)!r}, 'tests.json'), 'w'))\n",
        encoding="utf-8",
    )
    for hook in ("pre-commit", "pre-push", "reference-transaction"):
        path = sample.root / ".git" / "hooks" / hook
        path.write_text(f'#!/bin/sh\n"{sys.executable}" -c "{DUMP_ENV}" "{dumps}/{hook}-$$.json"\n', encoding="utf-8")
        path.chmod(0o755)
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", "dump the environment everywhere")
    for hook in dumps.iterdir():  # the set-up commit's own hook runs
        hook.unlink()


@pytest.mark.slow
def test_credentials_reach_only_the_upload_and_the_journal_is_private(
    tmp_path: Path, home: Path, login_index: tuple[LocalIndex, str], run_relsafe: RunRelsafe
) -> None:
    index, secret = login_index
    others = {"PYPI_TOKEN": token(), "DEPLOY_API_TOKEN": token(), "DB_PASSWORD": token(), "KEYRING_PROPERTY_X": token()}
    sample = create_sample(tmp_path)
    steps = '["preflight", "bump", "build", "inspect", "smoke", "stage", "verify-stage", "tag", "push"]'
    commit_config(sample, staging_toml(index.upload_url, index.index_url, steps))
    dumps = tmp_path / "dumps"
    dump_environment_everywhere(sample, dumps)
    git(sample.root, "push", "-q", "origin", "main")
    env = env_without_credentials(home, TWINE_USERNAME=LOGIN, TWINE_PASSWORD=secret, **others)
    previous = os.umask(0o022)
    try:
        done = run_relsafe("release", "minor", cwd=sample.root, env=env)
    finally:
        os.umask(previous)

    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(path.name for path in index.storage.iterdir()) == [
        "relsafe_sample-0.2.0-py3-none-any.whl",
        "relsafe_sample-0.2.0.tar.gz",
    ], "the upload got the login: the index took both files"
    seen = {path.stem.split("-")[0]: json.loads(path.read_text(encoding="utf-8")) for path in dumps.iterdir()}
    assert {"backend", "tests", "pre", "reference"} <= set(seen), sorted(seen)
    for environment in seen.values():
        assert not {name for name in ("TWINE_PASSWORD", "TWINE_USERNAME", *others) if environment.get(name)}
    everything = [json.dumps(environment) for environment in seen.values()]
    for value in (secret, *others.values()):
        assert_nowhere(value, done.stdout, done.stderr, written(sample), *everything)

    journal = journal_dir(sample)
    for folder in (journal, journal / "logs", journal / "history"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        files = [path for path in folder.iterdir() if path.is_file()]
        assert files or folder == journal
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


# -- the redactor itself ------------------------------------------------------------------


def test_a_known_secret_is_masked_in_every_form_a_tool_sends_it_in() -> None:
    from relsafe.core.redaction import MASK, Redactor

    secret = "s3cret/with+chars=" + "".join(random.choices(string.ascii_letters, k=40))
    redact = Redactor()
    redact.add_login("maintainer", secret)
    wrapped = f"echo: {secret[:20]}\n          {secret[20:]} end"
    texts = {
        "plain": f"x {secret} y",
        "wrapped": wrapped,
        "basic auth": "Authorization: Basic " + base64.b64encode(f"maintainer:{secret}".encode()).decode(),
        "url-encoded": "https://host/?p=" + quote(secret, safe=""),
        "form-encoded": "p=" + quote(secret, safe="").replace("%20", "+"),
    }
    for name, text in texts.items():
        assert secret not in redact(text) and MASK in redact(text), name
        assert_nowhere(secret, redact(text), username="maintainer")


def test_token_shapes_are_masked_but_prose_and_usernames_stay_readable(monkeypatch: pytest.MonkeyPatch) -> None:
    from relsafe.core.redaction import Redactor

    monkeypatch.setenv("TWINE_USERNAME", "__token__")
    redact = Redactor()
    prose = "check the username and password; use a TestPyPI API token with username __token__ (pypi-package)"
    assert redact(prose) == prose
    planted = token()
    assert redact(f"line 3: {planted}") == "line 3: ********"
    assert redact("password = hunter2hunter2") == "password = ********"
    assert redact("https://someone:" + "hunter2hunter2@example.org/simple/") == "https://********@example.org/simple/"


def test_a_variable_named_as_a_credential_is_masked_even_when_set_after_start(monkeypatch: pytest.MonkeyPatch) -> None:
    from relsafe.core.redaction import Redactor

    redact = Redactor()
    value = "".join(random.choices(string.ascii_letters, k=24))
    monkeypatch.setenv("DEPLOY_API_TOKEN", value)
    assert value not in redact(f"the server said {value}")


def test_errors_are_redacted_where_they_are_made() -> None:
    from relsafe.core.errors import StepFailed

    planted = token()
    error = StepFailed(f"upload failed for {planted}", hint=f"try {planted}", details=[f"body: {planted}"])
    assert planted not in error.message + str(error.hint) + "".join(error.details) + str(error)


HASH = "__import__('hashlib').sha256(v.encode()).hexdigest()"


def test_the_commands_relsafe_starts_inherit_no_credential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from relsafe.journal.runlog import RunLog
    from relsafe.tools.process import run

    planted = {"TWINE_PASSWORD": token(), "PYPI_API_TOKEN": token(), "GH_TOKEN": token(), "KEYRING_PROPERTY_X": "x"}
    for name, value in planted.items():
        monkeypatch.setenv(name, value)
    # names and hashes: the output itself is redacted
    show = [sys.executable, "-c", f"import json, os; print(json.dumps({{k: {HASH} for k, v in os.environ.items()}}))"]
    log = RunLog(tmp_path / "run.log")

    inherited = json.loads(run(show, log=log).output)
    given = json.loads(run(show, log=log, env={"PATH": os.environ["PATH"], **planted}).output)
    login = json.loads(run(show, log=log, credentials={"TWINE_PASSWORD": planted["TWINE_PASSWORD"]}).output)

    assert not set(planted) & set(inherited) and not set(planted) & set(given)
    assert login["TWINE_PASSWORD"] == hashlib.sha256(planted["TWINE_PASSWORD"].encode()).hexdigest()
    assert "PYPI_API_TOKEN" not in login
    assert planted["TWINE_PASSWORD"] not in (tmp_path / "run.log").read_text(encoding="utf-8")
    assert stat.S_IMODE((tmp_path / "run.log").stat().st_mode) == 0o600
