"""Fixtures for the release tests (conftest loads them with `pytest_plugins`); the helpers they and the tests
use live in tests.support."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject, create_sample
from relsafe.tools.localindex import LocalIndex
from tests.support.git import git
from tests.support.release_config import release_toml, rewrite_workflow


@pytest.fixture(scope="session")
def empty_index() -> Iterator[LocalIndex]:
    """A real, empty index on loopback that stands for production and staging: preflight asks it, and
    nothing leaves the machine. One per test process; no test uploads to it."""
    with LocalIndex() as index:
        yield index


@pytest.fixture
def release_sample(tmp_path: Path, empty_index: LocalIndex) -> SampleProject:
    """The sample package at 0.1.0 with a committed release.toml that runs the foundation steps, and relsafe's
    publish workflow for it (without staging: the rebuild)."""
    sample = create_sample(tmp_path)
    (sample.root / "release.toml").write_text(release_toml(empty_index), encoding="utf-8")
    git(sample.root, "add", "release.toml", str(rewrite_workflow(sample.root)))
    git(sample.root, "commit", "-q", "-m", "Release configuration")
    git(sample.root, "push", "-q", "origin", "main")
    git(sample.root, "fetch", "-q", "origin")
    return sample
