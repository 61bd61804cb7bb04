"""The project's own tests, run against the installed wheel, and the proof that they imported it.

The [test] command runs from a copy of the tests outside the repository
(folder.py) with the import recorder on (provenance.py): a pass counts only
when every module of the wheel the tests imported came from the venv's
site-packages. What the journal keeps is the runner's own tally line, so a
later look at a release says how many tests ran, not just that they passed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from relsafe.core.errors import StepFailed
from relsafe.journal.runlog import RunLog
from relsafe.model.config import Config
from relsafe.tools import venv as venvs
from relsafe.wheeltest.folder import smoke_folder
from relsafe.wheeltest.provenance import read_record, recorder_environment

TALLY_LINE = re.compile(r"\b\d+ (passed|failed|skipped|errors?)\b|^OK\b|^Ran \d+ tests?|no tests ran")
SUMMARY_LINE = re.compile(r"^(FAILED|ERROR) |^=+ .*(failed|error|passed|no tests ran).* =+$|^\d+ (failed|passed)")


SECTION = re.compile(r"^_{3,} (.+?) _{3,}$")  # pytest's header of one failure or collection error
EXCEPTION_LINE = re.compile(r"^E {3}(.*\S)")  # pytest's lines that say what was raised or asserted
TELLING_SECTIONS = 3  # the first failures say why; the rest are in the log
LINES_PER_SECTION = 2
SUMMARY_LINES = 8


def telling_lines(output: str) -> list[str]:
    """pytest's `E   ...` lines of the first failures and collection errors, each after what failed:
    `ERROR collecting tests/test_x.py: ModuleNotFoundError: No module named 'attr'`. The summary's
    `ERROR tests/test_x.py` alone does not say why."""
    found: list[tuple[str, list[str]]] = []  # in order; two files may hold tests of one name
    for line in output.splitlines():
        header = SECTION.match(line.strip())
        if header is not None:
            if len(found) == TELLING_SECTIONS and found[-1][1]:
                break
            if not found or found[-1][1]:  # a section that said nothing makes way for the next
                found.append((header.group(1).strip(), []))
            else:
                found[-1] = (header.group(1).strip(), [])
            continue
        raised = EXCEPTION_LINE.match(line)
        if found and raised is not None and len(found[-1][1]) < LINES_PER_SECTION:
            found[-1][1].append(raised.group(1).strip())
    return [
        f"{section}: {line}" if index == 0 else f"  {line}"
        for section, said in found
        for index, line in enumerate(said)
    ]


def failing_lines(output: str) -> list[str]:
    """Why the first tests failed (pytest's exception lines), then the runner's own summary: which tests
    failed, and the tally. Without either, the output's last lines."""
    summary = [line for line in output.splitlines() if SUMMARY_LINE.search(line.strip())][-SUMMARY_LINES:]
    telling = telling_lines(output)
    return telling + summary if telling or summary else output.strip().splitlines()[-12:]


def run_suite(
    venv: venvs.Venv,
    config: Config,
    project_root: Path,
    modules: list[str],
    site_packages: list[Path],
    log: RunLog,
    note: Callable[[str], None],
) -> dict[str, Any]:
    """Run the [test] command from a folder outside the repository and prove the wheel's modules came from
    the venv (the import recorder must be installed in `site_packages` already)."""
    with smoke_folder(project_root, config.test_paths) as folder:
        record = folder.path / ".relsafe-imports.jsonl"
        done = venvs.run_command(
            venv,
            config.test_command,
            log,
            cwd=folder.path,
            extra_env=recorder_environment(record, modules),
            passed=config.test_env,
        )
        imported, foreign = read_record(record, site_packages)
    for line in folder.notes:
        note(line)
    if foreign:
        raise StepFailed(
            f"the tests did not test the wheel: {foreign[0].describe()}",
            hint="make the tests import the installed package (no sys.path edits, no editable installs), "
            "then `relsafe abort` and release again",
            details=[item.describe() for item in foreign],
        )
    if done.returncode != 0:
        raise StepFailed(
            f"the tests failed against the installed wheel ({config.test_command!r}, exit {done.returncode})",
            # how to go on depends on the step and whether a file reached the staging index: the release says
            details=failing_lines(done.output),
        )
    lines = [line.strip() for line in done.output.splitlines() if line.strip()]
    # the runner's tally (`12 passed in 0.3s`, unittest's `OK`); quiet settings can leave only progress dots
    tally = next((line.strip("= ") for line in reversed(lines) if TALLY_LINE.search(line)), None)
    summary = tally or f"exit 0 ({len(lines)} line(s) of output, no tally)"
    return {
        "command": config.test_command,
        "seconds": round(done.seconds, 2),
        "summary": summary,
        "imported_from": {name: where for name, where in sorted(imported.items()) if "." not in name},
    }
