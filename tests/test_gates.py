"""Checklist gates: asked on a terminal, confirmed by flag elsewhere, recorded with who and when."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from relsafe.app.sample import SampleProject
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.git import git
from tests.support.release_config import GATE_ITEMS, add_gate


def status(sample: SampleProject, run_relsafe: RunRelsafe) -> dict[str, object]:
    found: dict[str, object] = json.loads(run_relsafe("status", "--json", cwd=sample.root).stdout)
    return found


@pytest.mark.slow
def test_without_a_terminal_a_gate_stops_with_exit_3_and_confirm_goes_on(
    sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    add_gate(sample)
    waiting = run_relsafe("release", "minor", cwd=sample.root)
    assert waiting.returncode == 3, waiting.stdout + waiting.stderr
    assert "--confirm checklist" in waiting.stderr
    assert git(sample.root, "tag", "--list") == ""
    record = status(sample, run_relsafe)
    assert record["status"] == "waiting"
    assert record["steps"]["gate:checklist"]["status"] == "waiting"  # type: ignore[index]

    wrong = run_relsafe("resume", "--confirm", "another-gate", cwd=sample.root)
    assert wrong.returncode == 2, wrong.stderr
    assert "no gate named 'another-gate' (gates: checklist)" in wrong.stderr

    confirmed = run_relsafe("resume", "--confirm", "checklist", cwd=sample.root)
    assert confirmed.returncode == 0, confirmed.stdout + confirmed.stderr
    gate = status(sample, run_relsafe)["steps"]["gate:checklist"]  # type: ignore[index]
    outputs = gate["outputs"]
    assert outputs["how"] == "confirmed by --confirm checklist"
    assert outputs["who"] == "relsafe demo <demo@relsafe.invalid>"
    assert outputs["items"] == GATE_ITEMS
    assert re.match(r"\d{4}-\d\d-\d\dT", outputs["when"])
    shown = run_relsafe("status", cwd=sample.root).stdout
    assert "confirmed by --confirm checklist" in shown


@pytest.mark.slow
def test_yes_confirms_every_gate(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    add_gate(sample)
    released = run_relsafe("release", "minor", "--yes", cwd=sample.root)
    assert released.returncode == 0, released.stdout + released.stderr
    assert status(sample, run_relsafe)["steps"]["gate:checklist"]["outputs"]["how"] == "confirmed by --yes"  # type: ignore[index]


def run_on_a_terminal(args: list[str], cwd: Path, answers: list[str], timeout: float = 240) -> tuple[int, str]:
    """Run relsafe on a real pseudo-terminal, answering each y/n prompt in turn."""
    controller, terminal = pty.openpty()
    env = relsafe_env(COLUMNS="120", LINES="40", TERM="xterm")
    process = subprocess.Popen(
        [sys.executable, "-m", "relsafe", *args],
        cwd=cwd,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        close_fds=True,
    )
    os.close(terminal)
    seen, pending, deadline = b"", list(answers), time.monotonic() + timeout
    answered = 0
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            prompts = seen.count(b"[y/n]")
            while pending and prompts > answered:
                os.write(controller, pending.pop(0).encode() + b"\r")
                answered += 1
        elif process.poll() is not None:
            break
    code = process.wait(timeout=30)
    os.close(controller)
    return code, seen.decode("utf-8", errors="replace")


@pytest.mark.slow
def test_on_a_terminal_every_item_is_asked_and_yes_goes_on(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    add_gate(sample)
    code, screen = run_on_a_terminal(["release", "minor"], sample.root, ["y", "y"])
    assert code == 0, screen
    for item in GATE_ITEMS:
        assert item in screen
    gate = status(sample, run_relsafe)["steps"]["gate:checklist"]["outputs"]  # type: ignore[index]
    assert gate["how"] == "answered on the terminal"
    assert git(sample.remote, "rev-parse", "refs/tags/v0.2.0^{commit}") == git(sample.root, "rev-parse", "HEAD")


@pytest.mark.slow
def test_on_a_terminal_a_no_stops_the_release_resumably(sample: SampleProject, run_relsafe: RunRelsafe) -> None:
    add_gate(sample)
    code, screen = run_on_a_terminal(["release", "minor"], sample.root, ["y", "n"])
    assert code == 3, screen
    assert "not confirmed" in screen
    assert git(sample.root, "tag", "--list") == ""
    assert status(sample, run_relsafe)["status"] == "waiting"
    resumed = run_relsafe("resume", "--confirm", "checklist", cwd=sample.root)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
