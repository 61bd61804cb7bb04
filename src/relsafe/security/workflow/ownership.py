"""Who owns the publish path: the workflow PyPI trusts is relsafe's rendering for release.toml, exactly, and no
other workflow can publish to PyPI.

relsafe renders the workflow it registers as the Trusted Publisher
(relsafe.model.publish_workflow); the committed file must be that rendering,
byte for byte or as a YAML document that differs only in comments and
formatting. Any other difference (a step added, another staging index, a
guard) is a drift, described in one line and shown as a diff. Every other
workflow that can upload to PyPI is a second path around the release's checks.

A project that keeps a workflow of its own says so (`[publish] workflow-check =
"audit-only"`): relsafe audits it and claims nothing about what it publishes.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from relsafe.core.errors import ConfigError, UsageError
from relsafe.model.config import Config
from relsafe.model.publish_workflow import (
    DEFAULT_WORKFLOW,
    FOREIGN_WORKFLOW_HINT,
    render_publish_workflow,
    written_by_relsafe,
)
from relsafe.security.workflow.model import Workflow, item_line, job_steps, key_line, targets_pypi
from relsafe.security.workflow.report import ERROR, WARNING, Finding
from relsafe.security.workflow.uploads import publishing_reason

WORKFLOWS_DIR = ".github/workflows"
EXACT, AUDIT_ONLY = "exact", "audit-only"
UPDATE = "`relsafe init --update` rewrites it from release.toml; commit it"
AUDIT_FIX = "run `relsafe audit` for how to fix each workflow finding"
UNPROVEN = (
    'relsafe cannot prove what {workflow} will publish: [publish] workflow-check = "audit-only" keeps the '
    "project's own workflow, which relsafe audits but did not write"
)
MAX_DIFF_LINES = 60
_SHORT = 70  # characters of a value quoted in a one-line reason


@dataclass(frozen=True)
class PublishPath:
    """The workflow PyPI trusts for this project, and what relsafe requires of it."""

    workflow: str | None
    """Its path in the repository; None when [publish] workflow-check = "audit-only" found none that publishes."""
    check: str
    """EXACT: relsafe's rendering, `rendered`; AUDIT_ONLY: the project's own, audited only."""
    rendered: str | None = None

    @property
    def owned(self) -> bool:
        return self.check == EXACT

    def unproven(self) -> str:
        """The warning an audit-only release carries everywhere it would otherwise say what is published."""
        return UNPROVEN.format(workflow=self.workflow or "the publish workflow")


def expected_workflow(config: Config, project: str, tag_format: str) -> str:
    """relsafe's workflow for this configuration: what `relsafe init` writes and preflight requires."""
    return render_publish_workflow(
        project=project,
        tag_format=tag_format,
        environment=config.publish_environment,
        staging_index_url=config.staging_index_url if "stage" in config.steps else None,
        trigger=config.publish_trigger,
    )


def publish_path(root: Path, config: Config, project: str, tag_format: str) -> PublishPath:
    """The workflow PyPI trusts: [publish] workflow, else relsafe's own file; with workflow-check = "audit-only"
    the project's one publishing workflow when [publish] workflow does not name it (several: ConfigError)."""
    if config.publish_workflow_check == AUDIT_ONLY:
        return PublishPath(config.publish_workflow or discover_publish_workflow(root), AUDIT_ONLY)
    workflow = config.publish_workflow or DEFAULT_WORKFLOW
    return PublishPath(workflow, EXACT, expected_workflow(config, project, tag_format))


def publishing_workflows(root: Path) -> list[str]:
    """The workflows under root's .github/workflows/ that upload a distribution, as repository paths."""
    folder = root / WORKFLOWS_DIR
    files = workflow_files(folder) if folder.is_dir() else []
    return [path.relative_to(root).as_posix() for path in files if Workflow.load(path).publish_jobs]


def discover_publish_workflow(root: Path) -> str | None:
    """The one workflow that publishes, for an audit-only project whose [publish] workflow does not name it;
    None when none does. Several are a ConfigError naming them: guessing would audit the wrong file."""
    found = publishing_workflows(root)
    if len(found) > 1:
        raise ConfigError(
            f"several workflows publish ({', '.join(found)}); set [publish] workflow in release.toml "
            "to the one registered as the Trusted Publisher on PyPI"
        )
    return found[0] if found else None


def workflow_files(folder: Path) -> list[Path]:
    return sorted(path for path in folder.iterdir() if path.suffix in {".yml", ".yaml"} and path.is_file())


# -- the committed file against the rendering ---------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """How a committed workflow differs from relsafe's rendering."""

    reason: str
    """The first difference, in one line: where in the document, what the file has and what relsafe writes."""
    where: tuple[str | int, ...]
    """The keys and item indexes leading to it, for its line in the file."""
    diff: list[str]
    """A unified diff from the committed file to the rendering, cut to MAX_DIFF_LINES."""


def drift(committed: str, rendered: str, name: str) -> Drift | None:
    """None when the committed text is the rendering: the same bytes, or the same YAML document (comments,
    quoting, indentation and flow style aside); else what differs."""
    if committed == rendered:
        return None
    expected = _document(rendered)
    try:
        found = _document(committed)
    except YAMLError as error:
        return Drift(
            f"it is not valid YAML ({' '.join(str(error).split())[:_SHORT]})", (), _diff(committed, rendered, name)
        )
    if found == expected:
        return None
    where, reason = _first_difference(found, expected, ())
    return Drift(reason, where, _diff(committed, rendered, name))


def drift_line(workflow: Workflow, where: Sequence[str | int]) -> int:
    """The line of the file where the difference is, as near as the document says (1 when it cannot say)."""
    node: Any = workflow.doc
    line = 1
    for key in where:
        if isinstance(key, int) and isinstance(node, list) and key < len(node):
            line, node = item_line(node, key, line), node[key]
        elif isinstance(node, dict) and key in node:
            line, node = key_line(node, key, line), node[key]
        else:
            break
    return line


def _document(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def _diff(committed: str, rendered: str, name: str) -> list[str]:
    lines = list(
        difflib.unified_diff(
            committed.splitlines(),
            rendered.splitlines(),
            f"{name} (committed)",
            "relsafe's rendering",
            n=1,
            lineterm="",
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        left = len(lines) - MAX_DIFF_LINES
        lines = [*lines[:MAX_DIFF_LINES], f"… {left} more line(s) of diff"]
    return lines


def _path(where: tuple[str | int, ...]) -> str:
    text = ""
    for key in where:
        text += f"[{key + 1}]" if isinstance(key, int) else (f".{key}" if text else str(key))
    return text or "the document"


def _short(value: Any) -> str:
    if isinstance(value, dict) and ("uses" in value or "run" in value):  # a step: what it does
        value = {key: value[key] for key in ("uses", "run") if key in value}
        text = "; ".join(f"{key}: {' '.join(str(item).split())}" for key, item in value.items())
    elif isinstance(value, str):
        text = " ".join(value.split())
    else:
        text = json.dumps(value, default=str, sort_keys=True)
    return f"`{text[:_SHORT]}{'…' if len(text) > _SHORT else ''}`"


def _first_difference(found: Any, expected: Any, where: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], str]:
    """The first place, in the rendering's order, where the committed document differs, and how."""
    if isinstance(found, dict) and isinstance(expected, dict):
        for key, value in expected.items():
            if key not in found:
                return where, f"{_path((*where, key))} is missing (relsafe writes {_short(value)})"
            if found[key] != value:
                return _first_difference(found[key], value, (*where, key))
        extra = next(key for key in found if key not in expected)
        return (*where, extra), f"{_path((*where, extra))} was added: {_short(found[extra])}"
    if isinstance(found, list) and isinstance(expected, list):
        return _first_list_difference(found, expected, where)
    if isinstance(found, str) and isinstance(expected, str) and "\n" in found + expected:
        return where, _text_difference(found, expected, where)
    return where, f"{_path(where)} is {_short(found)} where relsafe writes {_short(expected)}"


def _first_list_difference(found: list[Any], expected: list[Any], where: tuple[str | int, ...]) -> tuple[Any, str]:
    keys = [json.dumps(item, sort_keys=True, default=str) for item in found]
    wanted = [json.dumps(item, sort_keys=True, default=str) for item in expected]
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, keys, wanted, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if tag == "delete":
            return (*where, i1), f"{_path((*where, i1))} was added: {_short(found[i1])}"
        if tag == "insert":
            return where, f"{_path((*where, j1))} is missing (relsafe writes {_short(expected[j1])})"
        if i2 - i1 == j2 - j1:
            return _first_difference(found[i1], expected[j1], (*where, i1))
        return (*where, i1), f"{_path((*where, i1))} is {_short(found[i1])} where relsafe writes {_short(expected[j1])}"
    return where, f"{_path(where)} differs"  # pragma: no cover - equal lists are not compared


def _text_difference(found: str, expected: str, where: tuple[str | int, ...]) -> str:
    """A script's first differing line."""
    ours, theirs = found.splitlines(), expected.splitlines()
    for number, (line, wanted) in enumerate(zip(ours, theirs, strict=False), start=1):
        if line != wanted:
            return f"{_path(where)}, line {number}, is {_short(line)} where relsafe writes {_short(wanted)}"
    if len(ours) > len(theirs):
        return f"{_path(where)}, line {len(theirs) + 1}, was added: {_short(ours[len(theirs)])}"
    return f"{_path(where)} ends at line {len(ours)}; relsafe writes on: {_short(theirs[len(ours)])}"


# -- findings for the audit ------------------------------------------------------------------------------------


def ownership_findings(workflows: Sequence[Workflow], path: PublishPath, root: Path) -> list[Finding]:
    """What the publish path's owner finds in the audited workflows: the trusted one not relsafe's rendering (or,
    audit-only, unproven), and any other that can publish to PyPI."""
    findings: list[Finding] = []
    for workflow in workflows:
        shown = _relative(workflow.path, root)
        if shown == path.workflow:
            findings.extend(_trusted_findings(workflow, path, shown))
        else:
            findings.extend(second_paths(workflow, path))
    return findings


def _trusted_findings(workflow: Workflow, path: PublishPath, shown: str) -> list[Finding]:
    if not path.owned:
        return [
            workflow.finding(
                "unproven-publish",
                WARNING,
                1,
                path.unproven(),
                'Let relsafe own the publish path: remove workflow-check = "audit-only", run '
                "`relsafe init --update` and register the workflow it writes on PyPI.",
            )
        ]
    assert path.rendered is not None
    committed = Path(workflow.path).read_text(encoding="utf-8")
    found = drift(committed, path.rendered, shown)
    if found is None:
        return []
    fix = (
        "Run `relsafe init --update`, which rewrites it from release.toml, and commit it (a release's refusal "
        'shows the whole diff). To keep a workflow of your own, set [publish] workflow-check = "audit-only".'
    )
    if not written_by_relsafe(committed):
        fix = f"It is the project's own workflow, which relsafe never rewrites: {FOREIGN_WORKFLOW_HINT}."
    return [
        workflow.finding(
            "publish-workflow-differs",
            ERROR,
            drift_line(workflow, found.where),
            f"this is not relsafe's workflow for release.toml: {found.reason}",
            fix,
        )
    ]


def second_paths(workflow: Workflow, path: PublishPath) -> list[Finding]:
    """A workflow besides the trusted one that can upload to PyPI: each publishing job, named by its line."""
    findings = []
    trusted = path.workflow or "the publish workflow"
    for job_id in sorted(workflow.publish_jobs | workflow.calls_publish):
        job = workflow.jobs[job_id]
        if job_id in workflow.publish_jobs and not targets_pypi(job):
            continue  # TestPyPI only: not a way to PyPI
        findings.append(
            workflow.finding(
                "second-publish-path",
                ERROR,
                workflow.job_line(job_id),
                f"a second path to PyPI: job `{job_id}` {_how(workflow, job)}, beside {trusted}, which PyPI "
                "trusts; an upload from here goes around the release's checks",
                f"Remove the upload from this workflow; only {trusted} publishes. To publish from this workflow "
                'instead, name it in [publish] workflow with workflow-check = "audit-only".',
            )
        )
    return findings


def _how(workflow: Workflow, job: Any) -> str:
    for step in job_steps(job):
        reason = publishing_reason(step, workflow.root)
        if reason:
            return reason
    uses = job.get("uses")
    if isinstance(uses, str):
        return f"calls {uses}, which publishes"
    return "is handed an upload credential"


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path


def owned_text(root: Path, path: PublishPath) -> str | None:
    """The trusted workflow's text in the working tree, or None when there is none."""
    if path.workflow is None:
        return None
    file = root / path.workflow
    try:
        return file.read_text(encoding="utf-8") if file.is_file() else None
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"{path.workflow}: cannot read: {error}") from error


# -- the check a release makes ---------------------------------------------------------------------------------


@dataclass
class PathCheck:
    """What a release finds about its publish path: reasons to refuse, the diff behind them, and warnings."""

    reasons: list[str]
    details: list[str]
    warnings: list[str]


def check_publish_path(
    root: Path, path: PublishPath, committed: str | None, commit: str, *, configured: bool, others: bool = True
) -> PathCheck:
    """The trusted workflow as committed at `commit` (its text, None when the commit has no such file) against
    relsafe's rendering, and with `others` every other workflow in root's .github/workflows/ that can publish to
    PyPI. `configured` says whether [publish] workflow names the file, for the message when it is missing."""
    found = PathCheck([], [], [])
    where = f"at {commit[:12]}"
    if path.workflow is None:
        found.reasons.append(
            f"no publish workflow: none under {WORKFLOWS_DIR}/ publishes to PyPI ([publish] workflow is not set); "
            'name the project\'s own in [publish] workflow, or remove workflow-check = "audit-only" and run '
            "`relsafe init`"
        )
    elif committed is None:
        unset = "" if configured else " ([publish] workflow is not set)"
        found.reasons.append(f"no publish workflow at {path.workflow} {where}{unset}; run `relsafe init`")
    elif path.owned:
        assert path.rendered is not None
        differs = drift(committed, path.rendered, path.workflow)
        if differs is not None:
            found.reasons.append(
                f"{path.workflow} {where} is not relsafe's workflow for release.toml: {differs.reason}; "
                + (UPDATE if written_by_relsafe(committed) else FOREIGN_WORKFLOW_HINT)
            )
            found.details.extend(differs.diff)
    else:
        found.warnings.append(path.unproven())
    folder = root / WORKFLOWS_DIR
    if others and folder.is_dir():
        for file in workflow_files(folder):
            shown = file.relative_to(root).as_posix()
            if shown == path.workflow:
                continue
            for finding in second_paths(Workflow.load(file), path):
                found.reasons.append(f"{shown}:{finding.line}: {finding.rule}: {finding.message}")
                if AUDIT_FIX not in found.details:
                    found.details.append(AUDIT_FIX)
    return found
