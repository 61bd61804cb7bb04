"""`relsafe demo` releases a generated package end to end, with no network but loopback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import relsafe_env


@pytest.mark.slow
def test_demo_runs_the_whole_pipeline_offline(tmp_path: Path) -> None:
    # the session reaches only loopback (conftest.py); the demo must not need even the session's loopback index
    env = relsafe_env(UV_OFFLINE="1", PIP_NO_INDEX="1", TMPDIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-m", "relsafe", "demo", "--keep"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    for step in (
        "preflight",
        "bump",
        "build",
        "inspect",
        "smoke",
        "stage",
        "verify-stage",
        "gate:checklist",
        "tag",
        "push",
    ):
        assert re.search(rf"^\s+{re.escape(step)}\s+done$", out, re.MULTILINE), (step, out)
    assert "released 0.1.0 → 0.2.0" in out
    assert "staged on the embedded index and read back: relsafe_sample-0.2.0-py3-none-any.whl" in out
    assert "gate 'checklist': the demo answered it for you (confirmed by --confirm checklist" in out
    assert "a real release asks you each item" in out
    lines = out.splitlines()
    assert lines[-3:][0] == "on your own project:"
    assert lines[-2].lstrip().startswith("relsafe init ") and "relsafe release patch --dry-run" in lines[-1]
    artifacts = Path(re.search(r"its artifacts are in (\S+)", out).group(1))  # type: ignore[union-attr]
    assert sorted(p.name for p in artifacts.iterdir()) == [
        "relsafe_sample-0.2.0-py3-none-any.whl",
        "relsafe_sample-0.2.0.tar.gz",
    ]
