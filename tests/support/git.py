"""Plain git, for setting up the world and asserting on it: tests read the world independently of relsafe's
own wrapper, so that a test cannot agree with a bug by construction."""

from __future__ import annotations

import subprocess
from pathlib import Path


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` and return its stripped output; a failing command fails the test."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()
