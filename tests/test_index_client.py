"""The index client against a real pypiserver and real twine, plus parsers and credentials offline."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import keyring
import pytest
from keyring.backend import KeyringBackend

from relsafe.core.errors import StepFailed, ToolFailed
from relsafe.journal.runlog import RunLog
from relsafe.model.index_url import is_production_pypi
from relsafe.tools.index.credentials import Credentials, resolve_credentials, warn_if_pypirc_exposed
from relsafe.tools.index.simple_api import (
    IndexFile,
    IndexUnavailable,
    ProjectStatus,
    files_for,
    parse_simple_html,
    parse_simple_json,
    parse_status_html,
    parse_status_json,
    project_files,
)
from relsafe.tools.index.transfer import FileExists, download, upload
from relsafe.tools.localindex import LocalIndex

if TYPE_CHECKING:
    from tests.support.projects import TinyDists

WHEEL_SHA = "926404dc0fa565274058b0866dd02062d07ef2537b7d7b5d084995a3d55d0de7"
SDIST_SHA = "5d41402abc4b2a76b9719d911017c592ae3a2b6b8e2a3c0f0b5f4e0c6f3b2a1d"

# What TestPyPI answers for a project page in JSON (PEP 691), trimmed to two files.
JSON_PAGE = f"""{{
  "meta": {{"api-version": "1.1", "_last-serial": 1}},
  "name": "tiny-pkg",
  "versions": ["0.1.0", "0.2.0"],
  "files": [
    {{"filename": "tiny_pkg-0.1.0-py3-none-any.whl",
      "url": "https://test-files.pythonhosted.org/packages/ab/cd/tiny_pkg-0.1.0-py3-none-any.whl",
      "hashes": {{"sha256": "{WHEEL_SHA.upper()}"}}, "requires-python": null, "yanked": false}},
    {{"filename": "tiny_pkg-0.2.0.tar.gz",
      "url": "../../packages/tiny_pkg-0.2.0.tar.gz",
      "hashes": {{"sha256": "{SDIST_SHA}", "md5": "0"}}, "yanked": false}}
  ]
}}"""

# What pypiserver answers for a project page (PEP 503 HTML).
HTML_PAGE = f"""<!DOCTYPE html>
<html lang="en">
    <head><title>Links for tiny-pkg</title></head>
    <body>
        <h1>Links for tiny-pkg</h1>
            <a href="/packages/tiny_pkg-0.1.0-py3-none-any.whl#sha256={WHEEL_SHA}"
               >tiny_pkg-0.1.0-py3-none-any.whl</a><br>
            <a href="../../packages/tiny_pkg-0.2.0.tar.gz#sha256={SDIST_SHA}"
               data-requires-python="&gt;=3.8">tiny_pkg-0.2.0.tar.gz</a><br>
    </body>
</html>
"""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class MemoryKeyring(KeyringBackend):
    """A keyring that lives in the test, so no test reads or writes the machine's keyring."""

    priority = 1

    def __init__(self) -> None:  # no super(): it would read KEYRING_PROPERTY_* from the environment
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


@pytest.fixture(autouse=True)
def memory_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


class FlakyIndex(BaseHTTPRequestHandler):
    """An upload endpoint that answers each POST with the next scripted status."""

    statuses: ClassVar[list[int]] = []
    posts: ClassVar[int] = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).posts += 1
        status = self.statuses.pop(0)
        body = b"Service Unavailable" if status >= 500 else b"OK" if status == 200 else b"invalid metadata"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the counters, not the server's chatter."""


@pytest.fixture
def flaky_index() -> Iterator[tuple[str, type[FlakyIndex]]]:
    FlakyIndex.statuses, FlakyIndex.posts = [], 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), FlakyIndex)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", FlakyIndex
    server.shutdown()
    server.server_close()


# --- reading the simple API ------------------------------------------------------------------


def test_json_page_parses_to_files_with_absolute_urls_and_lowercase_hashes() -> None:
    files = parse_simple_json(JSON_PAGE, "https://test.pypi.org/simple/tiny-pkg/")
    assert files == [
        IndexFile(
            "tiny_pkg-0.1.0-py3-none-any.whl",
            "https://test-files.pythonhosted.org/packages/ab/cd/tiny_pkg-0.1.0-py3-none-any.whl",
            WHEEL_SHA,
        ),
        IndexFile("tiny_pkg-0.2.0.tar.gz", "https://test.pypi.org/packages/tiny_pkg-0.2.0.tar.gz", SDIST_SHA),
    ]


def test_html_page_parses_to_the_same_files() -> None:
    files = parse_simple_html(HTML_PAGE, "http://127.0.0.1:8080/simple/tiny-pkg/")
    assert [(entry.filename, entry.url, entry.sha256) for entry in files] == [
        (
            "tiny_pkg-0.1.0-py3-none-any.whl",
            "http://127.0.0.1:8080/packages/tiny_pkg-0.1.0-py3-none-any.whl",
            WHEEL_SHA,
        ),
        ("tiny_pkg-0.2.0.tar.gz", "http://127.0.0.1:8080/packages/tiny_pkg-0.2.0.tar.gz", SDIST_SHA),
    ]


def test_the_project_status_of_pep_792_is_read_from_json_and_html_and_absent_means_active() -> None:
    archived = '{"meta": {"api-version": "1.4"}, "project-status": {"status": "archived", "reason": "moved"}}'
    html = (
        '<html><head><meta name="pypi:repository-version" content="1.4">'
        '<meta name="pypi:project-status" content="quarantined"></head><body></body></html>'
    )

    assert parse_status_json(archived) == ProjectStatus("archived", "moved")
    assert parse_status_json(archived).refuses_uploads
    assert parse_status_html(html) == ProjectStatus("quarantined", "")
    assert parse_status_json(JSON_PAGE) == parse_status_html(HTML_PAGE) == ProjectStatus("active", "")
    assert not parse_status_json('{"project-status": {"status": "deprecated"}}').refuses_uploads


def test_a_file_listed_without_sha256_is_an_error_not_a_guess() -> None:
    page = '<a href="/packages/tiny_pkg-0.1.0.tar.gz#md5=abc">tiny_pkg-0.1.0.tar.gz</a>'
    with pytest.raises(StepFailed, match="without a sha256"):
        parse_simple_html(page, "http://127.0.0.1:8080/simple/tiny-pkg/")


@pytest.mark.slow
def test_files_for_sees_exactly_the_uploaded_files_with_their_hashes(
    local_index: LocalIndex, tiny_dists: TinyDists, run_log: RunLog
) -> None:
    for path in tiny_dists.files:
        upload(path, repository_url=local_index.upload_url, credentials=local_index.credentials, log=run_log)
    expected = {path.name: _sha256(path) for path in tiny_dists.files}

    assert files_for(local_index.index_url, "tiny-pkg") == expected
    assert files_for(local_index.index_url, "Tiny.PKG", "0.1.0") == expected  # name normalised per PEP 503
    assert files_for(local_index.index_url, "tiny_pkg", "0.1") == expected  # versions compare by PEP 440
    assert files_for(local_index.index_url, "tiny-pkg", "0.2.0") == {}
    assert files_for(local_index.index_url, "other-pkg") == {}


@pytest.mark.slow
def test_download_checks_the_hash_and_leaves_nothing_half_written(
    local_index: LocalIndex, tiny_dists: TinyDists, run_log: RunLog, tmp_path: Path
) -> None:
    upload(
        tiny_dists.wheel,
        repository_url=local_index.upload_url,
        credentials=local_index.credentials,
        log=run_log,
    )
    [listed] = project_files(local_index.index_url, "tiny-pkg")

    fetched = download(listed.url, tmp_path, expected_sha256=listed.sha256)
    assert fetched == tmp_path / tiny_dists.wheel.name
    assert fetched.read_bytes() == tiny_dists.wheel.read_bytes()

    elsewhere = tmp_path / "mismatch" / "copy.whl"
    elsewhere.parent.mkdir()
    with pytest.raises(StepFailed, match="does not match the built file"):
        download(listed.url, elsewhere, expected_sha256="0" * 64)
    assert list(elsewhere.parent.iterdir()) == []

    with pytest.raises(StepFailed, match="404"):
        download(listed.url.replace(".whl", "-missing.whl"), tmp_path)


# --- uploading -------------------------------------------------------------------------------


@pytest.fixture(params=["uv publish", "twine upload"])
def uploader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every upload test runs with uv publish (uv installed with relsafe) and with twine (RELSAFE_NO_UV)."""
    if request.param == "twine upload":
        monkeypatch.setenv("RELSAFE_NO_UV", "1")
    else:
        monkeypatch.delenv("RELSAFE_NO_UV", raising=False)
    return str(request.param)


@pytest.mark.slow
def test_a_second_upload_of_the_same_file_name_is_file_exists(
    local_index: LocalIndex, tiny_dists: TinyDists, run_log: RunLog, uploader: str
) -> None:
    upload(
        tiny_dists.sdist,
        repository_url=local_index.upload_url,
        credentials=local_index.credentials,
        log=run_log,
    )
    with pytest.raises(FileExists, match="already exists") as caught:
        upload(
            tiny_dists.sdist,
            repository_url=local_index.upload_url,
            credentials=local_index.credentials,
            log=run_log,
        )
    assert tiny_dists.sdist.name in caught.value.message
    logged = run_log.path.read_text()  # type: ignore[union-attr]
    assert "\x1b[" not in logged
    assert "exit 0 after" in logged and f": {uploader}" in logged, "the upload ran with this uploader"


@pytest.mark.slow
def test_a_wrong_password_is_a_403_with_a_hint_and_the_password_is_never_shown(
    tiny_dists: TinyDists, run_log: RunLog, uploader: str
) -> None:
    secret = "wrong-Pa55word-never-shown"
    with LocalIndex(username="alice", password="the-right-password") as index:
        with pytest.raises(StepFailed) as caught:
            upload(
                tiny_dists.wheel,
                repository_url=index.upload_url,
                credentials=Credentials("alice", secret, "test"),
                log=run_log,
            )
        assert files_for(index.index_url, "tiny-pkg") == {}
    error = caught.value
    assert "403" in error.message
    assert "use a TestPyPI API token with username __token__" in (error.hint or "")
    shown = "\n".join([str(error), error.message, error.hint or "", *error.details, repr(error)])
    assert secret not in shown
    log_text = run_log.path.read_text()  # type: ignore[union-attr]
    assert "403 Forbidden" in log_text
    assert secret not in log_text


@pytest.mark.slow
def test_a_stopped_index_is_unreachable_after_bounded_retries(
    local_index: LocalIndex, tiny_dists: TinyDists, run_log: RunLog, uploader: str
) -> None:
    url = local_index.upload_url
    local_index.stop()
    with pytest.raises(IndexUnavailable, match=re.escape(f"index unreachable at {url}")):
        upload(
            tiny_dists.wheel,
            repository_url=url,
            credentials=local_index.credentials,
            log=run_log,
            attempts=3,
            backoff=0.01,
        )
    assert run_log.path.read_text().count("retrying in") == 2  # type: ignore[union-attr]


@pytest.mark.slow
def test_5xx_is_retried_until_it_passes(
    flaky_index: tuple[str, type[FlakyIndex]], tiny_dists: TinyDists, run_log: RunLog, uploader: str
) -> None:
    url, server = flaky_index
    server.statuses = [503, 502, 200]
    credentials = Credentials("user", "flaky-password", "test")
    upload(tiny_dists.wheel, repository_url=url, credentials=credentials, log=run_log, backoff=0.01)
    assert server.posts == 3


@pytest.mark.slow
def test_other_4xx_fail_at_once_with_the_uploaders_last_lines(
    flaky_index: tuple[str, type[FlakyIndex]], tiny_dists: TinyDists, run_log: RunLog, uploader: str
) -> None:
    url, server = flaky_index
    server.statuses = [400]
    credentials = Credentials("user", "flaky-password", "test")
    with pytest.raises(ToolFailed, match=uploader) as caught:
        upload(tiny_dists.wheel, repository_url=url, credentials=credentials, log=run_log, backoff=0.01)
    assert not isinstance(caught.value, FileExists)
    assert server.posts == 1
    assert any("400" in line for line in caught.value.details)


# --- credentials -----------------------------------------------------------------------------

TEST_PYPI = "https://test.pypi.org/legacy/"


def _pypirc(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    path = tmp_path / ".pypirc"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_environment_comes_first(tmp_path: Path) -> None:
    pypirc = _pypirc(tmp_path, "[testpypi]\nusername = __token__\npassword = pypi-from-file\n")
    found = resolve_credentials(
        TEST_PYPI, pypirc=pypirc, environ={"TWINE_USERNAME": "__token__", "TWINE_PASSWORD": "pypi-from-env"}
    )
    assert (found.username, found.password) == ("__token__", "pypi-from-env")
    assert "TWINE_" in found.source


def test_testpypi_section_is_used_for_test_pypi_without_a_repository_key(tmp_path: Path) -> None:
    pypirc = _pypirc(tmp_path, "[distutils]\nindex-servers = testpypi\n\n[testpypi]\npassword = pypi-file-token\n")
    found = resolve_credentials("https://test.pypi.org/legacy", pypirc=pypirc, environ={})
    assert (found.username, found.password) == ("__token__", "pypi-file-token")
    assert str(pypirc) in found.source and "[testpypi]" in found.source


def test_a_section_matches_on_its_repository_url_whatever_the_trailing_slash(tmp_path: Path) -> None:
    pypirc = _pypirc(
        tmp_path,
        "[staging]\nrepository = http://127.0.0.1:8080\nusername = bob\npassword = 100%secret\n\n"
        "[other]\nrepository = http://127.0.0.1:9999/\nusername = eve\npassword = not-this-one\n",
    )
    found = resolve_credentials("http://127.0.0.1:8080/", pypirc=pypirc, environ={})
    assert (found.username, found.password) == ("bob", "100%secret")


def test_the_environment_username_combines_with_a_password_from_the_file(tmp_path: Path) -> None:
    pypirc = _pypirc(tmp_path, "[testpypi]\npassword = pypi-file-token\n")
    found = resolve_credentials(TEST_PYPI, pypirc=pypirc, environ={"TWINE_USERNAME": "__token__"})
    assert found.password == "pypi-file-token"


def test_keyring_is_asked_last_by_url_and_username(tmp_path: Path, memory_keyring: MemoryKeyring) -> None:
    memory_keyring.set_password(TEST_PYPI, "__token__", "pypi-from-keyring")
    found = resolve_credentials(TEST_PYPI, pypirc=tmp_path / "absent", environ={})
    assert (found.username, found.password, found.source) == ("__token__", "pypi-from-keyring", "keyring")


def test_no_credentials_anywhere_says_where_to_put_them(tmp_path: Path) -> None:
    with pytest.raises(StepFailed, match=re.escape("no credentials for http://127.0.0.1:8080/")) as caught:
        resolve_credentials("http://127.0.0.1:8080/", pypirc=tmp_path / "absent", environ={})
    assert "TWINE_PASSWORD" in (caught.value.hint or "")


def test_repr_hides_the_password() -> None:
    credentials = Credentials("__token__", "pypi-very-secret-token", "test")
    assert "pypi-very-secret-token" not in repr(credentials)
    assert "__token__" in repr(credentials)


def test_a_readable_pypirc_with_a_password_is_flagged(tmp_path: Path) -> None:
    exposed = _pypirc(tmp_path, "[testpypi]\npassword = pypi-file-token\n", mode=0o644)
    warning = warn_if_pypirc_exposed(exposed)
    assert warning is not None
    assert "chmod 600" in warning and "644" in warning
    assert "pypi-file-token" not in warning

    exposed.chmod(0o600)
    assert warn_if_pypirc_exposed(exposed) is None
    assert warn_if_pypirc_exposed(tmp_path / "absent") is None
    harmless = tmp_path / "harmless"
    harmless.write_text("[testpypi]\nusername = __token__\n")
    harmless.chmod(0o644)
    assert warn_if_pypirc_exposed(harmless) is None


@pytest.mark.parametrize(
    ("url", "production"),
    [
        ("https://upload.pypi.org/legacy/", True),
        ("https://pypi.org/simple/", True),
        ("https://PyPI.org/simple", True),
        ("https://test.pypi.org/legacy/", False),
        ("https://test.pypi.org/simple/", False),
        ("http://127.0.0.1:8080/", False),
        ("https://pypi.org.evil.example/", False),
    ],
)
def test_production_pypi_is_recognised(url: str, production: bool) -> None:
    assert is_production_pypi(url) is production


@pytest.fixture
def redirecting_index(tmp_path: Path, local_index: LocalIndex) -> Iterator[str]:
    """A pypiserver run the default way, whose fallback sends unknown projects on (a 303), here to
    another local index rather than to the public one."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    storage = tmp_path / "own-files"
    storage.mkdir()
    (storage / "held_here-1.0.tar.gz").write_bytes(b"an sdist this index holds")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pypiserver",
            "run",
            "-i",
            "127.0.0.1",
            "-p",
            str(port),
            "--fallback-url",
            local_index.index_url,
            str(storage),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        for _ in range(100):
            try:
                opener.open(f"http://127.0.0.1:{port}/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/simple/"
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.slow
def test_an_index_that_redirects_unknown_projects_is_named_with_the_fix(
    redirecting_index: str, local_index: LocalIndex
) -> None:
    (local_index.storage / "elsewhere-0.2.0.tar.gz").write_bytes(b"a file of another index")
    assert set(files_for(redirecting_index, "held-here", "1.0")) == {"held_here-1.0.tar.gz"}
    with pytest.raises(StepFailed) as raised:
        files_for(redirecting_index, "elsewhere", "0.2.0")
    assert "does not hold elsewhere and sent the request on to " + local_index.index_url in raised.value.message
    assert raised.value.hint is not None and "--disable-fallback" in raised.value.hint
