"""What the screen says: a failing tool's real error and the log path; outside text printed as written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from relsafe.app.sample import SampleProject, create_sample
from relsafe.cli.console import StepView
from relsafe.tools.localindex import LocalIndex
from relsafe.tools.process import error_tail
from relsafe.wheeltest.suite import failing_lines
from tests.support.cli import RunRelsafe, relsafe_command, relsafe_env
from tests.support.git import git
from tests.support.processes import as_from_a_terminal
from tests.support.world import journal_dir, status_json, world

MARKUP = "[bold]x[/bold] :warning:"  # rich would make this bold and an emoji
REAL_ERROR = f"RuntimeError: the real error {MARKUP}"
BUILD_ERROR = "ERROR Backend subprocess exited when trying to invoke build_sdist"

FAILING_HOOK = f"""
from hatchling.builders.hooks.plugin.interface import BuildHookInterface


def deeper(level):
    if level == 0:
        raise RuntimeError("the real error {MARKUP}")
    deeper(level - 1)


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version, build_data):
        for number in range(40):
            print(f"preparing part {{number}}")
        deeper(10)
"""


def hooked_sample(base: Path, index: LocalIndex, hook: str) -> SampleProject:
    """The offline sample whose sdist build runs `hook` (a hatchling build hook), committed and pushed."""
    sample = create_sample(base, index=(index.upload_url, index.index_url), offline=True)
    (sample.root / "hatch_build.py").write_text(textwrap.dedent(hook).lstrip(), encoding="utf-8")
    with (sample.root / "pyproject.toml").open("a", encoding="utf-8") as pyproject:
        pyproject.write("\n[tool.hatch.build.targets.sdist.hooks.custom]\n")
    git(sample.root, "add", "-A")
    git(sample.root, "commit", "-qm", "A build hook")
    git(sample.root, "push", "-q", "origin", "main")
    return sample


def assert_real_error_last(lines: list[str]) -> None:
    """The exception and the build's final line are shown, in that order; the middle frames are not."""
    text = "\n".join(lines)
    assert REAL_ERROR in text and BUILD_ERROR in text, text
    assert "⚠" not in text
    shown = [line.strip().lstrip("│ ") for line in lines]
    assert shown.index(REAL_ERROR) < shown.index(BUILD_ERROR)
    assert "Traceback (most recent call last):" in shown
    assert 'raise RuntimeError("the real error' in text, "the frame that raised"
    assert "deeper(level - 1)" not in text, "middle frames make way for the error"


def logged_path(output: str) -> Path:
    line = next(line for line in output.splitlines() if line.strip().startswith("full log: "))
    path = Path(line.strip().removeprefix("full log: "))
    assert path.is_file(), path
    return path


@pytest.mark.slow
def test_a_build_traceback_shows_its_exception_and_final_line(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = hooked_sample(tmp_path, local_index, FAILING_HOOK)
    before = world(sample)

    rehearsed = run_relsafe("release", "minor", "--dry-run", cwd=sample.root)
    assert rehearsed.returncode == 1, rehearsed.stdout + rehearsed.stderr
    table = rehearsed.stdout.split("1 blocker(s): a real release of 0.2.0 would stop", 1)[1]
    assert "python -m build failed (exit 1)" in table
    assert_real_error_last(table.splitlines())
    log = logged_path(table)
    assert "deeper(level - 1)" in log.read_text(encoding="utf-8"), "the whole output is in the log"
    assert world(sample) == before

    released = run_relsafe("release", "minor", cwd=sample.root)
    assert released.returncode == 1, released.stdout + released.stderr
    error = released.stderr.split("error: python -m build failed (exit 1)", 1)[1]
    details = [line for line in error.splitlines() if line.startswith("  │ ")]
    assert_real_error_last(details)
    assert details[-1] == f"  │ {BUILD_ERROR}", "the tool's final line ends the details"
    logged_path(error)


@pytest.mark.slow
def test_status_and_errors_print_brackets_as_written(
    tmp_path: Path, local_index: LocalIndex, run_relsafe: RunRelsafe
) -> None:
    sample = create_sample(tmp_path, index=(local_index.upload_url, local_index.index_url), offline=True)
    config = sample.root / "release.toml"
    config.write_text(f'[release]\nbranch = "{MARKUP}"\n\n' + config.read_text(encoding="utf-8"), encoding="utf-8")
    git(sample.root, "rm", "-q", ".github/workflows/relsafe-publish.yml")
    git(sample.root, "commit", "-qam", "No publish workflow, another release branch")
    git(sample.root, "push", "-q", "origin", "main")
    refusal = f"on branch 'main', not the release branch '{MARKUP}' ([release] branch)"

    refused = run_relsafe("release", "minor", cwd=sample.root)
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "([publish] workflow is not set)" in refused.stderr
    assert refusal in refused.stderr

    shown = run_relsafe("status", cwd=sample.root)
    assert shown.returncode == 0, shown.stderr
    assert "([publish] workflow is not set)" in shown.stdout
    assert refusal in shown.stdout
    assert "⚠" not in shown.stdout
    recorded = status_json(sample)
    assert recorded is not None and recorded["status"] == "refused"

    bad = run_relsafe("release", MARKUP, cwd=sample.root)
    assert bad.returncode == 2
    assert f"got '{MARKUP}'" in bad.stderr


def test_a_short_output_is_shown_whole_without_blank_lines() -> None:
    assert error_tail("one\n\ntwo\n\n") == ["one", "two"]


def test_a_long_output_keeps_its_last_lines_and_says_where_it_was_cut() -> None:
    output = "\n".join(f"line {n}" for n in range(30))
    assert error_tail(output, 3) == ["…", "line 27", "line 28", "line 29"]


def test_an_indented_traceback_keeps_its_exception_and_what_follows() -> None:
    """pip shows a backend's traceback indented inside its own report, and its own verdict last."""
    frames = [f'        File "/x/mod{n}.py", line {n}, in f{n}\n          f{n + 1}()' for n in range(20)]
    output = "\n".join(
        [
            "  × Getting requirements to build wheel did not run successfully.",
            "  ╰─> [50 lines of output]",
            *(f"      noise {n}" for n in range(10)),
            "      Traceback (most recent call last):",
            *frames,
            '        File "/x/setup.py", line 3, in <module>',
            '          raise RuntimeError("the real error")',
            "      RuntimeError: the real error",
            "      [end of output]",
            "",
            "  note: This error originates from a subprocess, and is likely not a problem with pip.",
            "error: subprocess-exited-with-error",
        ]
    )
    assert error_tail(output, 8) == [
        "      …",
        "      Traceback (most recent call last):",
        "        …",
        '        File "/x/setup.py", line 3, in <module>',
        '          raise RuntimeError("the real error")',
        "      RuntimeError: the real error",
        "      [end of output]",
        "  note: This error originates from a subprocess, and is likely not a problem with pip.",
        "error: subprocess-exited-with-error",
    ]


def test_of_chained_tracebacks_the_last_exception_is_shown() -> None:
    first = ["Traceback (most recent call last):", '  File "a.py", line 1, in <module>', "    g()", "KeyError: 'k'"]
    later = [
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        *(f'  File "b.py", line {n}, in h{n}\n    h{n + 1}()' for n in range(10)),
        "ValueError: the one that ended it",
    ]
    tail = error_tail("\n".join(first + later), 5)
    assert tail[-1] == "ValueError: the one that ended it"
    assert "KeyError: 'k'" not in tail
    assert tail[:3] == ["…", "Traceback (most recent call last):", "  …"]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stop_at", "signum"),
    [
        ("… Build sdist and wheel", signal.SIGINT),
        ("… Test the wheel in fresh venvs", signal.SIGINT),
        ("… Build sdist and wheel", signal.SIGTERM),
    ],
)
def test_ctrl_c_during_a_rehearsal_says_it_left_nothing(
    tmp_path: Path, local_index: LocalIndex, stop_at: str, signum: signal.Signals
) -> None:
    """Ctrl-C reaches the whole foreground group, as a terminal sends it (relsafe and the git it runs; the
    tools run in groups of their own); SIGTERM reaches relsafe alone, as a service manager sends it."""
    sample = create_sample(tmp_path / "work", index=(local_index.upload_url, local_index.index_url), offline=True)
    before = world(sample)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    proc = subprocess.Popen(
        relsafe_command("release", "minor", "--dry-run"),
        cwd=sample.root,
        env=relsafe_env(TMPDIR=str(scratch)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=as_from_a_terminal,  # a test run started in a shell's background inherits SIGINT ignored
    )
    assert proc.stdout is not None
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if line.startswith(stop_at):
            time.sleep(0.5)  # into the step's first command
            if signum == signal.SIGINT:
                os.killpg(proc.pid, signum)
            else:
                os.kill(proc.pid, signum)
            break
    rest, errors = proc.communicate(timeout=120)
    output = "".join(seen) + rest
    assert proc.returncode == 128 + signum, output + errors
    interrupted = "interrupted" if signum == signal.SIGINT else "interrupted by SIGTERM"
    assert f"{interrupted}: the rehearsal was stopped; it changed nothing, and there is nothing to resume" in errors
    assert "relsafe resume" not in errors + output
    assert world(sample) == before
    assert not list(scratch.glob("relsafe-*")), "the sandbox and its index are removed"
    records = [json.loads(path.read_text()) for path in (journal_dir(sample) / "history").glob("*.json")]
    assert [record["status"] for record in records] == ["interrupted"]
    assert status_json(sample) is None or status_json(sample)["status"] == "interrupted"


class Clock:
    """The console's clock, moved by the test: the spinner's frame and the elapsed time follow it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def live_console(clock: Clock) -> tuple[Console, StringIO]:
    screen = StringIO()
    return Console(file=screen, force_terminal=True, width=100, get_time=clock, markup=False), screen


STEPS = [("preflight", "Preflight checks"), ("build", "Build sdist and wheel"), ("tag", "Tag the release")]
DOTS = set("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")


def test_the_live_spinner_turns_and_the_steps_to_come_are_listed() -> None:
    clock = Clock()
    console, screen = live_console(clock)
    with StepView(console) as view:
        view.planned(STEPS)
        view.step_started("preflight", "Preflight checks")
        assert view.live is not None
        for _ in range(6):
            clock.now += 0.3
            view.live.refresh()
        shown = screen.getvalue()
        frames = {char for char in shown if char in DOTS}
        assert len(frames) >= 4, f"one spinner, drawn at each refresh, turns: {frames}"
        assert "1.8s" in shown, "the clock counts"
        lines = Text.from_ansi(shown).plain.splitlines()
        pending = [line for line in lines if line.rstrip().endswith("pending")]
        assert any("Build sdist and wheel" in line for line in pending), lines
        assert any("Tag the release" in line for line in pending), lines
        view.step_finished("preflight", "done", 1.8, "all clear")
    end = Text.from_ansi(screen.getvalue()).plain
    assert "all clear" in end


def test_a_gate_question_leaves_no_piece_of_the_table_over_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table is taken off before the question and drawn again below the answer: nothing moves the cursor
    up over the question's line."""
    clock = Clock()
    console, screen = live_console(clock)
    monkeypatch.setattr("sys.stdin", StringIO("y\n"))  # the person's answer
    with StepView(console) as view:
        view.planned(STEPS)
        view.step_started("preflight", "Preflight checks")
        assert view.live is not None
        view.live.refresh()
        assert view.ask("The changelog is updated?") is True
        assert view.live is not None, "the live table is back"
        clock.now += 0.5
        view.live.refresh()
        after = screen.getvalue().rsplit("The changelog is updated?", 1)[1]
        first_table = after.index("step")
        assert "\x1b[1A" not in after[:first_table], "the table's first drawing after the answer starts below it"
        assert "Build sdist and wheel" in after


def pytest_output(folder: Path, files: dict[str, str]) -> str:
    """The output of a real pytest run over `files` (name → source) in `folder`/tests."""
    tests = folder / "tests"
    tests.mkdir(parents=True)
    for name, source in files.items():
        (tests / name).write_text(textwrap.dedent(source), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    return done.stdout + done.stderr


def test_a_failing_suite_shows_why_its_first_tests_failed(tmp_path: Path) -> None:
    """pytest's own output, from a real run: a collection error's cause and each failure's exception are
    shown, not only `ERROR tests/test_x.py`; the tally ends the lines, and they stay few."""
    collection = failing_lines(pytest_output(tmp_path / "a", {"test_imports.py": "import attr_that_is_missing\n"}))
    tests = {f"test_data{n}.py": "def test_loads():\n    open('no-such-table.csv')\n" for n in range(5)}
    tests["test_sum.py"] = "def test_sum():\n    assert 1 + 1 == 3\n"
    failures = failing_lines(pytest_output(tmp_path / "b", tests))

    assert collection[0] == (
        "ERROR collecting tests/test_imports.py: ModuleNotFoundError: No module named 'attr_that_is_missing'"
    )
    assert "ERROR tests/test_imports.py" in collection
    assert failures[0].startswith("test_loads: FileNotFoundError: [Errno 2] No such file or directory"), failures
    assert sum(line.startswith("test_loads: ") for line in failures) == 3, "the first three failures say why"
    assert "6 failed" in failures[-1], failures
    assert len(failures) <= 3 * 2 + 8
