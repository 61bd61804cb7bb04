"""The real command line, run the way a user (or CI) runs it: in a subprocess, with a plain environment."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

RunRelsafe = Callable[..., subprocess.CompletedProcess[str]]
"""The `run_relsafe` fixture: `run_relsafe(*args, cwd=..., env=None, timeout=300)`."""


def relsafe_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "relsafe", *args]


def relsafe_env(**extra: str) -> dict[str, str]:
    """This environment without RELSAFE_* settings, with plain, wide, uncoloured output; `extra` added."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELSAFE_")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200", "TERM": "dumb"})
    env.update(extra)
    return env
