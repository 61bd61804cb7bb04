"""zizmor, the GitHub Actions static analyser, run offline beside relsafe's own workflow rules.

zizmor is installed with relsafe (its wheel holds only the binary), and the
audit fails closed without it: a workflow nobody checked must not publish. It
is found through its installed distribution's file list, so the copy installed
with relsafe wins over another on PATH; RELSAFE_ZIZMOR names another binary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Sequence
from concurrent.futures import wait
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

from relsafe.core.errors import ToolFailed
from relsafe.journal.runlog import RunLog
from relsafe.tools.process import Completed, in_background, run

NOT_INSTALLED = "zizmor not found (it installs with relsafe: `pip install --force-reinstall zizmor`)"
OVERRIDE = "RELSAFE_ZIZMOR"  # the zizmor binary to run instead of the installed one

# zizmor's exit codes: 0 no findings, 11-14 the highest finding is informational/low/medium/high.
_FINDING_EXITS = {0, 11, 12, 13, 14}
_FAILURES = {
    1: "zizmor failed",
    2: "zizmor rejected its arguments",
    3: "zizmor found no workflow to audit",
}
_TIMEOUT = 300.0
# zizmor's log lines (stderr, merged into the output): one per input it audited, one per input it rejected.
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_COMPLETED = re.compile(r"\bINFO\b.*\bcompleted (.+?)\s*$")
_REJECTED = re.compile(r"\bWARN\b.*?(failed to \w+ (?:file://(\S+) )?.*?)\s*$")


@dataclass(frozen=True)
class ZizmorFinding:
    """One zizmor finding, reduced to where it is and what it says."""

    ident: str
    desc: str
    url: str
    severity: str  # "Informational" | "Low" | "Medium" | "High"
    confidence: str  # "Low" | "Medium" | "High"
    path: str
    line: int  # 1-based
    annotation: str
    fix: str | None


@dataclass(frozen=True)
class ZizmorReport:
    version: str
    findings: tuple[ZizmorFinding, ...]
    rejected: tuple[tuple[str, str], ...] = ()
    """The inputs zizmor did not audit (it warns and goes on), each with zizmor's reason."""

    @property
    def status(self) -> str:
        count = len(self.findings)
        return f"zizmor {self.version}: {count} finding{'' if count == 1 else 's'}"


def find_zizmor() -> Path | None:
    """The zizmor binary: RELSAFE_ZIZMOR when set (even a missing path: that is a test of failing closed), else
    the one the installed zizmor distribution lists, else one beside sys.executable or on PATH, else None."""
    override = os.environ.get(OVERRIDE)
    if override:
        return Path(override) if Path(override).is_file() else None
    name = "zizmor.exe" if sys.platform == "win32" else "zizmor"
    try:
        files = metadata.distribution("zizmor").files or []
    except metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == name:
            located = Path(str(file.locate())).resolve()
            if located.is_file():
                return located
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return beside
    found = shutil.which(name)
    return Path(found) if found else None


def run_zizmor(paths: Sequence[Path], *, log: RunLog, executable: Path | None = None) -> ZizmorReport:
    """Audit the given workflow and action files with zizmor offline and return its findings.

    zizmor skips an input it cannot read as a workflow or action with a warning;
    each input its log does not say it completed is in `rejected`, with the
    reason it gave. Raises ToolFailed when zizmor is not installed, fails, or
    prints output that is not its JSON report.
    """
    zizmor = executable or find_zizmor()
    if zizmor is None:
        raise ToolFailed(NOT_INSTALLED, hint="pip install zizmor")
    version_run = run([zizmor, "--version"], log=log, timeout=_TIMEOUT, what="zizmor --version")
    version = version_run.output.strip().split()[-1] if version_run.output.strip() else "unknown"
    done = run(
        [zizmor, "--offline", "--format", "json", *paths],
        log=log,
        timeout=_TIMEOUT,
        check=False,
        what="zizmor",
    )
    if done.returncode not in _FINDING_EXITS:
        message = _FAILURES.get(done.returncode, "zizmor failed")
        raise ToolFailed(f"{message} (exit {done.returncode})", details=done.tail())
    findings = tuple(_finding(raw) for raw in _json_findings(done))
    return ZizmorReport(version=version, findings=findings, rejected=_rejected(paths, done.output))


def _rejected(paths: Sequence[Path], output: str) -> tuple[tuple[str, str], ...]:
    """The inputs zizmor's log does not report as completed, with the reason its warning gives (the warning that
    names the file, else the first that names none), fail closed: an input not reported is not audited."""
    completed: set[str] = set()
    named: dict[str, str] = {}
    unnamed: list[str] = []
    for line in _ANSI.sub("", output).splitlines():
        done = _COMPLETED.search(line)
        if done:
            completed.add(done.group(1))
            continue
        warned = _REJECTED.search(line)
        if warned:
            reason = warned.group(1).replace(f"file://{warned.group(2)} ", "it ")
            if warned.group(2):
                named.setdefault(warned.group(2), reason)
            else:
                unnamed.append(reason)
    fallback = unnamed[0] if unnamed else "zizmor did not say why"
    return tuple((str(path), named.get(str(path), fallback)) for path in paths if str(path) not in completed)


def _json_findings(done: Completed) -> list[dict[str, Any]]:
    """The JSON array in zizmor's output; log lines may surround it because stderr is merged."""
    decoder = json.JSONDecoder()
    offset = 0
    for line in done.output.splitlines(keepends=True):
        if line.lstrip().startswith("["):
            try:
                value, _ = decoder.raw_decode(done.output, offset + len(line) - len(line.lstrip()))
            except json.JSONDecodeError:
                pass
            else:
                if isinstance(value, list):
                    return [item for item in value if isinstance(item, dict) and not item.get("ignored")]
        offset += len(line)
    raise ToolFailed("zizmor printed no JSON report", details=done.tail())


def _finding(raw: dict[str, Any]) -> ZizmorFinding:
    determinations = raw.get("determinations") or {}
    locations = raw.get("locations") or []
    primary = next(
        (loc for loc in locations if loc.get("symbolic", {}).get("kind") == "Primary"),
        locations[0] if locations else {},
    )
    symbolic = primary.get("symbolic", {})
    key = symbolic.get("key", {}).get("Local", {})
    path = key.get("verbatim_path") or key.get("given_path") or key.get("prefix") or ""
    row = primary.get("concrete", {}).get("location", {}).get("start_point", {}).get("row", 0)
    fixes = raw.get("fixes") or []
    return ZizmorFinding(
        ident=str(raw.get("ident", "")),
        desc=str(raw.get("desc", "")),
        url=str(raw.get("url", "")),
        severity=str(determinations.get("severity", "")),
        confidence=str(determinations.get("confidence", "")),
        path=str(path),
        line=int(row) + 1,
        annotation=str(symbolic.get("annotation", "")),
        fix=str(fixes[0]["title"]) if fixes and isinstance(fixes[0], dict) and "title" in fixes[0] else None,
    )


class Ahead:
    """zizmor started on the files an audit will ask for, before the audit has read them.

    zizmor spends about a quarter of a second starting up whatever it audits:
    started first, that time passes while relsafe parses the workflows and
    runs its own rules. The audit takes the report only when it asks for
    exactly these files (in this order), and otherwise runs zizmor again.
    """

    def __init__(self, paths: Sequence[Path], *, log: RunLog) -> None:
        self.paths = tuple(paths)
        self._report = in_background(partial(run_zizmor, self.paths, log=log), "zizmor")

    def report(self) -> ZizmorReport:
        """zizmor's report, waiting for it; raises ToolFailed as run_zizmor does."""
        return self._report.result()

    def settle(self) -> None:
        """Wait for the run, taken or not, so that it ends with the work that started it; a failure is the
        audit's to report, when the audit took it."""
        wait([self._report])
