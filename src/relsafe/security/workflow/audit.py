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

from relsafe.core.errors import UsageError
from relsafe.journal.runlog import RunLog
from relsafe.model.publish_workflow import tag_pattern
from relsafe.security.workflow import (
    actions,
    branch_secrets,
    indirection,
    injection,
    permissions,
    publishing,
    supply_chain,
    triggers,
)
from relsafe.security.workflow.model import Rule, Settings, Workflow, release_publishes, tag_pushes
from relsafe.security.workflow.ownership import (
    WORKFLOWS_DIR,
    PublishPath,
    discover_publish_workflow,
    ownership_findings,
    publishing_workflows,
    workflow_files,
)
from relsafe.security.workflow.report import AuditReport, ignored, merged, zizmor_findings
from relsafe.security.workflow.spans import step_spans
from relsafe.tools import zizmor

__all__ = [
    "RELEASE",
    "TAG",
    "WORKFLOWS_DIR",
    "audit_workflows",
    "discover_publish_workflow",
    "publishing_workflows",
    "starts",
]

TAG, RELEASE = "tag", "release"  # what can start the publish run of a release (see `starts`)


def audit_workflows(
    paths: Sequence[Path],
    *,
    environment: str | None = "pypi",
    tag_format: str = "v{version}",
    log: RunLog,
    use_zizmor: bool = True,
    publish_path: PublishPath | None = None,
    root: Path | None = None,
    zizmor_ahead: zizmor.Ahead | None = None,
) -> AuditReport:
    """Audit workflow and action files, or the *.yml and *.yaml files in directories, and report every finding.

    The local actions the workflows use (`uses: ./path`) are audited too, once
    each, with the strict rules when a workflow that can publish uses them.

    environment is the GitHub environment PyPI's publisher names (None: not
    configured, so the one the workflow uses is taken as registered); tag_format the
    release tags relsafe pushes. With publish_path (and the repository's root)
    the audit also checks who owns the publish path: the trusted workflow is
    relsafe's rendering (or, audit-only, unproven) and no other can publish to
    PyPI. Raises UsageError for a missing path, no workflow at all, or a file
    that is not a readable workflow or action.

    zizmor runs beside relsafe's rules; `zizmor_ahead` is a run started
    earlier, taken when it audits exactly the files this audit does.
    """
    tag_pattern(tag_format)  # rejects a format without {version}
    files = _collect(paths)
    loaded = [_load(path) for path in files]
    workflows = [workflow for workflow, is_action in loaded if not is_action]
    used = actions.local_actions(workflows, files)
    defined = [workflow for workflow, is_action in loaded if is_action] + used
    files += [Path(action.path) for action in used]
    run = None
    if use_zizmor:
        taken = zizmor_ahead is not None and zizmor_ahead.paths == tuple(files)
        run = zizmor_ahead if taken else zizmor.Ahead(files, log=log)
    settings = Settings(environment, tag_format)
    findings = [finding for workflow in workflows for rule in RULES for finding in rule(workflow, settings)]
    findings += [finding for action in defined for rule in actions.ACTION_RULES for finding in rule(action, settings)]
    if publish_path is not None and root is not None:
        findings.extend(ownership_findings(workflows, publish_path, root))
    workflows += defined
    status = "zizmor skipped"
    if run is not None:
        can_publish = {workflow.path for workflow in workflows if workflow.publishing}
        status, extra = zizmor_findings(run, can_publish)
        findings.extend(extra)
    lines = {workflow.path: workflow.lines for workflow in workflows}
    steps = {workflow.path: step_spans(workflow) for workflow in workflows}
    kept = [
        finding
        for finding in merged(findings, steps)
        if not ignored(finding, lines.get(finding.path, []), steps.get(finding.path))
    ]
    kept.sort(key=lambda f: (f.path, f.line, f.source, f.rule))
    return AuditReport(findings=kept, zizmor_status=status)


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


def _load(path: Path) -> tuple[Workflow, bool]:
    """The workflow or action definition (named action.yml/action.yaml, or with `runs:` and no `jobs:`) in a
    file, and whether it is an action."""
    if actions.is_action_file(path):
        return actions.load_action(path), True
    try:
        return Workflow.load(path), False
    except UsageError:
        if actions.is_action_document(path):
            return actions.load_action(path), True
        raise


def _collect(paths: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(workflow_files(path))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path}: no such file or directory")
    if not files:
        raise UsageError(f"no workflow files (*.yml, *.yaml) in {', '.join(str(p) for p in paths) or 'nothing'}")
    return files


RULES: tuple[Rule, ...] = (
    *triggers.RULES,
    *injection.RULES,
    *permissions.RULES,
    *publishing.RULES,
    *supply_chain.RULES,
    *indirection.RULES,
    *branch_secrets.RULES,
    *actions.RULES,
)
