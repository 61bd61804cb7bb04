"""Named crash points for the crash tests.

`hit("after-version-files")` does nothing unless RELSAFE_FAILPOINT names that
point, in which case the process kills itself with SIGKILL there: no cleanup,
no finally blocks, exactly like a power cut. This is how tests prove that
resume finishes a release from any instruction.
"""

from __future__ import annotations

import os
import signal

ENV_VAR = "RELSAFE_FAILPOINT"


def hit(name: str) -> None:
    wanted = os.environ.get(ENV_VAR)
    if wanted and wanted == name:
        os.kill(os.getpid(), signal.SIGKILL)
