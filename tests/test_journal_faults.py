"""A journal that cannot be used as it is: damaged, from a newer relsafe, misshapen, read-only or on a full disk.

Each is one line naming the path and the fix, never a traceback and never the last-resort guard; nothing in
the repository or on the remote changes; the previous state stays; and the release is never stuck: `abort`
sets a damaged record aside, and `resume` goes on once the disk is fixed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from relsafe.app.sample import SampleProject, create_sample
from relsafe.tools.localindex import LocalIndex
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.git import git
from tests.support.release_config import rewrite_workflow
from tests.support.world import journal_dir, status_json, world

GATED = """
[release]
steps = ["preflight", "bump", "gate", "tag", "push"]

[[gate]]
name = "checklist"
items = ["the changelog is written"]
"""


@pytest.fixture
def plain_sample(tmp_path: Path, empty_index: LocalIndex) -> SampleProject:
    """The sample against the session's empty index, with no release yet."""
    return create_sample(tmp_path, index=(empty_index.upload_url, empty_index.index_url))


@pytest.fixture
def waiting(plain_sample: SampleProject, run_relsafe: RunRelsafe) -> SampleProject:
    """A real release in progress: bumped and committed, waiting at a gate (no build: a couple of seconds)."""
    sample = plain_sample
    with (sample.root / "release.toml").open("a", encoding="utf-8") as stream:
        stream.write(GATED)
    rewrite_workflow(sample.root)  # no stage among the steps: relsafe's workflow rebuilds
    git(sample.root, "commit", "-qam", "a gate")
    git(sample.root, "push", "-q", "origin", "main")
    proc = run_relsafe("release", "minor", cwd=sample.root)
    assert proc.returncode == 3, proc.stdout + proc.stderr
    return sample


def refused_in_one_line(proc: subprocess.CompletedProcess[str], code: int, *says: str) -> None:
    """Exit `code`, exactly one `error:` line holding every fragment, no traceback, not the guard."""
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, output
    assert "Traceback" not in output and "internal error" not in output, output
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    for fragment in says:
        assert fragment in errors[0], output


def _record(sample: SampleProject) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((journal_dir(sample) / "state.json").read_text(encoding="utf-8"))
    return data


def _with(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], bytes]:
    def edit(record: dict[str, Any]) -> bytes:
        change(record)
        return json.dumps(record).encode()

    return edit


DAMAGED: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "a list": lambda _record: b"[]",
    "null": lambda _record: b"null",
    "a string": lambda _record: b'"running"',
    "not JSON": lambda _record: b'{"id": "torn',
    "not UTF-8": lambda _record: b'{"id": "\xff"}',
    "empty": lambda _record: b"",
    "unknown step in the order": _with(lambda r: r["order"].insert(2, "publish-everywhere")),
    "unknown step recorded": _with(lambda r: r["steps"].update({"bumpp": r["steps"].pop("bump")})),
    "wrong-typed field": _with(lambda r: r.update({"runs": "one"})),
    "wrong-typed step field": _with(lambda r: r["steps"]["bump"].update({"outputs": ["commit"]})),
    "missing field": _with(lambda r: r.pop("base_commit")),
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", DAMAGED, ids=list(DAMAGED))
def test_a_damaged_record_is_refused_and_abort_sets_it_aside(
    damage: str, waiting: SampleProject, run_relsafe: RunRelsafe
) -> None:
    sample, state = waiting, journal_dir(waiting) / "state.json"
    state.write_bytes(DAMAGED[damage](_record(sample)))
    damaged, before = state.read_bytes(), world(sample)

    for command in (("status",), ("status", "--json"), ("resume", "--yes"), ("release", "minor")):
        proc = run_relsafe(*command, cwd=sample.root)
        refused_in_one_line(proc, 2, f"{state}: the journal cannot be read")
        assert "relsafe abort" in proc.stderr, "the hint names the way out"
        assert state.read_bytes() == damaged and world(sample) == before

    aborted = run_relsafe("abort", cwd=sample.root)

    assert aborted.returncode == 0, aborted.stdout + aborted.stderr
    assert "undid nothing" in aborted.stdout
    (kept,) = (journal_dir(sample) / "damaged").iterdir()
    assert kept.read_bytes() == damaged and not state.exists()
    assert world(sample) == before, "without a record, abort may not guess what to undo"
    assert run_relsafe("status", cwd=sample.root).returncode == 0


@pytest.mark.slow
def test_a_record_from_a_newer_relsafe_is_refused_by_every_command(
    waiting: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """Not damaged, only newer: even abort refuses, since this relsafe cannot know what that one recorded."""
    sample, state = waiting, journal_dir(waiting) / "state.json"
    record = _record(sample)
    record.update(schema=record["schema"] + 1, something_new={"x": 1})
    state.write_text(json.dumps(record), encoding="utf-8")
    newer, before = state.read_bytes(), world(sample)

    for command in (("status",), ("resume", "--yes"), ("release", "minor"), ("abort",)):
        proc = run_relsafe(*command, cwd=sample.root)
        refused_in_one_line(proc, 2, f"{state}: written by a newer relsafe")
        assert "upgrade relsafe" in proc.stderr
        assert state.read_bytes() == newer and world(sample) == before


def _file_at(relative: str) -> Callable[[Path], None]:
    def put(journal: Path) -> None:
        path = journal / relative if relative else journal
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("not a folder\n", encoding="utf-8")

    return put


def _folder_at(relative: str) -> Callable[[Path], None]:
    def put(journal: Path) -> None:
        (journal / relative).mkdir(parents=True)

    return put


MISSHAPEN = [
    # (name, what to put under .git/relsafe, the path the message names, what it expects, commands refused)
    ("journal folder a file", _file_at(""), "", "expected a folder", ("release", "resume", "abort", "status")),
    ("logs a file", _file_at("logs"), "logs", "expected a folder", ("release", "resume", "abort")),
    ("history a file", _file_at("history"), "history", "expected a folder", ("release", "resume", "status")),
    ("releases a file", _file_at("releases"), "releases", "expected a folder", ("release",)),
    ("lock a folder", _folder_at("lock"), "lock", "expected a file", ("release", "resume", "abort")),
    ("lock.pid a folder", _folder_at("lock.pid"), "lock.pid", "expected a file", ("release", "resume", "abort")),
]
ARGS = {"release": ("release", "minor"), "resume": ("resume",), "abort": ("abort",), "status": ("status",)}


@pytest.mark.slow
@pytest.mark.parametrize("row", MISSHAPEN, ids=[row[0] for row in MISSHAPEN])
def test_a_misshapen_journal_folder_is_named_with_its_fix(
    row: tuple[str, Callable[[Path], None], str, str, tuple[str, ...]],
    plain_sample: SampleProject,
    run_relsafe: RunRelsafe,
) -> None:
    _name, put, relative, expects, commands = row
    sample, journal = plain_sample, journal_dir(plain_sample)
    put(journal)
    named = journal / relative if relative else journal
    before = world(sample)

    for command in commands:
        proc = run_relsafe(*ARGS[command], cwd=sample.root)
        refused_in_one_line(proc, 2, f"{named}: {expects}")
        assert "hint: " in proc.stderr and str(named) in proc.stderr.split("hint: ")[1], "the fix names the path"
        assert world(sample) == before


# -- the disk itself: a real read-only mount and a real full filesystem --------------------------------------


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextmanager
def mounted(target: Path, *args: str) -> Iterator[None]:
    """A real mount over `target` for the test's length; skipped where mounting is not allowed (not root,
    no CAP_SYS_ADMIN: a typical unprivileged CI), where the failpoint test below still runs."""
    if os.geteuid() != 0 or not _mount(*args, str(target)):
        pytest.skip("mounting a filesystem needs root with CAP_SYS_ADMIN")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(target)], check=True)


@pytest.mark.slow
def test_a_read_only_journal_refuses_to_start_and_resume_goes_on_once_writable(
    waiting: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """.git/relsafe bind-mounted read-only (chmod cannot stop root): resume refuses before any step, status
    still reads; writable again, resume finishes the release."""
    sample, journal = waiting, journal_dir(waiting)
    recorded, before = (journal / "state.json").read_bytes(), world(sample)

    with mounted(journal, "--bind", str(journal)):
        assert _mount("-o", "remount,bind,ro", str(journal))
        proc = run_relsafe("resume", "--yes", cwd=sample.root)
        refused_in_one_line(proc, 1, f"{journal}/", "Read-only file system", "the journal keeps its previous state")
        assert re.search(rf"make {re.escape(str(journal))}(/runs)? writable", proc.stderr), proc.stderr
        assert run_relsafe("status", cwd=sample.root).returncode == 0
        assert (journal / "state.json").read_bytes() == recorded and world(sample) == before

    resumed = run_relsafe("resume", "--yes", cwd=sample.root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert git(sample.remote, "tag") == "v0.2.0"


@pytest.mark.slow
def test_a_full_disk_keeps_the_previous_state_and_resume_finishes_once_space_is_freed(
    waiting: SampleProject, run_relsafe: RunRelsafe, tmp_path: Path
) -> None:
    """A real full filesystem: .git/relsafe on a small tmpfs filled to the last block (its logs on a tmpfs
    of their own, so that the first write to fail is the journal's). The first journal write (the run's
    record under runs/) fails with ENOSPC: one line naming it, the previous state byte for byte, no temp
    file left; freed, resume ends it."""
    sample, journal = waiting, journal_dir(waiting)
    saved = tmp_path / "journal-copy"
    subprocess.run(["cp", "-a", str(journal), str(saved)], check=True)
    before = world(sample)

    with mounted(journal, "-t", "tmpfs", "-o", "size=512k", "tmpfs"):
        subprocess.run(["cp", "-a", f"{saved}/.", str(journal)], check=True)
        with mounted(journal / "logs", "-t", "tmpfs", "-o", "size=4m", "tmpfs"):
            filler = journal / "filler"
            with filler.open("wb", buffering=0) as stream, pytest.raises(OSError, match="No space left"):
                while True:
                    stream.write(b"\0" * 4096)
            recorded = (journal / "state.json").read_bytes()

            proc = run_relsafe("resume", "--yes", cwd=sample.root)

            refused_in_one_line(
                proc, 1, f"{journal / 'runs'}/", ".json: cannot be written: No space left on device", "previous state"
            )
            assert "free space" in proc.stderr
            assert (journal / "state.json").read_bytes() == recorded
            assert not [path.name for path in journal.rglob("*.tmp")]
            assert world(sample) == before

            filler.unlink()
            resumed = run_relsafe("resume", "--yes", cwd=sample.root)

            assert resumed.returncode == 0, resumed.stdout + resumed.stderr
            status = status_json(sample)
            assert status is not None and status["status"] == "done"
    assert git(sample.remote, "tag") == "v0.2.0"


@pytest.mark.slow
def test_enospc_at_a_journal_write_mid_release_then_resume(
    plain_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """The same full disk where no filesystem can be mounted: the `enospc` failpoint raises the real
    OSError(ENOSPC) at the fifth journal write (the bump's end, after its commit) and every later one, as a
    full disk would. The journal keeps its last good state (bump running); resume finds the commit and ends."""
    sample = plain_sample
    with (sample.root / "release.toml").open("a", encoding="utf-8") as stream:
        stream.write(GATED)
    rewrite_workflow(sample.root)  # no stage among the steps: relsafe's workflow rebuilds
    git(sample.root, "commit", "-qam", "a gate")
    git(sample.root, "push", "-q", "origin", "main")
    state = journal_dir(sample) / "state.json"

    full = run_relsafe("release", "minor", cwd=sample.root, env=relsafe_env(RELSAFE_FAILPOINT="journal-write:5=enospc"))

    refused_in_one_line(full, 1, f"{state}: cannot be written: No space left on device", "previous state")
    record = _record(sample)
    assert record["steps"]["bump"]["status"] == "running", "the last write that succeeded: the bump's start"
    assert git(sample.root, "log", "-1", "--format=%s") == "Bump version: 0.1.0 → 0.2.0"

    resumed = run_relsafe("resume", "--yes", cwd=sample.root)

    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert git(sample.remote, "tag") == "v0.2.0"
    assert git(sample.remote, "log", "-2", "--format=%s", "main").splitlines() == [
        "Bump version: 0.1.0 → 0.2.0",
        "a gate",
    ], "one bump commit: resume found the first one instead of bumping again"


@pytest.mark.slow
def test_a_damaged_history_record_is_named_by_status(plain_sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    """With no release in progress, status reads the history: a damaged record there is named, with the fix."""
    history = journal_dir(plain_sample) / "history"
    history.mkdir(parents=True)
    (history / "20260101T000000-relsafe-sample-0.0.9.json").write_text("[]\n", encoding="utf-8")

    proc = run_relsafe("status", cwd=plain_sample.root)

    refused_in_one_line(proc, 2, f"{history}/20260101T000000-relsafe-sample-0.0.9.json: the journal cannot be read")
    assert f"move 20260101T000000-relsafe-sample-0.0.9.json out of {history}" in proc.stderr
