"""relsafe takes the shell's credentials out of its own environment before it runs any of the project's code.

A child can read its parent's /proc/<pid>/environ when both belong to the same
user, and root can read any process's. That file is the environment the
process was started with: deleting from os.environ does not change it, an
exec does. So when credential-shaped variables are present (core.environment),
relsafe reads them once, writes them into a pipe, and re-executes itself with
the same command line, an environment without them and the pipe's reading end
inherited; the new image reads them back into memory (core.withheld) and
closes the pipe before anything else runs. On Linux it also makes itself
non-dumpable (PR_SET_DUMPABLE 0): its /proc files, memory included, then
belong to root, so a child of another user, or of the same user without
root, can read neither. A child running as root still can read relsafe's
memory; only a sandbox of its own (another user, a PID namespace) stops that.

The exec costs one interpreter start (about 50 ms) and only happens when there
is something to withhold. Where exec is not a real exec (Windows), the values
are still kept in memory and every child still gets an environment without
them, but relsafe's own environment keeps them.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import suppress

from relsafe.core import withheld
from relsafe.core.environment import withheld as credentials_in

HANDOVER = "RELSAFE_WITHHELD_FD"
"""The variable naming the pipe the re-executed relsafe reads its credentials from."""

PIPE_CAPACITY = 1 << 16
"""What a pipe holds without a reader (Linux, macOS): more would block the write before the exec."""

PR_SET_DUMPABLE = 4


def withhold_credentials() -> None:
    """Make sure this process's environment, as the kernel shows it, holds no credential; re-executes the
    process when it does. Returns in the process that goes on (the same one when nothing was withheld)."""
    if HANDOVER in os.environ:
        _receive(os.environ.pop(HANDOVER))
        not_dumpable()
        return
    found = credentials_in(os.environ)
    if not found:
        not_dumpable()
        return
    withheld.keep(found)
    for name in found:
        del os.environ[name]
    payload = json.dumps(found).encode("utf-8")
    if os.name != "posix" or not sys.orig_argv or not sys.executable or len(payload) >= PIPE_CAPACITY:
        not_dumpable()  # the children still get environments without them (tools.process)
        return
    reading, writing = os.pipe()
    try:
        os.write(writing, payload)
    finally:
        os.close(writing)
    os.set_inheritable(reading, True)
    environment = {**os.environ, HANDOVER: str(reading)}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, environment)


def _receive(descriptor: str) -> None:
    """Read the handed-over credentials into memory and close the pipe."""
    with suppress(ValueError, OSError):
        fd = int(descriptor)
        try:
            chunks = []
            while chunk := os.read(fd, PIPE_CAPACITY):
                chunks.append(chunk)
        finally:
            os.close(fd)
        values = json.loads(b"".join(chunks).decode("utf-8"))
        if isinstance(values, dict):
            withheld.keep({str(name): str(value) for name, value in values.items()})


def not_dumpable() -> bool:
    """PR_SET_DUMPABLE 0 on Linux: /proc/<pid>/environ, mem and the rest become root's, no core dump is
    written. Whether it was set (False elsewhere, or where prctl refuses)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False
