"""`twine check --strict`: the long description must render on the index."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from relsafe.runlog import RunLog
from relsafe.tools import process

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def metadata_problems(paths: list[Path], log: RunLog) -> list[str]:
    """One line per file twine rejects, with twine's own reason."""
    done = process.run(
        [sys.executable, "-m", "twine", "--no-color", "check", "--strict", *map(str, paths)],
        log=log,
        check=False,
        what="twine check --strict",
    )
    if done.returncode == 0:
        return []
    lines = [ANSI.sub("", line).strip() for line in done.output.splitlines()]
    reasons = [line for line in lines if line and not line.startswith("Checking ")]
    return ["twine check --strict: " + "; ".join(reasons[:6])] if reasons else ["twine check --strict failed"]
