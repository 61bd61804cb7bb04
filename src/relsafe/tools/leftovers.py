"""What a killed run leaves behind: its child processes and its temp folder, recorded so that the next run ends
and removes them.

SIGKILL (or an out-of-memory kill) gives relsafe no chance to stop what it
started, and its children, each in a process group of its own, get no
signal either: a build goes on into a folder nobody reads, the embedded
index serves forever, a sandbox stays in the temp folder. So while a run
lives it keeps `<journal>/runs/<pid>.json`: its pid and start time, the
marker its children carry in their environment, their pids, and the one
temp folder all its temp files go into. The next relsafe
on the repository finds the records whose owner is gone, ends the processes
that carry the owner's marker (a process that got a reused pid never does)
and removes its temp folder.

Processes are read from /proc (Linux); elsewhere the temp folder is still
removed, and processes are left alone.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relsafe.core.errors import JournalWriteFailed

MARKER = "RELSAFE_RUN"  # the environment variable naming the run a process belongs to
TEMP_PREFIX = "relsafe-run-"
PROC = Path("/proc")
GRACE = 5.0  # seconds a leftover process has after SIGINT before SIGKILL


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat from the state on (the command name may hold spaces); None when there is no such process."""
    try:
        text = (PROC / str(pid) / "stat").read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):
        return None
    return text.rpartition(")")[2].split()


def start_time(pid: int) -> int | None:
    """When the process started, in clock ticks since boot: with the pid, it names one process for good.
    None for a process that is gone (or a zombie) or where there is no /proc."""
    fields = _stat(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def _carries(pid: int, token: str) -> bool:
    try:
        environ = (PROC / str(pid) / "environ").read_bytes()
    except OSError:
        return False
    return f"{MARKER}={token}".encode() in environ.split(b"\0")


def _command(pid: int) -> str:
    try:
        words = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    return " ".join(word.decode(errors="replace") for word in words[:4] if word)


def _is_alive(pid: int, started: int | None) -> bool:
    if PROC.is_dir():
        return started is not None and start_time(pid) == started
    try:  # no /proc: a pid in use counts as alive, the safe direction
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class RunRecord:
    """This run, as the next one will read it if this one is killed."""

    token: str = field(default_factory=lambda: secrets.token_hex(8))
    pid: int = field(default_factory=os.getpid)
    path: Path | None = None
    temp: Path | None = None
    children: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "start": start_time(self.pid),
            "token": self.token,
            "temp": str(self.temp) if self.temp else None,
            "children": sorted(self.children),
        }

    def save(self) -> None:
        """Write the record whole (temp file, rename). No fsync: a killed process loses nothing written."""
        if self.path is None:
            return
        scratch = self.path.with_name(f".{self.path.name}.tmp")
        try:
            scratch.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
            os.replace(scratch, self.path)
        except BaseException:  # a full disk: no half-written scratch file left behind
            scratch.unlink(missing_ok=True)
            raise


_current: RunRecord | None = None
_previous_tempdir: str | None = None


@contextmanager
def recorded() -> Iterator[None]:
    """Keep a record of this run's children and temp folder while the block runs (a command of the CLI);
    at its end the temp folder and the record are removed."""
    global _current, _previous_tempdir
    _current, _previous_tempdir = RunRecord(), tempfile.tempdir
    try:
        yield
    finally:
        record, _current = _current, None
        tempfile.tempdir = _previous_tempdir
        if record.temp is not None:
            shutil.rmtree(record.temp, ignore_errors=True)
        if record.path is not None:
            record.path.unlink(missing_ok=True)


def record_in(runs_dir: Path) -> None:
    """Once the journal is known: write the record there, and send every later temp file into the run's own
    temp folder (one folder to remove if the run is killed). Nothing outside a recorded run."""
    record = _current
    if record is None or record.path is not None:
        return
    path = runs_dir / f"{record.pid}.json"
    try:
        runs_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        record.path = path
        with record._lock:
            record.save()
    except OSError as error:  # a full or read-only journal: said like any journal write, before anything runs
        record.path = None
        raise JournalWriteFailed.at(path, error) from None
    record.temp = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX, dir=_previous_tempdir))
    tempfile.tempdir = str(record.temp)
    with record._lock:
        _save_if_possible(record)


def marker() -> dict[str, str]:
    """The environment variable every child of a recorded run carries (nothing outside one)."""
    return {MARKER: _current.token} if _current is not None else {}


def child_started(pid: int) -> None:
    record = _current
    if record is not None:
        with record._lock:
            record.children.add(pid)
            _save_if_possible(record)


def child_ended(pid: int) -> None:
    record = _current
    if record is not None:
        with record._lock:
            record.children.discard(pid)
            _save_if_possible(record)


def _save_if_possible(record: RunRecord) -> None:
    """Keep the record current while the run goes on; a disk that fills up meanwhile costs only what the
    next run could clean up (the children still carry the run's token), never the release itself."""
    with suppress(OSError):
        record.save()


def clean_up_after_killed_runs(runs_dir: Path) -> list[str]:
    """End the leftover processes and remove the temp folders of every recorded run whose owner is gone;
    returns what was done, one line each. Runs still alive (a rehearsal beside a release) are left alone."""
    if not runs_dir.is_dir():
        return []
    done: list[str] = []
    for path in sorted(runs_dir.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            owner, owner_start, token = int(data["pid"]), data.get("start"), str(data["token"])
            children = {int(pid) for pid in data.get("children", [])}
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # not a record relsafe wrote whole: nothing in it can be trusted
            continue
        if _is_alive(owner, owner_start):  # this run, or another one still going (a rehearsal beside a release)
            continue
        done += [f"ended {what} left running by the killed relsafe {owner}" for what in _end(token, children)]
        temp = Path(str(data.get("temp") or ""))
        if temp.name.startswith(TEMP_PREFIX) and temp.is_dir() and temp.stat().st_uid == os.getuid():
            shutil.rmtree(temp, ignore_errors=True)
            done.append(f"removed {temp}, the temp folder of the killed relsafe {owner}")
        path.unlink(missing_ok=True)
    return done


def _end(token: str, groups: set[int]) -> list[str]:
    """End the recorded children and the rest of their process groups, only processes that carry the run's
    marker: SIGINT (so tools remove their own temp folders), then SIGKILL after a grace period."""
    if not PROC.is_dir():
        return []
    found: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = _stat(pid)
        if fields is None or fields[0] in ("Z", "X"):
            continue
        if (pid in groups or int(fields[2]) in groups) and _carries(pid, token):
            found[pid] = int(fields[19])
    names = [f"{_command(pid)} (pid {pid})" for pid in sorted(found)]
    for pid in found:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + GRACE
    while time.monotonic() < deadline and any(start_time(pid) == started for pid, started in found.items()):
        time.sleep(0.05)
    for pid, started in found.items():
        if start_time(pid) == started:  # still the same process: never a pid reused meanwhile
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return names
