"""Where the uv binary is: relsafe depends on uv, which makes isolated builds and venvs several times faster."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from functools import cache
from pathlib import Path


def uv_executable() -> str | None:
    """uv's binary, found through the `uv` package, then beside the interpreter, then on PATH.

    RELSAFE_NO_UV=1 forces the pure-pip path, as on a platform without a uv wheel (the tests cover both).
    """
    if os.environ.get("RELSAFE_NO_UV"):
        return None
    with _LOOKUP:
        return _located()


_LOOKUP = threading.Lock()
"""Steps' threads ask at once; `uv.find_uv_bin()` reads sysconfig, whose first use is not thread-safe
(Python 3.11 publishes its variables before filling them)."""


@cache
def _located() -> str | None:
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        pass
    sibling = Path(sys.executable).with_name("uv")
    if sibling.exists():
        return str(sibling)
    return shutil.which("uv")
