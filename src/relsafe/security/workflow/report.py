"""The audit's report: findings from relsafe's rules and zizmor, silenced by ignore comments, as text or JSON."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, replace

from relsafe.core.errors import ToolFailed
from relsafe.tools import zizmor

ERROR = "error"
WARNING = "warning"
INFO = "info"
_IGNORE = re.compile(r"#\s*(relsafe|zizmor):\s*ignore\[([^\]]*)\]")
Span = tuple[int, int]  # a step's first and last line


@dataclass(frozen=True)
class Finding:
    rule: str  # stable id, kebab-case
    severity: str  # "error" | "warning" | "info"
    path: str
    line: int
    message: str
    fix: str
    source: str = "relsafe"  # "zizmor", or "relsafe+zizmor" when both report it
    also: str = ""  # zizmor's id for the same finding, when both report it


@dataclass
class AuditReport:
    findings: list[Finding]
    zizmor_status: str

    @property
    def has_errors(self) -> bool:
        return any(finding.severity == ERROR for finding in self.findings)

    def refuses(self, strict: bool = False) -> bool:
        """Does the report stop a release: an error, or with strict any warning too?"""
        return self.has_errors or (strict and any(finding.severity == WARNING for finding in self.findings))

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


# relsafe's rules and the zizmor audits that report the same concern, each on the same line when both see it.
SAME_CONCERN = {
    "unpinned-action": "unpinned-uses",
    "checkout-credentials": "artipacked",
    "release-cache": "cache-poisoning",
    "template-injection": "template-injection",
    "dangerous-trigger": "dangerous-triggers",
    "untrusted-trigger": "dangerous-triggers",
    "secrets-inherit": "secrets-inherit",
    "self-hosted-runner": "self-hosted-runner",
    "id-token-scope": "excessive-permissions",
    "write-all-permissions": "excessive-permissions",
    "missing-permissions": "excessive-permissions",
}
# zizmor audits that, alone in a workflow that cannot publish, are hygiene (relsafe's twin rule warns there too)
# or were judged by relsafe's twin rule and found harmless (a `pull_request_target` that runs no outsider code).
_WARNINGS_WHERE_NOTHING_PUBLISHES = frozenset(
    {"unpinned-uses", "unpinned-images", "artipacked", "excessive-permissions", "secrets-inherit", "dangerous-triggers"}
)
UNAVAILABLE = "zizmor-unavailable"  # the finding of a workflow zizmor could not audit; no comment silences it


def zizmor_findings(run: zizmor.Ahead, publishing: set[str]) -> tuple[str, list[Finding]]:
    """zizmor's findings on the files of its run, medium and high ones errors on a publishing workflow (paths
    in publishing).

    The audit fails closed: when zizmor cannot run, each file gets an error
    saying so, since a workflow half-checked must not publish; so does each
    file zizmor rejected while auditing the others.
    """
    files = run.paths
    try:
        report = run.report()
    except ToolFailed as error:
        status = f"{error.message}; its checks did not run, so the audit refuses"
        fix = f"Reinstall relsafe with its zizmor dependency, or point {zizmor.OVERRIDE} at a zizmor binary."
        return status, [
            Finding(UNAVAILABLE, ERROR, str(path), 1, f"zizmor did not audit this workflow: {error.message}", fix)
            for path in files
        ]
    findings = [
        Finding(
            UNAVAILABLE,
            ERROR,
            path,
            1,
            f"zizmor did not audit this file: it rejected it ({reason})",
            "zizmor rejected the file, so its checks did not run on it: make it a valid workflow or action "
            "(GitHub's schema; `zizmor --strict-collection FILE` says where), or leave it out of the audit.",
        )
        for path, reason in report.rejected
    ]
    for item in report.findings:
        if item.path in publishing:
            severity = ERROR if item.severity in {"High", "Medium"} else INFO
        elif item.severity == "High" and item.ident not in _WARNINGS_WHERE_NOTHING_PUBLISHES:
            severity = ERROR
        else:
            severity = WARNING if item.severity in {"High", "Medium"} else INFO
        findings.append(
            Finding(
                rule=item.ident,
                severity=severity,
                path=item.path,
                line=item.line,
                message=f"{item.desc}: {item.annotation}" if item.annotation else item.desc,
                fix=f"{item.fix} (see {item.url})" if item.fix else f"see {item.url}",
                source="zizmor",
            )
        )
    status = report.status + (f", {len(report.rejected)} file(s) rejected" if report.rejected else "")
    return status, findings


def merged(findings: list[Finding], steps: dict[str, list[Span]] | None = None) -> list[Finding]:
    """One finding per concern and place: a rule that fires twice on a line (two events on one `on:` line) is
    reported once, and a zizmor finding that relsafe's twin rule also makes on that line, or on another line of the
    same step (`steps`: each file's step spans), is folded into it.

    The merged finding keeps relsafe's severity, which follows where the
    workflow can publish, and names zizmor's id in `also`.
    """
    kept: dict[tuple[str, int, str], Finding] = {}
    for finding in findings:
        if finding.source == "relsafe":
            kept.setdefault((finding.path, finding.line, finding.rule), finding)
    for finding in findings:
        if finding.source != "zizmor":
            continue
        spans = (steps or {}).get(finding.path, [])
        twins = [
            key
            for key, mine in kept.items()
            if mine.source != "zizmor"
            and key[0] == finding.path
            and SAME_CONCERN.get(mine.rule) == finding.rule
            and _together(spans, key[1], finding.line)
        ]
        twins.sort(key=lambda key: (key[1] != finding.line, kept[key].also != ""))
        for key in twins[:1]:
            kept[key] = replace(kept[key], source="relsafe+zizmor", also=finding.rule)
        if not twins:
            kept.setdefault((finding.path, finding.line, f"zizmor:{finding.rule}"), finding)
    return list(kept.values())


def _together(spans: list[Span], line: int, other: int) -> bool:
    """The same line, or two lines of one step."""
    return line == other or any(first <= line <= last and first <= other <= last for first, last in spans)


def ignored(finding: Finding, lines: list[str], steps: list[Span] | None = None) -> bool:
    """Is the finding silenced? `# relsafe: ignore[id]` on its line, or zizmor's own `# zizmor: ignore[id]` on its
    line or, as zizmor reads it, any line of its step; the id is relsafe's or zizmor's for the same concern."""
    if finding.rule == UNAVAILABLE or not 1 <= finding.line <= len(lines):
        return False
    ids = {finding.rule, finding.also, SAME_CONCERN.get(finding.rule, "")} - {""}
    span = next(((first, last) for first, last in steps or [] if first <= finding.line <= last), None)
    first, last = span if span is not None else (finding.line, finding.line)
    for number in range(first, min(last, len(lines)) + 1):
        for match in _IGNORE.finditer(lines[number - 1]):
            tool, named = match.group(1), {rule.strip() for rule in match.group(2).split(",")}
            if (number == finding.line or tool == "zizmor") and ids & named:
                return True
    return False
