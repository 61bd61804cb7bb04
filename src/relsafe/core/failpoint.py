"""Named fault points for the crash and fault tests.

`hit("after-version-files")` does nothing unless RELSAFE_FAILPOINT names that
point, in which case the process kills itself with SIGKILL there: no cleanup,
no finally blocks, exactly like a power cut. `name:N` acts at the Nth pass
through the point (`journal-write:7`: during the seventh journal write). This
is how tests prove that resume finishes a release from any instruction.

`name=ACTION` chooses another fault where a real one cannot be arranged in
every environment: `enospc` raises the OSError a full disk raises, at the Nth
pass and every later one (a full disk stays full); `bug` raises the
RuntimeError an unforeseen defect would (the last-resort guard's test);
`hold` waits there, so that a test can change the world at that exact point
instead of guessing how long the run takes to reach it: it creates the file
`<point>.reached` in the folder RELSAFE_FAILPOINT_HOLD names, and returns once
the test removes that file (or after an hour, so nothing waits forever).
`kill` is the default.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from collections import Counter
from pathlib import Path

ENV_VAR = "RELSAFE_FAILPOINT"
HOLD_VAR = "RELSAFE_FAILPOINT_HOLD"
HOLD_LIMIT = 3600.0
_passes: Counter[str] = Counter()


def hit(name: str) -> None:
    wanted = os.environ.get(ENV_VAR)
    if not wanted:
        return
    where, _, action = wanted.partition("=")
    point, _, nth = where.partition(":")
    if point != name:
        return
    _passes[name] += 1
    first = int(nth) if nth else 1
    if action == "enospc" and _passes[name] >= first:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if _passes[name] != first:
        return
    if action == "bug":
        raise RuntimeError(f"failpoint {name} raised on purpose")
    if action == "hold":
        _hold(name)
        return
    os.kill(os.getpid(), signal.SIGKILL)


def _hold(name: str) -> None:
    reached = Path(os.environ[HOLD_VAR], f"{name}.reached")
    reached.touch()
    deadline = time.monotonic() + HOLD_LIMIT
    while reached.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
