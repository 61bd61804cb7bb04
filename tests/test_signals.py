"""SIGTERM and SIGKILL: what relsafe started ends with it, or with the next run; nothing stays in TMPDIR.

Every test runs a real relsafe with TMPDIR set to a folder of its own: every
process relsafe starts inherits it, so a process whose environment holds that
TMPDIR is one of relsafe's, wherever it was reparented to, and a leftover
temp folder is easy to see.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject, create_sample
from relsafe.tools.leftovers import MARKER, clean_up_after_killed_runs, start_time
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.processes import KILLED, as_from_a_terminal, session_processes, start, wait_for
from tests.support.world import assert_released, journal_dir, status_json

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds processes in /proc")


HOLD = """
import os
import time
from pathlib import Path


def hold(step):
    \"\"\"While the test's file for `step` exists (at most 120 s), wait here; say so first.\"\"\"
    folder = os.environ.get("SAMPLE_HOLD")
    if folder and Path(folder, step).exists():
        Path(folder, step + ".reached").touch()
        deadline = time.monotonic() + 120
        while Path(folder, step).exists() and time.monotonic() < deadline:
            time.sleep(0.1)
"""

BUILD_HOOK = f"""{HOLD}
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        hold("build")
"""

HELD_TEST = f"""{HOLD}
import unittest


class Held(unittest.TestCase):  # the offline sample tests with unittest
    def test_held(self):
        hold("smoke")
"""


def held_sample(base: Path, index: LocalIndex) -> SampleProject:
    """The offline sample whose sdist build and tests wait while the test holds them (SAMPLE_HOLD)."""
    sample = create_sample(base, index=(index.upload_url, index.index_url), offline=True)
    (sample.root / "hatch_build.py").write_text(BUILD_HOOK, encoding="utf-8")
    (sample.root / "tests" / "test_held.py").write_text(HELD_TEST, encoding="utf-8")
    with (sample.root / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write("\n[tool.hatch.build.targets.sdist.hooks.custom]\n")
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", "Hooks that wait while a test holds them")
    git(sample.root, "push", "-q", "origin", "main")
    return sample


def processes_of(scratch: Path) -> dict[int, str]:
    """pid → command line of every live process whose environment has TMPDIR=scratch."""
    wanted = f"TMPDIR={scratch}".encode()
    found = {}
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or (entry / "stat").read_text().rpartition(")")[2].split()[0] == "Z":
                continue
            if wanted in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
    return found


def held_at(sample: SampleProject, tmp_path: Path, step: str, *args: str) -> subprocess.Popen[str]:
    """relsafe `args` (TMPDIR: tmp_path/tmp), once it is inside `step`'s command, held there."""
    hold = tmp_path / "hold"
    hold.mkdir(exist_ok=True)
    (hold / step).touch()
    proc = start(sample, *args, TMPDIR=str(tmp_path / "tmp"), SAMPLE_HOLD=str(hold))
    wait_for(lambda: (hold / f"{step}.reached").exists() or proc.poll() is not None, 180, f"relsafe to reach {step}")
    assert proc.poll() is None, proc.communicate()
    return proc


def release_held(tmp_path: Path) -> None:
    for held in (tmp_path / "hold").iterdir():
        held.unlink()


def worktrees(sample: SampleProject) -> list[str]:
    listed = git(sample.root, "worktree", "list", "--porcelain").splitlines()
    return [line for line in listed if line.startswith("worktree ")]


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """The TMPDIR of the relsafe under test."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("step", ["build", "smoke"])
def test_sigterm_stops_a_release_that_resume_then_finishes(
    tmp_path: Path, local_index: LocalIndex, scratch: Path, run_relsafe: RunRelsafe, step: str
) -> None:
    """SIGTERM to relsafe alone, as a service manager or a cancelled CI job sends it."""
    sample = held_sample(tmp_path / "work", local_index)
    base = git(sample.root, "rev-parse", "HEAD")
    proc = held_at(sample, tmp_path, step, "release", "minor")
    assert set(processes_of(scratch)) - {proc.pid}, "the step's commands are running"

    os.kill(proc.pid, signal.SIGTERM)
    _out, err = proc.communicate(timeout=120)

    assert proc.returncode == 143, err
    assert "interrupted by SIGTERM; run `relsafe resume` to go on, or `relsafe abort`" in err
    assert "Traceback" not in err
    assert processes_of(scratch) == {}, "every command relsafe started ended with it"
    assert session_processes(proc.pid) == []
    assert list(scratch.iterdir()) == [], "no temp folder is left"
    status = status_json(sample)
    assert status is not None and status["status"] == "interrupted"
    assert status["steps"][step]["status"] == "interrupted"
    release_folder = journal_dir(sample) / "releases" / status["id"]
    assert not (release_folder / "dist.partial").exists()
    assert not list(release_folder.glob("source-*")), "the build's worktree is removed"
    assert len(worktrees(sample)) == 1
    assert list((journal_dir(sample) / "runs").iterdir()) == [], "the run's record went with it"

    release_held(tmp_path)
    resumed = run_relsafe("resume", cwd=sample.root)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    done = assert_released(sample, "0.2.0", base)
    assert done["id"] == status["id"] and done["runs"] == 2
    assert done["steps"][step]["attempts"] == 2


@pytest.mark.slow
def test_a_killed_rehearsal_leaves_its_index_and_sandbox_to_the_next_run(
    tmp_path: Path, local_index: LocalIndex, scratch: Path, run_relsafe: RunRelsafe
) -> None:
    sample = held_sample(tmp_path / "work", local_index)
    proc = held_at(sample, tmp_path, "build", "release", "minor", "--dry-run")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == KILLED
    left = processes_of(scratch)
    assert any("pypiserver" in command for command in left.values()), left
    assert any(" -m build" in command for command in left.values()), left
    (run_folder,) = scratch.glob("relsafe-run-*")
    assert list(run_folder.glob("relsafe-rehearsal-*")), "the sandbox is in the killed run's temp folder"

    later = run_relsafe("abort", cwd=sample.root)  # any command that opens the journal; this one has nothing to do

    assert later.returncode == 2, later.stdout + later.stderr
    assert "no release is in progress" in later.stderr
    assert processes_of(scratch) == {}, "the embedded index and the held build are ended"
    assert list(scratch.iterdir()) == [], "the sandbox is removed"
    assert list((journal_dir(sample) / "runs").iterdir()) == []
    log = max((journal_dir(sample) / "logs").iterdir(), key=lambda path: path.stat().st_mtime).read_text()
    assert "pypiserver" in log and f"left running by the killed relsafe {proc.pid}" in log


@pytest.mark.slow
def test_abort_after_a_killed_build_leaves_no_worktree(
    tmp_path: Path, local_index: LocalIndex, scratch: Path, run_relsafe: RunRelsafe
) -> None:
    sample = held_sample(tmp_path / "work", local_index)
    base = git(sample.root, "rev-parse", "HEAD")
    proc = held_at(sample, tmp_path, "build", "release", "minor")
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == KILLED
    assert len(worktrees(sample)) == 3, (
        "the killed build left its two worktrees (its own, and the one for the wheel from the tree)"
    )

    aborted = run_relsafe("abort", cwd=sample.root)

    assert aborted.returncode == 0, aborted.stdout + aborted.stderr
    assert f"left running by the killed relsafe {proc.pid}" in aborted.stdout
    assert worktrees(sample) == [f"worktree {sample.root}"]
    assert processes_of(scratch) == {}
    assert list(scratch.iterdir()) == []
    assert git(sample.root, "rev-parse", "HEAD") == base
    assert git(sample.root, "status", "--porcelain", "--untracked-files=all") == ""
    assert not list((journal_dir(sample) / "releases").glob("*/source-*"))


def test_only_processes_that_carry_a_killed_runs_token_are_ended(tmp_path: Path) -> None:
    """A pid recorded by a killed run may belong to another process by now: the token tells them apart."""
    runs, temp = tmp_path / "runs", tmp_path / "relsafe-run-killed"
    runs.mkdir()
    (temp / "sandbox").mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    ours = subprocess.Popen(
        ["sleep", "60"], env={**os.environ, MARKER: "cafe"}, start_new_session=True, preexec_fn=as_from_a_terminal
    )
    stranger = subprocess.Popen(["sleep", "60"], start_new_session=True)  # as if it got a recorded pid
    alive_owner = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        children = [ours.pid, stranger.pid]
        killed = {"pid": gone.pid, "start": 1, "token": "cafe", "temp": str(temp), "children": children}
        (runs / f"{gone.pid}.json").write_text(json.dumps(killed))
        running = {"pid": alive_owner.pid, "start": start_time(alive_owner.pid), "token": "cafe", "children": children}
        (runs / f"{alive_owner.pid}.json").write_text(json.dumps(running))

        done = clean_up_after_killed_runs(runs)

        assert ours.wait(10) == -signal.SIGINT
        assert stranger.poll() is None, "a process without the token is never ended"
        assert not temp.exists()
        assert sorted(path.name for path in runs.iterdir()) == [f"{alive_owner.pid}.json"], "a live run is left alone"
        assert done == [
            f"ended sleep 60 (pid {ours.pid}) left running by the killed relsafe {gone.pid}",
            f"removed {temp}, the temp folder of the killed relsafe {gone.pid}",
        ]
    finally:
        for proc in (ours, stranger, alive_owner):
            proc.kill()
            proc.wait()
