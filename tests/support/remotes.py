"""What a remote and the people behind it do to a release: hooks that refuse or delay a push, someone else's
commit pushed in between."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from relsafe.app.sample import SampleProject
from tests.support.cli import RunRelsafe
from tests.support.git import git
from tests.support.world import status_json

REJECT = "cat >/dev/null\necho 'push rejected by policy' >&2\nexit 1\n"
IDENTITY = ("-c", "user.name=Someone Else", "-c", "user.email=someone@example.invalid")


def install_hook(sample: SampleProject, script: str) -> Path:
    """A pre-receive hook in the bare remote: the remote itself refuses or delays a push."""
    hook = sample.remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\n" + script, encoding="utf-8")
    hook.chmod(0o755)
    return hook


def push_from_another_clone(sample: SampleProject, tmp_path: Path, message: str = "Someone else's work") -> str:
    """Someone else pushes a commit to the remote's main; returns it."""
    other = tmp_path / "other-clone"
    subprocess.run(["git", "clone", "-q", str(sample.remote), str(other)], check=True, capture_output=True)
    (other / "NOTES.md").write_text("work from elsewhere\n", encoding="utf-8")
    git(other, "add", "NOTES.md")
    git(other, *IDENTITY, "commit", "-q", "-m", message)
    git(other, "push", "-q", "origin", "main")
    return git(other, "rev-parse", "HEAD")


def fail_push(sample: SampleProject, run_relsafe: RunRelsafe) -> tuple[dict[str, Any], Path]:
    """A release whose push the remote refuses; returns its journal record and the (still installed) hook."""
    hook = install_hook(sample, REJECT)
    proc = run_relsafe("release", "minor", cwd=sample.root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    status = status_json(sample)
    assert status is not None
    return status, hook
