"""`relsafe abort` undoes only what is safely local and says what it cannot undo; `relsafe status` reports."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject, create_sample
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.processes import kill_at, kill_once_the_remote_took_the_push
from tests.support.remotes import REJECT, fail_push, install_hook
from tests.support.world import assert_released, journal_dir, status_json, version_in_files, world


def _aborted(sample: SampleProject, release_id: str) -> None:
    """The release is closed as aborted and kept in history."""
    status = status_json(sample)
    assert status is not None
    assert (status["id"], status["status"]) == (release_id, "aborted")
    assert not (journal_dir(sample) / "state.json").exists()
    record = json.loads((journal_dir(sample) / "history" / f"{release_id}.json").read_text())
    assert record["status"] == "aborted"


@pytest.mark.slow
def test_abort_after_a_failed_push_removes_the_local_tag_and_the_bump_commit(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    status, hook = fail_push(sample, run_relsafe)
    bump = status["steps"]["bump"]["outputs"]["commit"]
    remote_before = world(sample).remote_refs
    folder = journal_dir(sample) / "releases" / status["id"]
    (folder / "verify-stage" / "downloads").mkdir(parents=True, exist_ok=True)  # what a step may leave behind

    proc = run_relsafe("abort", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "aborted the release of 0.2.0" in proc.stdout
    assert "deleted the local tag v0.2.0" in proc.stdout
    assert f"removed the bump commit {bump[:12]}" in proc.stdout
    assert git(sample.root, "rev-parse", "HEAD") == base
    assert git(sample.root, "symbolic-ref", "--short", "HEAD") == "main"
    assert git(sample.root, "tag", "--list") == ""
    assert git(sample.root, "status", "--porcelain", "--untracked-files=all") == ""
    assert set(version_in_files(sample).values()) == {"0.1.0"}
    assert world(sample).remote_refs == remote_before
    _aborted(sample, status["id"])
    assert [path.name for path in folder.iterdir()] == ["dist"], "only the artifacts stay"
    assert run_relsafe("resume", cwd=sample.root).returncode == 2

    # afterwards a new release works, and is a new record
    hook.unlink()
    again = run_relsafe("release", "minor", cwd=sample.root)
    assert again.returncode == 0, again.stdout + again.stderr
    done = assert_released(sample, "0.2.0", base)
    assert done["id"] != status["id"]
    assert len(list((journal_dir(sample) / "history").glob("*.json"))) == 2


@pytest.mark.slow
def test_abort_removes_the_bump_commit_and_keeps_uncommitted_changes(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    status, _hook = fail_push(sample, run_relsafe)
    bump = status["steps"]["bump"]["outputs"]["commit"]
    (sample.root / "README.md").write_text("# work in progress\n", encoding="utf-8")

    proc = run_relsafe("abort", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"removed the bump commit {bump[:12]}" in proc.stdout
    assert "your uncommitted changes are kept (README.md)" in proc.stdout
    assert "reset --hard" not in proc.stdout
    assert "deleted the local tag v0.2.0" in proc.stdout
    assert git(sample.root, "rev-parse", "HEAD") == base
    assert (sample.root / "README.md").read_text() == "# work in progress\n", "the user's change is untouched"
    assert set(version_in_files(sample).values()) == {"0.1.0"}
    assert git(sample.root, "tag", "--list") == ""
    _aborted(sample, status["id"])


@pytest.mark.slow
def test_abort_keeps_a_fix_committed_after_the_bump_and_advises_only_what_keeps_it(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """A fix committed on top of the bump is never thrown away: resume refuses to build on it and says abort
    keeps it; abort keeps both commits and advises a rebase that drops the bump under the fix."""
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    status, hook = fail_push(sample, run_relsafe)
    bump = status["steps"]["bump"]["outputs"]["commit"]
    (sample.root / "CHANGES.md").write_text("the fix\n", encoding="utf-8")
    git(sample.root, "add", "CHANGES.md")
    git(sample.root, "commit", "-q", "-m", "The fix")
    fix = git(sample.root, "rev-parse", "HEAD")

    resumed = run_relsafe("resume", cwd=sample.root)
    assert resumed.returncode == 4, resumed.stdout + resumed.stderr
    assert "1 commit(s) after the bump" in resumed.stderr and "`relsafe abort` keeps them" in resumed.stderr
    assert "reset --hard" not in resumed.stderr

    proc = run_relsafe("abort", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"kept the bump commit {bump[:12]}: 1 commit(s) were made after it" in proc.stdout
    advice = f"git rebase --onto {base[:12]} {bump[:12]}"
    assert advice in proc.stdout
    assert "reset --hard" not in proc.stdout
    assert git(sample.root, "rev-parse", "HEAD") == fix
    assert git(sample.root, "tag", "--list") == ""
    _aborted(sample, status["id"])

    # the advice does what it says: the bump is gone, the fix is kept, and the next release goes through
    git(sample.root, *advice.removeprefix("git ").split())
    assert git(sample.root, "rev-list", "--count", f"{base}..HEAD") == "1"
    assert (sample.root / "CHANGES.md").read_text(encoding="utf-8") == "the fix\n"
    assert set(version_in_files(sample).values()) == {"0.1.0"}
    hook.unlink()
    again = run_relsafe("release", "minor", cwd=sample.root)
    assert again.returncode == 0, again.stdout + again.stderr


@pytest.mark.slow
def test_abort_keeps_commits_when_head_moved(release_sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    sample = release_sample
    status, _hook = fail_push(sample, run_relsafe)
    bump = status["steps"]["bump"]["outputs"]["commit"]
    git(sample.root, "checkout", "-q", "-b", "elsewhere", status["base_commit"])
    (sample.root / "CHANGES.md").write_text("later\n", encoding="utf-8")
    git(sample.root, "add", "CHANGES.md")
    git(sample.root, "commit", "-q", "-m", "Later work")
    later = git(sample.root, "rev-parse", "HEAD")

    proc = run_relsafe("abort", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"kept the bump commit {bump[:12]}: HEAD ({later[:12]}) is elsewhere" in proc.stdout
    assert git(sample.root, "rev-parse", "HEAD") == later
    assert git(sample.root, "tag", "--list") == ""
    _aborted(sample, status["id"])


@pytest.mark.slow
def test_abort_after_a_crash_mid_bump_restores_the_version_files(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    before = world(sample)
    kill_at(sample, "after-version-files")
    interrupted = status_json(sample)
    assert interrupted is not None
    assert git(sample.root, "status", "--porcelain") != ""

    proc = run_relsafe("abort", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "restored the version files" in proc.stdout
    assert world(sample) == before
    _aborted(sample, interrupted["id"])


@pytest.mark.slow
def test_abort_after_a_crash_right_after_the_bump_commit_removes_it(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """The journal never recorded the commit; abort finds it in the world, as resume does."""
    sample = release_sample
    before = world(sample)
    kill_at(sample, "after-bump-commit")
    interrupted = status_json(sample)
    assert interrupted is not None and "commit" not in interrupted["steps"]["bump"]["outputs"]
    bump = git(sample.root, "rev-parse", "HEAD")
    assert bump != before.head

    proc = run_relsafe("abort", cwd=sample.root)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"removed the bump commit {bump[:12]}" in proc.stdout
    assert world(sample) == before
    _aborted(sample, interrupted["id"])


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc to wait for orphaned children")
def test_abort_after_an_unrecorded_push_undoes_nothing_and_says_publishing_started(
    release_sample: SampleProject, run_relsafe: RunRelsafe, tmp_path: Path
) -> None:
    """Killed after the remote took the push but before the journal heard of it: the world says pushed."""
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    kill_once_the_remote_took_the_push(sample, tmp_path)
    bump = git(sample.root, "rev-parse", "HEAD")
    assert git(sample.remote, "rev-parse", "main") == bump, "the push reached the remote"
    interrupted = status_json(sample)
    assert interrupted is not None and interrupted["steps"]["push"]["status"] == "running"

    aborted = run_relsafe("abort", cwd=sample.root)

    assert aborted.returncode == 0, aborted.stdout + aborted.stderr
    assert "already pushed" in aborted.stdout and "cannot be undone" in aborted.stdout
    assert "removed the bump commit" not in aborted.stdout
    assert git(sample.root, "rev-parse", "HEAD") == bump, "a pushed commit is not taken back locally"
    assert git(sample.root, "rev-parse", "v0.2.0^{commit}") == bump
    assert git(sample.remote, "rev-parse", "v0.2.0^{commit}") == bump
    assert git(sample.root, "rev-list", "--count", f"{base}..HEAD") == "1"
    _aborted(sample, interrupted["id"])


def test_abort_with_nothing_in_progress_says_so(release_sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    before = world(release_sample)

    proc = run_relsafe("abort", cwd=release_sample.root)

    assert proc.returncode == 2
    assert "no release is in progress" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert world(release_sample) == before


def test_status_before_any_release(release_sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    text = run_relsafe("status", cwd=release_sample.root)
    as_json = run_relsafe("status", "--json", cwd=release_sample.root)

    assert (text.returncode, as_json.returncode) == (0, 0)
    assert "no release yet" in text.stdout
    assert json.loads(as_json.stdout) is None


@pytest.mark.slow
def test_status_shows_a_failed_release_step_by_step(release_sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    sample = release_sample
    status, _hook = fail_push(sample, run_relsafe)

    text = run_relsafe("status", cwd=sample.root)

    assert text.returncode == 0
    assert "0.1.0 → 0.2.0" in text.stdout and "status failed" in text.stdout
    rows = {line.split()[0]: line.split() for line in text.stdout.splitlines()[2:] if line.strip()}
    assert [rows[name][1] for name in ("preflight", "bump", "build", "tag", "push")] == [
        "done",
        "done",
        "done",
        "done",
        "failed",
    ]
    assert "git push origin failed" in text.stdout
    bump = status["steps"]["bump"]["outputs"]["commit"]
    assert bump[:12] in text.stdout
    # a status from another folder, pointed at the repository
    elsewhere = subprocess.run(
        ["git", "-C", str(sample.root), "rev-parse", "--show-toplevel"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert run_relsafe("status", "-C", elsewhere.stdout.strip(), cwd=sample.root.parent).returncode == 0


@pytest.mark.slow
def test_after_abort_the_next_release_passes_over_the_version_staging_used_up(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    """0.2.0 reached the staging index before the push failed: after abort, `release minor` names 0.2.1 and
    says why, in the plan and in the release, and releases it."""
    sample = create_sample(tmp_path, index=(local_index.upload_url, local_index.index_url), offline=True)
    hook = install_hook(sample, REJECT)
    failed = run_relsafe("release", "minor", cwd=sample.root)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "`relsafe resume` runs push again" in failed.stderr
    assert "0.2.0 is on the staging index" in failed.stderr

    aborted = run_relsafe("abort", cwd=sample.root)
    assert aborted.returncode == 0, aborted.stdout + aborted.stderr
    assert "0.2.0 is used up there, so the next `relsafe release minor` takes the version after it" in aborted.stdout

    planned = run_relsafe("release", "minor", "--plan", cwd=sample.root)
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "0.1.0 → 0.2.1" in planned.stdout
    assert "0.2.0 is used up: the aborted release" in planned.stdout

    hook.unlink()
    base = git(sample.root, "rev-parse", "HEAD")
    released = run_relsafe("release", "minor", cwd=sample.root)
    assert released.returncode == 0, released.stdout + released.stderr
    assert "0.2.0 is used up" in released.stdout
    assert_released(sample, "0.2.1", base)
