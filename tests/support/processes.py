"""Running relsafe in a session of its own, killing it (at a failpoint, or from the remote's hook), and finding
what it left running."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from relsafe.app.sample import SampleProject
from tests.support.cli import relsafe_command, relsafe_env

KILLED = -signal.SIGKILL


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def as_from_a_terminal() -> None:
    """SIGINT and SIGQUIT back to their default in a child, as a terminal's shell starts a command. A test run
    started in the background of a non-interactive shell (`pytest &`, a CI step) inherits them ignored, and so
    would every process relsafe starts: the SIGINT that lets a leftover tool remove its temp folder would do
    nothing, and SIGKILL would end it after the grace period instead."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


def start(sample: SampleProject, *args: str, **env: str) -> subprocess.Popen[str]:
    """A relsafe process in a session of its own, so that what it leaves running can be found."""
    return subprocess.Popen(
        relsafe_command(*args),
        cwd=sample.root,
        env=relsafe_env(**env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=as_from_a_terminal,
    )


def session_processes(session: int) -> list[int]:
    """Live (non-zombie) processes of a session, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == session:
            found.append(int(entry.name))
    return found


def kill_at(sample: SampleProject, failpoint: str) -> int:
    """Run `release minor` until the named failpoint kills it; returns the dead process's pid."""
    proc = start(sample, "release", "minor", RELSAFE_FAILPOINT=failpoint)
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == KILLED, err
    return proc.pid


def kill_once_the_remote_took_the_push(sample: SampleProject, tmp_path: Path) -> None:
    """Run `release minor` and kill it from the remote's post-receive hook: the refs are updated, the
    journal never hears of it. Waits for the orphaned `git push` to finish."""
    pid_file = tmp_path / "relsafe.pid"
    hook = sample.remote / "hooks" / "post-receive"
    hook.write_text(f"#!/bin/sh\ncat >/dev/null\nkill -9 \"$(cat '{pid_file}')\"\n", encoding="utf-8")
    hook.chmod(0o755)
    proc = start(sample, "release", "minor")
    pid_file.write_text(str(proc.pid), encoding="utf-8")
    _out, err = proc.communicate(timeout=300)
    assert proc.returncode == KILLED, err
    wait_for(lambda: not session_processes(proc.pid), 120, "the killed run's git push to finish")
    hook.unlink()
