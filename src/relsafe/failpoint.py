"""Named crash points for the crash tests.

`hit("after-version-files")` does nothing unless RELSAFE_FAILPOINT names that
point, in which case the process kills itself with SIGKILL there: no cleanup,
no finally blocks, exactly like a power cut. `name:N` kills at the Nth pass
through the point (`journal-write:7`: during the seventh journal write). This
is how tests prove that resume finishes a release from any instruction.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

ENV_VAR = "RELSAFE_FAILPOINT"
_passes: Counter[str] = Counter()


def hit(name: str) -> None:
    wanted = os.environ.get(ENV_VAR)
    if not wanted:
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    _passes[name] += 1
    if _passes[name] == (int(nth) if nth else 1):
        os.kill(os.getpid(), signal.SIGKILL)
