"""Named fault points for the crash and fault tests.

`hit("after-version-files")` does nothing unless RELSAFE_FAILPOINT names that
point, in which case the process kills itself with SIGKILL there: no cleanup,
no finally blocks, exactly like a power cut. `name:N` acts at the Nth pass
through the point (`journal-write:7`: during the seventh journal write). This
is how tests prove that resume finishes a release from any instruction.

`name=ACTION` chooses another fault where a real one cannot be arranged in
every environment: `enospc` raises the OSError a full disk raises, at the Nth
pass and every later one (a full disk stays full); `bug` raises the
RuntimeError an unforeseen defect would (the last-resort guard's test).
`kill` is the default.
"""

from __future__ import annotations

import errno
import os
import signal
from collections import Counter

ENV_VAR = "RELSAFE_FAILPOINT"
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
    os.kill(os.getpid(), signal.SIGKILL)
