"""The command line itself: fast help, usage errors with exit 2, and a clear refusal outside a repository."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from relsafe import __version__
from relsafe.app.sample import SampleProject, create_sample
from tests.support.cli import RunRelsafe, relsafe_env
from tests.support.world import status_json, world

HEAVY = {"twine", "build", "bumpversion", "git", "virtualenv", "pypiserver"}
PARSING = {"typer", "click", "pydantic"}  # a plain `relsafe status` needs none of them


def imported_modules(*args: str, cwd: Path | None = None) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run `python -X importtime -m relsafe ARGS` and return the top-level modules it imported."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "relsafe", *args],
        cwd=cwd,
        env=relsafe_env(),
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    modules = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return proc, modules


@pytest.mark.parametrize("args", [("release", "--help"), ("status", "--help")])
def test_a_command_s_help_imports_no_heavy_module(args: tuple[str, ...]) -> None:
    proc, modules = imported_modules(*args)

    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "relsafe" in modules and "typer" in modules, "the import log was read"
    assert not modules & HEAVY, sorted(modules & HEAVY)


@pytest.mark.parametrize("args", [("--help",), ("--version",)])
def test_top_level_help_and_version_need_no_parser(args: tuple[str, ...]) -> None:
    proc, modules = imported_modules(*args)

    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("Usage: python -m relsafe " if args == ("--help",) else "relsafe ")
    assert "relsafe" in modules, "the import log was read"
    assert not modules & (HEAVY | PARSING), sorted(modules & (HEAVY | PARSING))


@pytest.mark.parametrize("started_as", ["script", "module", "long-named script"])
@pytest.mark.parametrize("columns", ["40", "60", "79", "80", "81", "200"])
def test_top_level_help_is_the_page_typer_prints(started_as: str, columns: str, tmp_path: Path) -> None:
    """The page relsafe prints without typer is typer's own, at any terminal width and however relsafe was
    started (its usage line names the program as click does). `--help --help` is parsed by typer."""
    script = Path(sys.executable).with_name("relsafe")
    if started_as == "long-named script":  # a usage prefix too long for the arguments to sit beside it
        script = tmp_path / ("relsafe-with-a-name-longer-than-thirty-characters" + "-" * 20)
        script.symlink_to(Path(sys.executable).with_name("relsafe"))
    command = [sys.executable, "-m", "relsafe"] if started_as == "module" else [str(script)]
    env = {**relsafe_env(), "COLUMNS": columns}

    def page(*args: str) -> str:
        run = subprocess.run([*command, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr
        return run.stdout

    by_typer = page("--help", "--help")
    assert by_typer.startswith("Usage: ") and "Commands:" in by_typer and "  demo " in by_typer
    assert page("--help") == by_typer


def test_top_level_help_on_a_stream_that_cannot_encode_it_is_typer_s_utf_8(tmp_path: Path) -> None:
    """PYTHONIOENCODING=ascii: the page's dash goes out in UTF-8, as click echoes it, not as a traceback."""
    env = {**relsafe_env(), "PYTHONIOENCODING": "ascii"}
    command = [str(Path(sys.executable).with_name("relsafe")), "--help"]
    fast = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=60)
    by_typer = subprocess.run([*command, "--help"], cwd=tmp_path, env=env, capture_output=True, timeout=60)

    assert fast.returncode == by_typer.returncode == 0, fast.stderr + by_typer.stderr
    assert "—".encode() in by_typer.stdout
    assert fast.stdout == by_typer.stdout


@pytest.mark.parametrize(
    ("args", "shown"),
    [(("status",), "no release yet"), (("status", "--json"), "null"), (("status", "-C", ".", "--json"), "null")],
)
def test_a_plain_status_parses_without_typer_and_finds_the_journal_without_gitpython(
    args: tuple[str, ...], shown: str, release_sample: SampleProject
) -> None:
    """`relsafe status` stays fast: no command-line framework, no GitPython (one git command finds the
    journal). Everything else about status (--help, a bad option, a bad folder) still goes through typer."""
    proc, modules = imported_modules(*args, cwd=release_sample.root)

    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == shown
    assert "relsafe" in modules and "rich" in modules, "the import log was read"
    assert not modules & (HEAVY | PARSING), sorted(modules & (HEAVY | PARSING))


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("release", "minor", "--plan"), 0, "version      0.1.0 → 0.2.0"),
        (("release", "--plan", "--path=.", "minor"), 0, "version      0.1.0 → 0.2.0"),
        (("resume", "--yes", "--confirm", "checklist"), 2, "error: no release is in progress; nothing to resume"),
    ],
)
def test_plain_release_and_resume_command_lines_skip_the_parser(
    args: tuple[str, ...], code: int, says: str, release_sample: SampleProject
) -> None:
    """The plain command lines of release and resume reach their command without typer or pydantic."""
    proc, modules = imported_modules(*args, cwd=release_sample.root)

    assert proc.returncode == code, proc.stdout + proc.stderr[-2000:]
    assert says in proc.stdout + proc.stderr
    assert "relsafe" in modules and "rich" in modules, "the import log was read"
    assert not modules & PARSING, sorted(modules & PARSING)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("release", "minor", "--bogus"), "No such option: --bogus"),
        (("release", "--plan"), "Missing argument 'PART|VERSION'"),
        (("release", "minor", "--plan", "--confirm"), "Option '--confirm' requires an argument"),
        (("status", "--json", "--json", "--bogus"), "No such option: --bogus"),
    ],
)
def test_any_other_command_line_goes_through_typer(
    args: tuple[str, ...], says: str, release_sample: SampleProject
) -> None:
    proc, modules = imported_modules(*args, cwd=release_sample.root)

    assert proc.returncode == 2, proc.stdout + proc.stderr[-2000:]
    assert says in proc.stderr
    assert "typer" in modules


def test_help_lists_the_commands(run_relsafe: RunRelsafe, tmp_path: Path) -> None:
    proc = run_relsafe("--help", cwd=tmp_path)

    assert proc.returncode == 0
    for command in ("release", "resume", "status", "abort"):
        assert f"  {command} " in proc.stdout


def test_version_is_the_installed_one(run_relsafe: RunRelsafe, tmp_path: Path) -> None:
    proc = run_relsafe("--version", cwd=tmp_path)

    assert proc.returncode == 0
    assert proc.stdout.strip() == f"relsafe {__version__}"
    assert __version__ == version("relsafe")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("release", "foo"), "argument PART|VERSION: expected one of major, minor, patch"),
        (("release", "1.0.0.dev0-nope"), "'1.0.0.dev0-nope'"),
        (("release",), "Missing argument 'PART|VERSION'"),
        (("release", "minor", "--bogus"), "No such option: --bogus"),
        (("deploy",), "No such command 'deploy'"),
    ],
)
def test_bad_arguments_exit_2_and_change_nothing(
    args: tuple[str, ...], expected: str, release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    before = world(release_sample)

    proc = run_relsafe(*args, cwd=release_sample.root)

    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert expected in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert world(release_sample) == before
    assert status_json(release_sample) is None


@pytest.mark.parametrize("args", [("release", "minor"), ("resume",), ("abort",), ("status",), ("status", "--json")])
def test_outside_a_git_repository_is_a_clear_refusal(
    args: tuple[str, ...], run_relsafe: RunRelsafe, tmp_path: Path
) -> None:
    folder = tmp_path / "not-a-repo"
    folder.mkdir()

    proc = run_relsafe(*args, cwd=folder)

    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    first = proc.stderr.splitlines()[0]
    assert first == f"error: {folder.absolute()}: not a git repository (nor inside one)"
    assert list(folder.iterdir()) == [], "nothing may be written outside a repository"


def test_path_option_names_the_repository(
    release_sample: SampleProject, run_relsafe: RunRelsafe, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    refused = run_relsafe("release", "0.0.1", "--path", str(release_sample.root), cwd=elsewhere)
    missing = run_relsafe("status", "-C", str(tmp_path / "missing"), cwd=elsewhere)

    assert refused.returncode == 4
    assert "0.0.1 is not above the current version 0.1.0" in refused.stderr
    assert missing.returncode == 2
    assert f"option --path: {tmp_path / 'missing'}: no such folder" in missing.stderr


def test_an_unforeseen_error_is_one_line_with_the_traceback_in_the_log(
    release_sample: SampleProject, run_relsafe: RunRelsafe
) -> None:
    """The last-resort guard: a defect (here a RuntimeError the `bug` failpoint raises at the first journal
    write, standing for any bug) is one line naming its type and the log, exit 1; the traceback is in the
    log, redacted and private, never on the screen; and nothing in the repository changed."""
    before = world(release_sample)

    proc = run_relsafe(
        "release", "minor", cwd=release_sample.root, env=relsafe_env(RELSAFE_FAILPOINT="journal-write=bug")
    )

    assert proc.returncode == 1, proc.stdout + proc.stderr
    (line,) = proc.stderr.splitlines()
    prefix = "internal error: RuntimeError: failpoint journal-write raised on purpose (log: "
    assert line.startswith(prefix) and line.endswith(".log)"), line
    assert "Traceback" not in proc.stdout + proc.stderr
    log = Path(line.removeprefix(prefix).removesuffix(")"))
    assert log.parent == release_sample.root / ".git" / "relsafe" / "logs"
    assert "Traceback (most recent call last)" in log.read_text(encoding="utf-8")
    assert log.stat().st_mode & 0o777 == 0o600
    assert world(release_sample) == before


def test_a_commands_own_exit_code_passes_the_guard(tmp_path: Path, run_relsafe: RunRelsafe) -> None:
    """`audit` ends with exit 4 through typer's Exit, an exception too: the last-resort guard lets it by."""
    sample = create_sample(tmp_path)
    workflow = sample.root / ".github" / "workflows" / "relsafe-publish.yml"
    workflow.write_text(
        workflow.read_text(encoding="utf-8").replace("\n  push:", "\n  pull_request_target:\n  push:", 1),
        encoding="utf-8",
    )

    proc = run_relsafe("audit", cwd=sample.root)

    assert proc.returncode == 4, proc.stdout + proc.stderr
    assert "dangerous-trigger" in proc.stdout
    assert "internal error" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "args", [("status", "--json"), ("status",), ("audit", "--format", "json"), ("--help",), ("demo", "--help")]
)
def test_a_reader_that_went_away_ends_the_command_quietly(tmp_path: Path, args: tuple[str, ...]) -> None:
    """`relsafe status --json | head -1`: once the reader has closed the pipe, relsafe ends as Unix tools do
    (exit 141, 128 + SIGPIPE), says nothing and leaves no internal-error log."""
    sample = create_sample(tmp_path / "work")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    reader, writer = os.pipe()
    os.close(reader)  # the reader is gone before relsafe writes its first line
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "relsafe", *args],
            cwd=sample.root,
            env=relsafe_env(TMPDIR=str(scratch)),
            stdout=writer,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=120,
        )
    finally:
        os.close(writer)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr == ""
    assert not list(scratch.iterdir()), "no internal-error log"
