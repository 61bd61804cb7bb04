"""`twine check`: the long description must render on the index.

Strict (the default) refuses on twine's warnings too, such as a missing
description or content type; otherwise they are only reported, and only
errors (markup the index would not render) refuse.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from relsafe.journal.runlog import RunLog
from relsafe.tools import process

ANSI = re.compile(r"\x1b\[[0-9;]*m")

WIDTH = 10_000
"""Terminal columns twine is told it has. twine prints through rich, which wraps
at the terminal width (80 in a pipe) and would split a long path over lines;
no path (4096 at most) or message is this wide. rich pads each log line to it,
so it is not wider still."""

_SIZE = {"COLUMNS": str(WIDTH), "LINES": "25"}
"""rich takes COLUMNS alone as a hint that TERM=dumb overrides with 80; with LINES too it is the size."""

_PASSED, _WARNED = "PASSED", "PASSED with warnings"
_VERDICTS = (_PASSED, _WARNED, "FAILED", "FAILED due to warnings")
# "Checking FILE: " is printed before the file is read and its verdict after, on
# the same line; a message twine logs when it cannot read the file comes there.
_CHECKING = re.compile(r"Checking (?P<file>.+?):(?: (?P<rest>.*))?")
_RECORD = re.compile(r"(?:DEBUG|INFO|WARNING|ERROR|CRITICAL) +(?P<text>.+)")


@dataclass(frozen=True)
class MetadataCheck:
    """twine's verdict: `problems` refuse the release, `warnings` are only shown."""

    problems: list[str]
    warnings: list[str]


@dataclass
class _File:
    name: str
    verdict: str  # "" when twine stopped before giving one
    messages: list[str]

    def describe(self) -> str:
        if not self.verdict:  # a traceback's last line is its error
            return "could not be checked: " + ("; ".join(self.messages[-1:]) or "twine stopped")
        return (f"{self.verdict}: " + "; ".join(self.messages)) if self.messages else self.verdict


def metadata_check(paths: list[Path], log: RunLog, *, strict: bool = True) -> MetadataCheck:
    """One problem per file twine rejects, one warning per file it passes with
    warnings, each with twine's own text for that file, whole."""
    what = "twine check --strict" if strict else "twine check"
    done = process.run(
        [sys.executable, "-m", "twine", "--no-color", "check", *(["--strict"] if strict else []), *map(str, paths)],
        log=log,
        env={**os.environ, **_SIZE},
        check=False,
        what=what,
    )
    files, loose = _parse(done.output)
    # the built file's name: its folder under the journal says nothing to the reader
    problems = [
        f"{what}: {Path(file.name).name}: {file.describe()}" for file in files if file.verdict not in (_PASSED, _WARNED)
    ]
    warnings = [f"twine check: {Path(file.name).name}: {file.describe()}" for file in files if file.verdict == _WARNED]
    if done.returncode != 0 and not problems:
        problems.append(f"{what} failed (exit {done.returncode})" + "".join(f": {text}" for text in loose[-1:]))
    return MetadataCheck(problems, warnings)


def _parse(output: str) -> tuple[list[_File], list[str]]:
    """Each checked file with the messages twine printed after it, and those before any file.

    rich indents a message's further lines under its text: they join it.
    """
    files: list[_File] = []
    loose: list[str] = []
    messages = loose
    for raw in output.splitlines():
        line = ANSI.sub("", raw).rstrip()
        if not line.strip():
            continue
        if line[0].isspace() and messages:
            messages[-1] += " " + line.strip()
            continue
        if checking := _CHECKING.fullmatch(line):
            rest = checking["rest"] or ""
            verdict = rest if rest in _VERDICTS else ""
            files.append(_File(checking["file"], verdict, []))
            messages = files[-1].messages
            if verdict or not rest:
                continue
            line = rest
        record = _RECORD.fullmatch(line)
        messages.append(record["text"] if record else line.strip())
    return files, loose
