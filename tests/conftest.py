"""Shared fixtures: real sample projects in real git repositories with a bare remote."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from relsafe.sample import SampleProject, create_sample
from relsafe.tools.localindex import LocalIndex

pytest_plugins = ["tests.index_fixtures", "tests.release_fixtures"]

RunRelsafe = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def sample(tmp_path: Path, local_index: LocalIndex) -> SampleProject:
    """A healthy hatchling package at 0.1.0 on main, pushed to a bare remote.

    Its release.toml points staging and production at a real local index, so
    a release never leaves the machine.
    """
    return create_sample(tmp_path, index=(local_index.upload_url, local_index.index_url))


def git(cwd: Path, *args: str) -> str:
    """Plain git for assertions: tests read the world independently of relsafe's own wrapper."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def relsafe_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELSAFE_")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})
    env.update(extra)
    return env


@pytest.fixture
def run_relsafe() -> RunRelsafe:
    """Run the real CLI in a subprocess, the way a user (or CI) does."""

    def run(
        *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "relsafe", *args],
            cwd=cwd,
            env=env or relsafe_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )

    return run
