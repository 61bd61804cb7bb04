"""Without staging the workflow can only rebuild, so a release proves first that a second build of its commit
gives the same bytes, and names the members that differ when it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject, create_sample
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.release_config import rewrite_workflow
from tests.support.world import status_json

pytestmark = pytest.mark.slow

WITHOUT_STAGING = '["preflight", "bump", "build", "inspect", "smoke", "tag", "push"]'

# An in-tree backend around hatchling that stamps every build with a fresh random id.
STAMPING_BACKEND = """\
import os
from pathlib import Path

from hatchling.build import *  # noqa: F403
from hatchling.build import build_sdist as _build_sdist


def build_sdist(sdist_directory, config_settings=None):
    Path("src/relsafe_sample/_build_id.py").write_text(f"BUILD_ID = {os.urandom(8).hex()!r}\\n")
    return _build_sdist(sdist_directory, config_settings)
"""


def _without_staging(sample: SampleProject) -> None:
    config = sample.root / "release.toml"
    config.write_text(config.read_text(encoding="utf-8") + f"\n[release]\nsteps = {WITHOUT_STAGING}\n")
    rewrite_workflow(sample.root)  # without staging, relsafe's workflow rebuilds
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", "release without staging")
    git(sample.root, "push", "-q", "origin", "main")


@pytest.fixture
def offline_sample(tmp_path: Path, local_index: LocalIndex) -> SampleProject:
    return create_sample(tmp_path, index=(local_index.upload_url, local_index.index_url), offline=True)


def test_a_reproducible_build_is_proven_and_released_without_staging(
    offline_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    _without_staging(offline_sample)
    done = run_relsafe("release", "minor", cwd=offline_sample.root)
    assert done.returncode == 0, done.stdout + done.stderr
    status = status_json(offline_sample)
    assert status is not None and "reproducible" in status["steps"]["inspect"]["outputs"]["checks"]


def test_a_build_that_differs_each_time_is_refused_before_the_tag_naming_the_member(
    offline_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    root = offline_sample.root
    (root / "_backend").mkdir()
    (root / "_backend" / "stamping.py").write_text(STAMPING_BACKEND, encoding="utf-8")
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    pyproject = pyproject.replace(
        'build-backend = "hatchling.build"', 'build-backend = "stamping"\nbackend-path = ["_backend"]'
    )
    (root / "pyproject.toml").write_text(pyproject, encoding="utf-8")
    _without_staging(offline_sample)

    refused = run_relsafe("release", "minor", cwd=root)

    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "reproducible: relsafe_sample-0.2.0.tar.gz: a second build of the same commit differs" in refused.stderr
    assert "_build_id.py differs" in refused.stderr
    assert "add stage to steps" in refused.stderr
    assert git(offline_sample.remote, "tag", "--list") == ""
