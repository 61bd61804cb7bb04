"""The audit's report: findings from relsafe's rules and zizmor, silenced by ignore comments, as text or JSON."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from relsafe.errors import ToolFailed
from relsafe.runlog import RunLog
from relsafe.tools import zizmor

ERROR = "error"
WARNING = "warning"
INFO = "info"
_IGNORE = re.compile(r"#\s*relsafe:\s*ignore\[([^\]]*)\]")


@dataclass(frozen=True)
class Finding:
    rule: str  # stable id, kebab-case
    severity: str  # "error" | "warning" | "info"
    path: str
    line: int
    message: str
    fix: str
    source: str = "relsafe"  # or "zizmor"


@dataclass
class AuditReport:
    findings: list[Finding]
    zizmor_status: str

    @property
    def has_errors(self) -> bool:
        return any(finding.severity == ERROR for finding in self.findings)

    def to_json(self) -> str:
        counts = {level: sum(f.severity == level for f in self.findings) for level in (ERROR, WARNING, INFO)}
        return json.dumps(
            {
                "findings": [asdict(finding) for finding in self.findings],
                "counts": counts,
                "zizmor": self.zizmor_status,
            },
            indent=2,
        )


UNAVAILABLE = "zizmor-unavailable"  # the finding of a workflow zizmor could not audit; no comment silences it


def zizmor_findings(files: list[Path], publishing: set[str], log: RunLog) -> tuple[str, list[Finding]]:
    """zizmor's findings on the files, medium and high ones errors on a publishing workflow (paths in publishing).

    The audit fails closed: when zizmor cannot run, each file gets an error
    saying so, since a workflow half-checked must not publish.
    """
    try:
        report = zizmor.run_zizmor(files, log=log)
    except ToolFailed as error:
        status = f"{error.message}; its checks did not run, so the audit refuses"
        fix = f"Reinstall relsafe with its zizmor dependency, or point {zizmor.OVERRIDE} at a zizmor binary."
        return status, [
            Finding(UNAVAILABLE, ERROR, str(path), 1, f"zizmor did not audit this workflow: {error.message}", fix)
            for path in files
        ]
    findings = []
    for item in report.findings:
        blocking = {"High"} | ({"Medium"} if item.path in publishing else set())
        findings.append(
            Finding(
                rule=item.ident,
                severity=ERROR if item.severity in blocking else WARNING if item.severity == "Medium" else INFO,
                path=item.path,
                line=item.line,
                message=f"{item.desc}: {item.annotation}" if item.annotation else item.desc,
                fix=f"{item.fix} (see {item.url})" if item.fix else f"see {item.url}",
                source="zizmor",
            )
        )
    return report.status, findings


def ignored(finding: Finding, lines: list[str]) -> bool:
    if finding.rule == UNAVAILABLE or not 1 <= finding.line <= len(lines):
        return False
    return any(
        finding.rule in {rule.strip() for rule in match.group(1).split(",")}
        for match in _IGNORE.finditer(lines[finding.line - 1])
    )
