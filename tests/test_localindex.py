"""The embedded index: a real pypiserver, started, stopped and restarted on loopback."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from relsafe.core.errors import StepFailed
from relsafe.journal.runlog import RunLog
from relsafe.tools.index.simple_api import IndexUnavailable, files_for
from relsafe.tools.index.transfer import upload
from relsafe.tools.localindex import LocalIndex

if TYPE_CHECKING:
    from tests.support.projects import TinyDists

pytestmark = pytest.mark.slow


def _answers(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_serves_on_loopback_with_urls_for_upload_and_simple_api(local_index: LocalIndex) -> None:
    port = local_index.port
    assert port is not None
    assert local_index.upload_url == f"http://127.0.0.1:{port}/"
    assert local_index.index_url == f"http://127.0.0.1:{port}/simple/"
    assert local_index.running
    assert files_for(local_index.index_url, "nothing-here") == {}
    assert "Listening on http://127.0.0.1:" in local_index.log_path.read_text()


def test_stop_frees_the_port_and_restart_keeps_port_and_files(
    local_index: LocalIndex, tiny_dists: TinyDists, run_log: RunLog
) -> None:
    upload(
        tiny_dists.wheel,
        repository_url=local_index.upload_url,
        credentials=local_index.credentials,
        log=run_log,
    )
    before = files_for(local_index.index_url, "tiny-pkg")
    port = local_index.port

    local_index.stop()
    assert not local_index.running
    assert port is not None and not _answers(port)
    with pytest.raises(IndexUnavailable, match="unreachable"):
        files_for(local_index.index_url, "tiny-pkg")

    local_index.restart()
    assert local_index.port == port
    assert files_for(local_index.index_url, "tiny-pkg") == before


def test_owned_storage_is_removed_and_given_storage_kept(
    tmp_path: Path, tiny_dists: TinyDists, run_log: RunLog
) -> None:
    with LocalIndex() as owned:
        owned_storage = owned.storage
        assert owned_storage.is_dir()
    assert not owned_storage.exists()

    given = tmp_path / "packages"
    with LocalIndex(given) as index:
        upload(tiny_dists.sdist, repository_url=index.upload_url, credentials=index.credentials, log=run_log)
    assert [path.name for path in given.iterdir()] == [tiny_dists.sdist.name]


def test_a_server_that_cannot_start_names_its_log(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        index = LocalIndex(log_path=tmp_path / "index.log")
        index.port = busy.getsockname()[1]
        with pytest.raises(StepFailed, match="exited while starting") as caught:
            index.start()
    assert str(tmp_path / "index.log") in (caught.value.hint or "")
    assert any("in use" in line for line in caught.value.details)
    assert not index.running
    index.close()


def test_with_authentication_uploads_with_the_login_succeed(tiny_dists: TinyDists, run_log: RunLog) -> None:
    with LocalIndex(username="alice", password="correct-horse-battery") as index:
        assert index.credentials.username == "alice"
        upload(tiny_dists.wheel, repository_url=index.upload_url, credentials=index.credentials, log=run_log)
        assert set(files_for(index.index_url, "tiny-pkg")) == {tiny_dists.wheel.name}


def test_half_a_login_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="both"):
        LocalIndex(username="alice")
