"""The crash matrix: a full staged release killed with SIGKILL at every failpoint of every step, and at
journal writes across the whole pipeline, then resumed. After each: exactly one bump commit, the tag on it
and pushed, exactly the wheel and the sdist on the staging index with the built hashes, a clean tree, the
journal at done."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from relsafe.app.sample import SampleProject
from relsafe.tools.index.simple_api import files_for
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.processes import KILLED, session_processes, start, wait_for
from tests.support.world import assert_released

pytestmark = pytest.mark.slow

FAILPOINTS = [
    "after-version-files",  # version files written, not committed
    "after-bump-commit",
    "between-uploads",  # one of two files on the staging index
    "verify-stage-downloaded",
    "after-tag",  # tagged, not pushed
    # during journal writes spread over the pipeline: the first, inside bump, build, smoke/inspect, stage, push
    "journal-write:1",
    "journal-write:4",
    "journal-write:7",
    "journal-write:10",
    "journal-write:13",
    "journal-write:16",
    "journal-write:19",
]


def assert_staged_exactly_the_build(status: dict[str, Any], index: LocalIndex) -> None:
    built = {a["name"]: a["sha256"] for a in status["steps"]["build"]["outputs"]["artifacts"]}
    assert sorted(name.rsplit(".", 1)[-1] for name in built) == ["gz", "whl"]
    assert files_for(index.index_url, "relsafe-sample", "0.2.0") == built


@pytest.mark.parametrize("failpoint", FAILPOINTS)
def test_killed_anywhere_a_full_release_resumes_to_the_same_result(
    failpoint: str, sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    base = git(sample.root, "rev-parse", "HEAD")
    proc = start(sample, "release", "minor", RELSAFE_FAILPOINT=failpoint)
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == KILLED, f"{failpoint} was never reached: {err}"
    wait_for(lambda: not session_processes(proc.pid), 120, "the killed run's children to exit")

    resumed = run_relsafe("resume", cwd=sample.root)
    if resumed.returncode == 2 and "nothing to resume" in resumed.stderr:
        # killed before the release was first recorded: nothing happened, so it starts again
        resumed = run_relsafe("release", "minor", cwd=sample.root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    status = assert_released(sample, "0.2.0", base)
    assert_staged_exactly_the_build(status, local_index)
    built = [a["name"] for a in status["steps"]["build"]["outputs"]["artifacts"]]
    assert sorted(status["steps"]["stage"]["outputs"]["uploaded"]) == sorted(built)
    storage = sorted(p.name for p in local_index.storage.rglob("*") if p.is_file())
    assert len(storage) == 2, storage
    assert subprocess.run(["git", "fsck", "--no-progress"], cwd=sample.root, capture_output=True).returncode == 0
