"""Shared fixtures: real sample projects in real git repositories with a bare remote, and a test session that
reaches no network but loopback. The helpers tests import live in tests.support."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject, create_sample
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe, relsafe_command, relsafe_env
from tests.support.loopback import (
    DEAD_PROXY,
    LOOPBACK_HOSTS,
    LOOPBACK_PACKAGES,
    MACHINE_INDEX_VARIABLES,
    PROXY_VARIABLES,
)
from tests.support.wheelhouse import closure_wheelhouse

pytest_plugins = ["tests.index_fixtures", "tests.release_fixtures"]


@pytest.fixture(scope="session", autouse=True)
def loopback_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIndex]:
    """The whole session reaches no network but loopback, and says so by failing loudly otherwise.

    A session-wide embedded index (one per xdist worker) serves wheels of the
    build backends and test tools, repacked from this virtualenv without
    network; pip and uv, in this process and in every subprocess relsafe
    starts, install from it. Every proxy variable points at a dead loopback
    port, so an HTTP(S) request to anything but 127.0.0.1 or localhost (PyPI
    included) fails instead of passing on a machine that happens to reach it.
    """
    with pytest.MonkeyPatch.context() as env:
        for name in PROXY_VARIABLES:
            env.setenv(name, DEAD_PROXY)
        env.setenv("NO_PROXY", LOOPBACK_HOSTS)
        env.setenv("no_proxy", LOOPBACK_HOSTS)
        for name in MACHINE_INDEX_VARIABLES:
            env.delenv(name, raising=False)
        env.setenv("PIP_CONFIG_FILE", os.devnull)
        env.setenv("VIRTUALENV_NO_PERIODIC_UPDATE", "1")  # virtualenv would fetch newer seed wheels from PyPI
        folder = tmp_path_factory.mktemp("loopback-index")
        closure_wheelhouse(LOOPBACK_PACKAGES, folder)
        with LocalIndex(folder) as index:
            for name in ("PIP_INDEX_URL", "UV_INDEX_URL", "UV_DEFAULT_INDEX"):
                env.setenv(name, index.index_url)
            yield index


@pytest.fixture
def sample(tmp_path: Path, local_index: LocalIndex) -> SampleProject:
    """A healthy hatchling package at 0.1.0 on main, pushed to a bare remote.

    Its release.toml points staging and production at a real local index, and
    its isolated build and test venvs install from the session's loopback index
    (loopback_only), so a release never leaves the machine.
    """
    return create_sample(tmp_path, index=(local_index.upload_url, local_index.index_url))


@pytest.fixture
def run_relsafe() -> RunRelsafe:
    """Run the real CLI in a subprocess, the way a user (or CI) does."""

    def run(
        *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            relsafe_command(*args),
            cwd=cwd,
            env=env or relsafe_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    return run
