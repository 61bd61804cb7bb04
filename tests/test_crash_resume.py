"""Crashes, refusals by the remote, and concurrent runs: resume always finishes the same release, once.

Every test kills or blocks a real relsafe process and then checks the real
repository and its bare remote: exactly one bump commit, one annotated tag on
it, both pushed, a clean tree, and every step done in the journal.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import time
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.processes import (
    KILLED,
    kill_at,
    kill_once_the_remote_took_the_push,
    session_processes,
    start,
    wait_for,
)
from tests.support.remotes import REJECT, fail_push, install_hook, push_from_another_clone
from tests.support.world import assert_released, commits_since, journal_dir, status_json, world

pytestmark = pytest.mark.slow


def artifact_facts(sample: SampleProject, release_id: str) -> dict[str, tuple[str, int]]:
    """name → (sha256, mtime_ns) of every built file: a rebuild would change the mtime at least."""
    folder = journal_dir(sample) / "releases" / release_id / "dist"
    return {
        path.name: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in sorted(folder.iterdir())
    }


@pytest.mark.parametrize("failpoint", ["after-version-files", "after-bump-commit", "after-tag"])
def test_killed_at_a_failpoint_resume_finishes_the_same_release(
    failpoint: str, release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")

    pid = kill_at(sample, failpoint)

    interrupted = status_json(sample)
    assert interrupted is not None and interrupted["status"] == "running"
    assert (journal_dir(sample) / "lock.pid").read_text() == f"pid {pid}", "the dead process held the lock"
    step = "tag" if failpoint == "after-tag" else "bump"
    assert interrupted["steps"][step]["status"] == "running"
    tag_object = None
    if failpoint == "after-version-files":
        assert git(sample.root, "rev-parse", "HEAD") == base
        assert git(sample.root, "diff", "--name-only").splitlines() == [
            "pyproject.toml",
            f"src/{sample.module}/__init__.py",
        ]
    elif failpoint == "after-bump-commit":
        assert len(commits_since(sample, base)) == 1
        assert git(sample.root, "tag", "--list") == ""
    else:
        tag_object = git(sample.root, "rev-parse", "refs/tags/v0.2.0")
        assert git(sample.root, "rev-parse", "v0.2.0^{commit}") == git(sample.root, "rev-parse", "HEAD")
        assert git(sample.remote, "tag", "--list") == ""
    crashed_head = git(sample.root, "rev-parse", "HEAD")

    resumed = run_relsafe("resume", cwd=sample.root)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    status = assert_released(sample, "0.2.0", base)
    assert status["id"] == interrupted["id"]
    assert status["runs"] == 2
    assert status["steps"]["build"]["attempts"] == 1
    if failpoint == "after-version-files":
        assert status["steps"]["bump"]["attempts"] == 2
    else:
        # the world was trusted: the bump commit made before the kill is the release commit
        assert status["steps"]["bump"]["attempts"] == 1
        assert git(sample.root, "rev-parse", "HEAD") == crashed_head
    if failpoint == "after-tag":
        # the tag that existed was recorded done, not made again
        assert git(sample.root, "rev-parse", "refs/tags/v0.2.0") == tag_object
        assert status["steps"]["tag"]["attempts"] == 1


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc to wait for orphaned children")
def test_killed_after_the_remote_took_the_push_resume_records_it_without_pushing_again(
    release_sample: SampleProject, run_relsafe: RunRelsafe, tmp_path: Path
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    kill_once_the_remote_took_the_push(sample, tmp_path)
    interrupted = status_json(sample)
    assert interrupted is not None and interrupted["steps"]["push"]["status"] == "running"
    assert git(sample.remote, "rev-parse", "main") == git(sample.root, "rev-parse", "HEAD")
    # a second push would run the hook again: make any second push fail loudly
    install_hook(sample, REJECT)

    resumed = run_relsafe("resume", cwd=sample.root)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    status = assert_released(sample, "0.2.0", base)
    assert status["steps"]["push"]["attempts"] == 1


def test_killed_at_the_first_journal_write_nothing_was_started(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    before = world(sample)

    kill_at(sample, "journal-write")

    assert world(sample) == before
    assert status_json(sample) is None, "a torn first write must leave no release record"
    resumed = run_relsafe("resume", cwd=sample.root)
    assert resumed.returncode == 2
    assert "no release is in progress" in resumed.stderr
    released = run_relsafe("release", "minor", cwd=sample.root)
    assert released.returncode == 0, released.stdout + released.stderr
    assert_released(sample, "0.2.0", base)


def _delays(count: int, start: float, end: float, seed: int) -> list[float]:
    """Seeded random kill times, one in each slice of [start, end], so together they cover the whole run
    (preflight, bump-my-version, the build, tag, push, the final journal writes)."""
    rng, width = random.Random(seed), (end - start) / count
    return [round(rng.uniform(start + i * width, start + (i + 1) * width), 2) for i in range(count)]


DELAYS = _delays(5, 0.2, 5.0, seed=20261124)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc to wait for orphaned children")
@pytest.mark.parametrize("delay", DELAYS)
def test_killed_at_a_random_moment_resume_finishes_the_release(
    delay: float, release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    proc = start(sample, "release", "minor")
    time.sleep(delay)
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=300)
    assert proc.returncode in (0, KILLED)
    # children (git, bump-my-version, build) outlive a killed parent; a user resumes after they are gone
    wait_for(lambda: not session_processes(proc.pid), 120, "the killed run's children to finish")

    resumed = run_relsafe("resume", cwd=sample.root)

    if resumed.returncode == 2 and "no release is in progress" in resumed.stderr:
        if git(sample.root, "tag", "--list") == "":
            # killed before the journal recorded anything: nothing may have changed, and a new release works
            assert git(sample.root, "rev-parse", "HEAD") == base
            assert git(sample.root, "status", "--porcelain") == ""
            again = run_relsafe("release", "minor", cwd=sample.root)
            assert again.returncode == 0, again.stdout + again.stderr
    else:
        assert resumed.returncode == 0, f"killed after {delay} s: " + resumed.stdout + resumed.stderr
    assert_released(sample, "0.2.0", base)


def test_a_refused_push_exits_1_and_resume_finishes_without_a_second_bump_or_build(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    hook = install_hook(sample, REJECT)

    failed = run_relsafe("release", "minor", cwd=sample.root)

    assert failed.returncode == 1
    assert "Traceback" not in failed.stdout + failed.stderr
    assert "git push origin failed" in failed.stderr
    assert "pre-receive hook declined" in failed.stderr and "push rejected by policy" in failed.stderr
    assert "relsafe resume" in failed.stderr, "a failed step must say how to go on"
    status = status_json(sample)
    assert status is not None
    assert status["status"] == "failed"
    assert status["steps"]["push"]["status"] == "failed"
    assert "git push origin failed" in status["steps"]["push"]["error"]
    assert git(sample.remote, "rev-parse", "main") == base
    assert git(sample.remote, "tag", "--list") == ""
    built = artifact_facts(sample, status["id"])
    recorded = status["steps"]["build"]["outputs"]["artifacts"]

    hook.unlink()
    resumed = run_relsafe("resume", cwd=sample.root)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    done = assert_released(sample, "0.2.0", base)
    assert done["id"] == status["id"] and done["runs"] == 2
    assert [done["steps"][s]["attempts"] for s in ("bump", "build", "tag", "push")] == [1, 1, 1, 2]
    assert done["steps"]["build"]["outputs"]["artifacts"] == recorded
    assert artifact_facts(sample, status["id"]) == built


def test_a_diverged_remote_branch_is_refused_on_resume_before_the_push(
    release_sample: SampleProject, run_relsafe: RunRelsafe, tmp_path: Path
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    kill_at(sample, "after-tag")
    theirs = push_from_another_clone(sample, tmp_path)

    resumed = run_relsafe("resume", cwd=sample.root)

    assert resumed.returncode == 4, resumed.stdout + resumed.stderr
    assert "push not started, the world changed since preflight" in resumed.stderr
    assert "origin/main has commits the release commit lacks" in resumed.stderr
    assert git(sample.remote, "rev-parse", "main") == theirs
    assert git(sample.remote, "tag", "--list") == ""
    refused = status_json(sample)
    assert refused is not None and refused["steps"]["push"]["status"] == "blocked"
    assert refused["steps"]["push"]["attempts"] == 0, "no push was tried"

    # the maintainer decides the other commit goes; then resume finishes
    git(tmp_path / "other-clone", "push", "-q", "--force", "origin", f"{base}:refs/heads/main")
    again = run_relsafe("resume", cwd=sample.root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert_released(sample, "0.2.0", base)


def test_a_push_whose_branch_the_remote_refuses_lands_no_tag_either(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    # an update hook judges each ref on its own: it lets the tag through and refuses only the branch
    hook = sample.remote / "hooks" / "update"
    hook.write_text(
        "#!/bin/sh\n[ \"$1\" = refs/heads/main ] && { echo 'main is protected' >&2; exit 1; }\nexit 0\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)

    failed = run_relsafe("release", "minor", cwd=sample.root)

    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "git push origin failed" in failed.stderr and "main is protected" in failed.stderr
    # one atomic push: the branch was refused, so the tag did not land either
    assert git(sample.remote, "rev-parse", "main") == base
    assert git(sample.remote, "tag", "--list") == ""

    hook.unlink()
    again = run_relsafe("resume", cwd=sample.root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert_released(sample, "0.2.0", base)


def test_resume_refuses_when_head_moved_after_a_failed_push(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    status, hook = fail_push(sample, run_relsafe)
    hook.unlink()
    bump = status["steps"]["bump"]["outputs"]["commit"]
    (sample.root / "CHANGES.md").write_text("a late change\n", encoding="utf-8")
    git(sample.root, "add", "CHANGES.md")
    git(sample.root, "commit", "-q", "-m", "A late change")
    moved = git(sample.root, "rev-parse", "HEAD")
    before = world(sample)

    refused = run_relsafe("resume", cwd=sample.root)

    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "HEAD moved since the bump" in refused.stderr
    assert bump[:12] in refused.stderr and moved[:12] in refused.stderr
    assert "1 commit(s) after the bump" in refused.stderr and "`relsafe abort` keeps them" in refused.stderr
    assert "reset --hard" not in refused.stderr, "no advice that throws the late change away"
    assert world(sample) == before
    assert (journal_dir(sample) / "state.json").exists(), "the release stays resumable"

    git(sample.root, "reset", "-q", "--hard", bump)
    again = run_relsafe("resume", cwd=sample.root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert_released(sample, "0.2.0", base)


def test_resume_refuses_an_edited_artifact(release_sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    status, hook = fail_push(sample, run_relsafe)
    hook.unlink()
    wheel = next((journal_dir(sample) / "releases" / status["id"] / "dist").glob("*.whl"))
    original = wheel.read_bytes()
    wheel.write_bytes(original + b"tampered")
    before = world(sample)

    refused = run_relsafe("resume", cwd=sample.root)

    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "build" in refused.stderr and wheel.name in refused.stderr
    assert "changed since it was built" in refused.stderr
    assert "relsafe abort" in refused.stderr
    assert world(sample) == before
    assert git(sample.remote, "tag", "--list") == ""

    wheel.write_bytes(original)
    again = run_relsafe("resume", cwd=sample.root)
    assert again.returncode == 0, again.stdout + again.stderr
    done = assert_released(sample, "0.2.0", base)
    assert done["steps"]["build"]["attempts"] == 1


def test_resume_refuses_a_changed_configuration(release_sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    _status, hook = fail_push(sample, run_relsafe)
    hook.unlink()
    config = sample.root / "release.toml"
    config.write_text(config.read_text() + '\n[test]\ncommand = "python -m pytest -x"\n', encoding="utf-8")

    refused = run_relsafe("resume", cwd=sample.root)

    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "configuration (release.toml) changed" in refused.stderr
    git(sample.root, "checkout", "--", "release.toml")
    again = run_relsafe("resume", cwd=sample.root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert_released(sample, "0.2.0", base)


def test_resume_with_nothing_in_progress_says_so(release_sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    before = world(release_sample)

    proc = run_relsafe("resume", cwd=release_sample.root)

    assert proc.returncode == 2
    assert "no release is in progress" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert world(release_sample) == before


def test_a_second_relsafe_is_refused_while_one_runs(
    release_sample: SampleProject, run_relsafe: RunRelsafe, tmp_path: Path
) -> None:
    sample = release_sample
    base = git(sample.root, "rev-parse", "HEAD")
    started, go_on = tmp_path / "push-started", tmp_path / "go-on"
    # the remote holds the first release inside its push until the test lets it go (at most 120 s)
    install_hook(
        sample,
        f"cat >/dev/null\ntouch '{started}'\n"
        f"i=0; while [ ! -e '{go_on}' ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done\n",
    )
    first = start(sample, "release", "minor")
    try:
        wait_for(started.exists, 120, "the first release to reach its push")
        before = world(sample)
        for command in (("release", "minor"), ("resume",), ("abort",)):
            proc = run_relsafe(*command, cwd=sample.root)
            assert proc.returncode == 4, (command, proc.stdout + proc.stderr)
            assert f"another relsafe is running on this repository (pid {first.pid})" in proc.stderr
        looked = run_relsafe("status", cwd=sample.root)
        assert looked.returncode == 0 and "running" in looked.stdout
        assert world(sample) == before
        assert first.poll() is None, "the first release was still holding the lock throughout"
        go_on.touch()
        out, err = first.communicate(timeout=120)
    finally:
        go_on.touch()
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, out + err
    assert_released(sample, "0.2.0", base)
