"""Plain git, for setting up the world and asserting on it: tests read the world independently of relsafe's
own wrapper, so that a test cannot agree with a bug by construction."""

from __future__ import annotations

import subprocess
from pathlib import Path

from relsafe.app.sample import SampleProject


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd` and return its stripped output; a failing command fails the test."""
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def commit_all(sample: SampleProject, message: str) -> None:
    """Commit every change in the sample and push it to its remote, as a maintainer does before releasing."""
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", message)
    git(sample.root, "push", "-q", "origin", "main")
