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


def zizmor_findings(files: list[Path], log: RunLog) -> tuple[str, list[Finding]]:
    if zizmor.find_zizmor() is None:
        return zizmor.NOT_INSTALLED, []
    try:
        report = zizmor.run_zizmor(files, log=log)
    except ToolFailed as error:
        return f"{error.message}; its checks did not run", []
    severities = {"High": ERROR, "Medium": WARNING}
    findings = [
        Finding(
            rule=item.ident,
            severity=severities.get(item.severity, INFO),
            path=item.path,
            line=item.line,
            message=f"{item.desc}: {item.annotation}" if item.annotation else item.desc,
            fix=f"{item.fix} (see {item.url})" if item.fix else f"see {item.url}",
            source="zizmor",
        )
        for item in report.findings
    ]
    return report.status, findings


def ignored(finding: Finding, lines: list[str]) -> bool:
    if not 1 <= finding.line <= len(lines):
        return False
    return any(
        finding.rule in {rule.strip() for rule in match.group(1).split(",")}
        for match in _IGNORE.finditer(lines[finding.line - 1])
    )
