"""--dry-run rehearses every step for real in a sandbox and leaves no trace; --plan only reads."""

from __future__ import annotations

import hashlib
import json

import pytest

from relsafe.app.sample import SampleProject
from relsafe.tools.index.simple_api import files_for
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.processes import kill_at
from tests.support.world import assert_released, journal_dir

PYPI_LIKE_TOKEN = "pypi-AgEIcHlwaS5vcmc" + "Q" * 64


def world(sample: SampleProject, local_index: LocalIndex) -> dict[str, object]:
    """Everything a rehearsal must leave as it was."""
    root = sample.root
    files = {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }
    journal = root / ".git" / "relsafe"
    return {
        "files": files,
        "head": git(root, "rev-parse", "HEAD"),
        "branch": git(root, "symbolic-ref", "HEAD"),
        "refs": git(root, "for-each-ref"),
        "status": git(root, "status", "--porcelain"),
        "worktrees": git(root, "worktree", "list", "--porcelain"),
        "remote": git(sample.remote, "for-each-ref"),
        "state": (journal / "state.json").exists(),
        "index": sorted(p.name for p in local_index.storage.rglob("*") if p.is_file()),
    }


@pytest.mark.slow
def test_rehearsal_with_unreachable_staging_changes_nothing_and_a_real_release_follows(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    local_index.stop()  # the configured staging (and production) index cannot be reached
    before = world(sample, local_index)
    rehearsed = run_relsafe("release", "minor", "--dry-run", cwd=sample.root)
    output = rehearsed.stdout + rehearsed.stderr
    assert rehearsed.returncode == 0, output
    assert "warning" in output and "not checked" in output
    assert "rehearsal passed" in output
    assert world(sample, local_index) == before

    history = list((sample.root / ".git" / "relsafe" / "history").glob("*.json"))
    assert len(history) == 1
    record = json.loads(history[0].read_text())
    assert record["rehearsal"] is True and record["status"] == "rehearsed"
    assert all(record["steps"][name]["status"] == "done" for name in record["order"])

    local_index.restart()
    released = run_relsafe("release", "minor", cwd=sample.root)
    assert released.returncode == 0, released.stdout + released.stderr
    assert git(sample.remote, "rev-parse", "refs/tags/v0.2.0^{commit}") == git(sample.root, "rev-parse", "HEAD")
    assert len(files_for(local_index.index_url, "relsafe-sample", "0.2.0")) == 2


@pytest.mark.slow
def test_rehearsal_collects_every_blocker_and_shows_no_secret(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    root = sample.root
    module = root / "src" / sample.module
    (module / ".pypirc").write_text(f"[pypi]\nusername = __token__\npassword = {PYPI_LIKE_TOKEN}\n", encoding="utf-8")
    (root / "tests" / "test_broken.py").write_text(
        "def test_greets_the_moon():\n    assert False, 'the moon was not greeted'\n", encoding="utf-8"
    )
    git(root, "add", "-A")
    git(root, "commit", "-qm", "a secret and a failing test")
    git(root, "push", "-q", "origin", "main")
    before = world(sample, local_index)

    rehearsed = run_relsafe("release", "minor", "--dry-run", cwd=root)
    output = rehearsed.stdout + rehearsed.stderr
    assert rehearsed.returncode == 4, output  # the worst blocker: a refused secret
    assert ".pypirc" in output
    assert "test_greets_the_moon" in output
    assert "smoke" in output and "inspect" in output
    assert PYPI_LIKE_TOKEN not in output
    assert world(sample, local_index) == before
    for path in (root / ".git").rglob("*"):
        if path.is_file():
            assert PYPI_LIKE_TOKEN.encode() not in path.read_bytes() or "objects" in path.parts


@pytest.mark.slow
def test_rehearsal_reports_a_real_blocker_in_the_repository(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    (sample.root / "notes.txt").write_text("uncommitted\n", encoding="utf-8")
    before = world(sample, local_index)
    rehearsed = run_relsafe("release", "minor", "--dry-run", cwd=sample.root)
    output = rehearsed.stdout + rehearsed.stderr
    assert rehearsed.returncode == 4, output
    assert "not clean" in output and "notes.txt" in output
    assert "preflight" in output
    # the rest of the pipeline still ran, in the sandbox
    record = json.loads(next((sample.root / ".git" / "relsafe" / "history").glob("*.json")).read_text())
    assert record["status"] == "blocked"
    assert record["steps"]["smoke"]["status"] == "done"
    assert world(sample, local_index) == before


@pytest.mark.slow
def test_a_rehearsal_or_a_release_while_a_release_is_in_progress_names_it_and_changes_nothing(
    release_sample: SampleProject, empty_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    kill_at(sample, "after-bump-commit")
    state = journal_dir(sample) / "state.json"
    in_progress = state.read_text(encoding="utf-8")
    before = world(sample, empty_index)
    message = (
        "a release of 0.2.0 is in progress (step bump); finish it with `relsafe resume` or end it with `relsafe abort`"
    )

    rehearsed = run_relsafe("release", "minor", "--dry-run", cwd=sample.root)

    output = rehearsed.stdout + rehearsed.stderr
    assert rehearsed.returncode == 4, output
    assert message in rehearsed.stdout
    assert "1 blocker(s)" in rehearsed.stdout and "would go through" not in output
    record = json.loads(next((journal_dir(sample) / "history").glob("*.json")).read_text())
    assert record["rehearsal"] is True and record["status"] == "blocked"
    assert record["blockers"] == [{"step": "preflight", "message": message, "exit_code": "4"}]
    # the bumped files say 0.2.0 already, so this version is no increase: the release in progress is named first
    same = run_relsafe("release", "0.2.0", "--dry-run", cwd=sample.root)
    assert same.returncode == 4, same.stdout + same.stderr
    assert f"error: {message}" in same.stderr

    released = run_relsafe("release", "patch", cwd=sample.root)

    assert released.returncode == 4, released.stdout + released.stderr
    assert f"error: {message}" in released.stderr
    assert world(sample, empty_index) == before
    assert state.read_text(encoding="utf-8") == in_progress, "neither touched the release in progress"

    resumed = run_relsafe("resume", cwd=sample.root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert_released(sample, "0.2.0", base)


@pytest.mark.slow
def test_plan_prints_the_release_and_changes_nothing(
    sample: SampleProject, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    before = world(sample, local_index)
    planned = run_relsafe("release", "minor", "--plan", cwd=sample.root)
    assert planned.returncode == 0, planned.stderr
    out = planned.stdout
    assert "0.1.0 → 0.2.0" in out
    assert "v0.2.0" in out
    assert local_index.index_url in out
    assert '-version = "0.1.0"' in out and '+version = "0.2.0"' in out
    assert '+__version__ = "0.2.0"' in out
    assert world(sample, local_index) == before
    assert not (sample.root / ".git" / "relsafe").exists()
