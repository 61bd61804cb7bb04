"""Fixtures for tests that need a package index (conftest loads them with `pytest_plugins`).

`local_index` is a real pypiserver on a free loopback port; `tiny_dists` a
real wheel and sdist of a one-module package, built once per session.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relsafe.core.redaction import Redactor
from relsafe.journal.runlog import RunLog
from relsafe.tools.localindex import LocalIndex
from tests.support.projects import TinyDists, build

TINY_NAME = "Tiny_Pkg"  # not normalised on purpose: the index must find it as tiny-pkg
TINY_VERSION = "0.1.0"


@pytest.fixture
def local_index() -> Iterator[LocalIndex]:
    """A started embedded index with open uploads, stopped and removed after the test."""
    with LocalIndex() as index:
        yield index


@pytest.fixture
def run_log(tmp_path: Path) -> RunLog:
    """A run log of its own, with a redactor no other test shares."""
    return RunLog(tmp_path / "run.log", Redactor())


@pytest.fixture(scope="session")
def tiny_dists(tmp_path_factory: pytest.TempPathFactory) -> TinyDists:
    root = tmp_path_factory.mktemp("tiny")
    package = root / "src" / "tiny_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(f'__version__ = "{TINY_VERSION}"\n')
    (root / "README.md").write_text("A tiny package for index tests.\n")
    (root / "pyproject.toml").write_text(
        "[build-system]\n"
        'requires = ["hatchling"]\n'
        'build-backend = "hatchling.build"\n\n'
        "[project]\n"
        f'name = "{TINY_NAME}"\n'
        f'version = "{TINY_VERSION}"\n'
        'description = "A tiny package for index tests"\n'
        'readme = "README.md"\n'
    )
    wheel, sdist = build(root)
    return TinyDists(wheel=wheel, sdist=sdist)
