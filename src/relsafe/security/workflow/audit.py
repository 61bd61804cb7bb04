"""The workflow audit: GitHub Actions workflows checked against the rules of safe Trusted Publishing.

Each rule stops a way a release workflow has been, or could be, turned against
its project: an attacker's branch name run as shell code, a token minted by the
wrong job, a cache or a checkout credential poisoned by an earlier job. The
rules are strict for workflows that can publish and advisory elsewhere. zizmor,
installed with relsafe and run offline, adds its broader checks to the same
report; the audit refuses when zizmor cannot run.

A finding is silenced by `# relsafe: ignore[rule-id]` on the line it names.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from relsafe.core.errors import ConfigError, UsageError
from relsafe.journal.runlog import RunLog
from relsafe.model.publish_workflow import tag_pattern
from relsafe.security.workflow import injection, permissions, publishing, supply_chain, triggers
from relsafe.security.workflow.model import Rule, Settings, Workflow, release_publishes, tag_pushes
from relsafe.security.workflow.report import AuditReport, ignored, merged, zizmor_findings

WORKFLOWS_DIR = ".github/workflows"
TAG, RELEASE = "tag", "release"  # what can start the publish run of a release (see `starts`)


def audit_workflows(
    paths: Sequence[Path],
    *,
    environment: str = "pypi",
    tag_format: str = "v{version}",
    log: RunLog,
    use_zizmor: bool = True,
) -> AuditReport:
    """Audit workflow files, or the *.yml and *.yaml files in directories, and report every finding.

    environment is the GitHub environment PyPI's publisher names; tag_format the
    release tags relsafe pushes. Raises UsageError for a missing path, no
    workflow at all, or a file that is not a readable workflow.
    """
    tag_pattern(tag_format)  # rejects a format without {version}
    files = _collect(paths)
    workflows = [Workflow.load(path) for path in files]
    settings = Settings(environment, tag_format)
    findings = [finding for workflow in workflows for rule in RULES for finding in rule(workflow, settings)]
    status = "zizmor skipped"
    if use_zizmor:
        can_publish = {workflow.path for workflow in workflows if workflow.publishing}
        status, extra = zizmor_findings(files, can_publish, log)
        findings.extend(extra)
    lines = {workflow.path: workflow.lines for workflow in workflows}
    kept = [finding for finding in merged(findings) if not ignored(finding, lines.get(finding.path, []))]
    kept.sort(key=lambda f: (f.path, f.line, f.source, f.rule))
    return AuditReport(findings=kept, zizmor_status=status)


def publishing_workflows(root: Path) -> list[str]:
    """The workflows under root's .github/workflows/ that upload a distribution, as repository paths.

    Every one of them is a way to publish, so preflight audits them all, not
    only the one PyPI trusts; the test is the one the rules use for a publish job.
    """
    folder = root / WORKFLOWS_DIR
    files = _workflow_files(folder) if folder.is_dir() else []
    return [path.relative_to(root).as_posix() for path in files if Workflow.load(path).publish_jobs]


def discover_publish_workflow(root: Path) -> str | None:
    """The one workflow that publishes, when [publish] workflow does not name it; None when none does.

    Guessing between several would audit and register the wrong file with
    PyPI, so several are a ConfigError naming them.
    """
    found = publishing_workflows(root)
    if len(found) > 1:
        raise ConfigError(
            f"several workflows publish ({', '.join(found)}); set [publish] workflow in release.toml "
            "to the one registered as the Trusted Publisher on PyPI"
        )
    return found[0] if found else None


def starts(path: Path, tag_format: str) -> frozenset[str]:
    """What starts this workflow of what ends a release: TAG, pushing a tag the format makes
    (its final form, as tag-mismatch tests it), and RELEASE, publishing a GitHub Release."""
    triggers = Workflow.load(path).triggers
    found = set()
    if tag_pushes(triggers, tag_format.replace("{version}", "1.2.3")):
        found.add(TAG)
    if release_publishes(triggers):
        found.add(RELEASE)
    return frozenset(found)


def _collect(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(_workflow_files(path))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    if not files:
        raise UsageError(f"no workflow files (*.yml, *.yaml) in {', '.join(str(p) for p in paths) or 'nothing'}")
    return files


def _workflow_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.suffix in {".yml", ".yaml"} and path.is_file())


RULES: tuple[Rule, ...] = (
    *triggers.RULES,
    *injection.RULES,
    *permissions.RULES,
    *publishing.RULES,
    *supply_chain.RULES,
)
