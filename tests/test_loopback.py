"""The test session reaches no network but loopback (tests/conftest.py), and installs only from its own index."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from relsafe.core.errors import ToolFailed
from relsafe.journal.runlog import RunLog
from relsafe.tools import venv as venvs
from relsafe.tools.localindex import LocalIndex
from relsafe.tools.process import strict_pip_env
from relsafe.tools.uv import uv_executable
from tests.support.loopback import DEAD_PROXY


def test_a_request_beyond_loopback_fails_at_the_dead_proxy() -> None:
    with pytest.raises(urllib.error.URLError) as raised:
        urllib.request.urlopen("https://pypi.org/simple/", timeout=10)
    assert isinstance(raised.value.reason, ConnectionRefusedError), raised.value


def test_uv_and_pip_cannot_reach_pypi(tmp_path: Path) -> None:
    """Named explicitly, PyPI is still out of reach: the installers fail at once, the proxy refusing to connect."""
    uv = uv_executable()
    assert uv is not None
    commands = {
        "uv": [uv, "pip", "install", "--dry-run", "--python", sys.executable, "--index-url", "https://pypi.org/simple/",
               "--no-cache", "six"],
        "pip": [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(tmp_path), "--retries", "1",
                "--index-url", "https://pypi.org/simple/", "six"],
    }  # fmt: skip
    for name, command in commands.items():
        env = strict_pip_env() | {"UV_HTTP_RETRIES": "0"}  # without the session's index, which uv would prefer
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
        output = done.stdout + done.stderr
        assert done.returncode != 0, (name, output)
        assert "Connection refused" in output, (name, output)  # by the dead proxy: pypi.org itself would answer
    assert not list(tmp_path.iterdir())


def test_installs_resolve_from_the_session_index(tmp_path: Path, loopback_only: LocalIndex, run_log: RunLog) -> None:
    assert os.environ["PIP_INDEX_URL"] == os.environ["UV_INDEX_URL"] == loopback_only.index_url
    assert os.environ["HTTPS_PROXY"] == DEAD_PROXY
    venv = venvs.create(tmp_path / "venv", sys.executable, run_log)
    venvs.install(venv, ["hatch-vcs"], run_log)
    served = loopback_only.log_path.read_text(encoding="utf-8")
    for name in ("hatch-vcs", "setuptools-scm", "hatchling"):
        assert f"/simple/{name}/" in served, served


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_an_install_from_a_named_index_ignores_the_shells_uv_and_pip_indexes(
    tmp_path: Path, run_log: RunLog, monkeypatch: pytest.MonkeyPatch, installer: str
) -> None:
    """verify-stage's --index-url is the only source: UV_DEFAULT_INDEX (which uv prefers to --index-url) and
    PIP_INDEX_URL, here the session's index that serves iniconfig, are dropped for that install."""
    if installer == "pip":
        monkeypatch.setenv("RELSAFE_NO_UV", "1")
    assert os.environ["UV_DEFAULT_INDEX"] and os.environ["PIP_INDEX_URL"]
    venv = venvs.create(tmp_path / "venv", sys.executable, run_log)
    with LocalIndex() as empty, pytest.raises(ToolFailed) as raised:
        venvs.install(venv, ["iniconfig"], run_log, index_url=empty.index_url)
    assert "iniconfig" in " ".join(raised.value.details), raised.value.details
