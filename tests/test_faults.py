"""Faults in the world around a release: an index that answers 500, resets or hangs, a stale
.git/index.lock. Each ends with a clear message and exit 1; once the fault clears, `resume`
finishes with nothing uploaded or tagged twice."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from relsafe.app.sample import SampleProject
from relsafe.tools.index.simple_api import files_for
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.fault_server import FaultServer
from tests.support.git import git
from tests.support.release_config import rewrite_workflow


@pytest.fixture
def faulty_staging(sample: SampleProject, local_index: LocalIndex) -> Iterator[FaultServer]:
    """The sample stages through a FaultServer in front of the real local index."""
    upstream = local_index.upload_url.rstrip("/")
    with FaultServer(upstream).running() as server:
        text = (sample.root / "release.toml").read_text(encoding="utf-8")
        text = text.replace(f'repository-url = "{local_index.upload_url}"', f'repository-url = "{server.url}/"')
        text = text.replace("[production]", "[production]  # the real index, read directly", 1)
        staging_index = f'index-url = "{local_index.index_url}"'
        text = text.replace(staging_index, f'index-url = "{server.url}/simple/"', 1)
        (sample.root / "release.toml").write_text(text, encoding="utf-8")
        rewrite_workflow(sample.root)  # the workflow promotes from where the files are staged
        git(sample.root, "commit", "-qam", "stage through a faulty proxy")
        git(sample.root, "push", "-q", "origin", "main")
        yield server


def built_hashes(sample: SampleProject, run_relsafe: RunRelsafe) -> dict[str, str]:
    status = json.loads(run_relsafe("status", "--json", cwd=sample.root).stdout)
    return {a["name"]: a["sha256"] for a in status["steps"]["build"]["outputs"]["artifacts"]}


def assert_released_once(sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe) -> None:
    root = sample.root
    assert git(root, "log", "--format=%s").splitlines().count("Bump version: 0.1.0 → 0.2.0") == 1
    assert git(root, "rev-parse", "v0.2.0^{commit}") == git(root, "rev-parse", "HEAD")
    assert git(sample.remote, "rev-parse", "refs/tags/v0.2.0^{commit}") == git(root, "rev-parse", "HEAD")
    assert git(root, "status", "--porcelain") == ""
    staged = files_for(local_index.index_url, "relsafe-sample", "0.2.0")
    assert staged == built_hashes(sample, run_relsafe)
    assert len(staged) == 2


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["500", "reset"])
def test_upload_fault_fails_cleanly_then_resume_uploads_each_file_once(
    mode: str,
    sample: SampleProject,
    local_index: LocalIndex,
    faulty_staging: FaultServer,
    run_relsafe: RunRelsafe,
) -> None:
    faulty_staging.mode = mode
    failed = run_relsafe("release", "minor", cwd=sample.root)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    # twine's own traceback may be quoted in the details (`  │ Traceback …`); relsafe's never starts a line
    assert not any(line.startswith("Traceback") for line in (failed.stdout + failed.stderr).splitlines())
    assert "stage" in failed.stdout + failed.stderr
    assert len(faulty_staging.uploads(mode)) >= 2, "a 5xx or a reset is retried before giving up"
    assert files_for(local_index.index_url, "relsafe-sample", "0.2.0") == {}
    assert git(sample.root, "tag", "--list") == ""

    faulty_staging.mode = "ok"
    resumed = run_relsafe("resume", cwd=sample.root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert len(faulty_staging.uploads("ok")) == 2, "each file goes up exactly once"
    assert_released_once(sample, local_index, run_relsafe)


@pytest.mark.slow
def test_hanging_index_times_out_with_a_clear_message(
    sample: SampleProject, local_index: LocalIndex, faulty_staging: FaultServer, run_relsafe: RunRelsafe
) -> None:
    faulty_staging.mode = "hang"
    env = relsafe_env(RELSAFE_INDEX_TIMEOUT="3")
    failed = run_relsafe("release", "minor", cwd=sample.root, env=env)
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    assert "did not finish within 3 s" in output
    assert "Traceback" not in output

    faulty_staging.mode = "ok"
    resumed = run_relsafe("resume", cwd=sample.root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_released_once(sample, local_index, run_relsafe)


@pytest.mark.slow
def test_staging_reads_failing_with_500_block_the_release_before_anything_changes(
    sample: SampleProject, faulty_staging: FaultServer, run_relsafe: RunRelsafe
) -> None:
    faulty_staging.faulty = ("GET",)
    faulty_staging.mode = "500"
    head = git(sample.root, "rev-parse", "HEAD")
    failed = run_relsafe("release", "minor", cwd=sample.root)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "500" in failed.stderr
    assert git(sample.root, "rev-parse", "HEAD") == head
    assert git(sample.root, "status", "--porcelain") == ""


@pytest.mark.slow
def test_stale_index_lock_stops_the_bump_and_resume_finishes_once_it_is_gone(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    lock = sample.root / ".git" / "index.lock"
    lock.write_text("", encoding="utf-8")
    failed = run_relsafe("release", "minor", cwd=sample.root)
    output = failed.stdout + failed.stderr
    assert failed.returncode == 1, output
    assert "index.lock" in output
    assert "Traceback" not in output

    lock.unlink()
    resumed = run_relsafe("resume", cwd=sample.root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_released_once(sample, local_index, run_relsafe)
