"""The committed publish workflow, run where the rehearsal can see it: what it proves the tag would publish.

A pushed rehearsal tag starts no workflow. So the workflow file as committed
at the release commit (never the bundled template) runs here: the jobs its
publish job needs, then the publish job up to the step that uploads
(tools.github_job), against the rehearsal's remote, with the configured
staging index's URL standing for the embedded index that stood in for it.
The files the upload step would get are then compared, name and sha256, with
the files the release tested.

What is claimed depends on who owns the workflow: relsafe's own rendering
(checked unchanged at preflight) that hands the upload exactly the tested
files is said to; a project's own workflow (workflow-check = "audit-only")
only ever gets a description of what ran, with the warning that relsafe
cannot prove what it publishes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from relsafe.core.errors import StepFailed
from relsafe.journal.runlog import RunLog
from relsafe.security.workflow.model import Workflow, job_steps, targets_pypi
from relsafe.security.workflow.ownership import UNPROVEN
from relsafe.security.workflow.uploads import is_publish_action, publishing_reason
from relsafe.tools import github_job
from relsafe.tools.github_job_types import PublishStep, Trigger


@dataclass(frozen=True)
class PublishRun:
    summary: str
    """The verdict, one line."""
    notes: list[str]
    """How it was reached: each job's steps run and actions emulated, what did not run, what stood in."""


def run_committed_workflow(
    *,
    text: str,
    workflow: str,
    root: Path,
    owned: bool,
    trigger: Trigger,
    stand_ins: Mapping[str, str],
    tested: Mapping[str, str],
    folder: Path,
    log: RunLog,
) -> PublishRun:
    """Run the committed workflow's jobs up to the upload and judge what the upload step would get.

    `stand_ins` maps a URL the workflow names (the configured staging index)
    to the one the rehearsal used instead; `tested` the name of every tested
    file to its sha256. Raises StepFailed when the workflow would publish
    nothing or other files, or (for relsafe's own workflow) when the run could
    not be completed.
    """
    notes: list[str] = []
    for real, stand_in in stand_ins.items():
        if real != stand_in and real in text:
            text = text.replace(real, stand_in)
            notes.append(f"{real} in {workflow} stood for {stand_in}, where the rehearsal staged")
    parsed = Workflow.parse(text, workflow, root)
    steps = publish_steps(parsed)
    if not steps:
        raise StepFailed(
            f"{workflow}, as committed, has no job that uploads to PyPI: pushing the tag publishes nothing"
        )
    report = github_job.run_publish_jobs(text, steps, trigger, folder, log)
    notes += [f"ran {line}" for line in report.ran]
    notes += [f"not run: {line}" for line in report.not_run]
    if report.empty_reads:
        notes.append(f"empty here, as unset on GitHub: {', '.join(report.empty_reads)}")
    caveat = UNPROVEN.format(workflow=workflow)
    if report.stopped is not None:
        notes.append(f"stopped: {report.stopped}")
        if owned:
            raise StepFailed(
                f"the rehearsal could not run {workflow} to its upload: {report.stopped}; nothing was proved "
                "about what it publishes"
            )
        return PublishRun(f"{workflow} ran here only until {report.stopped}; {caveat}", notes)
    described = "; ".join(step.described for step in steps)
    if report.packages is None:
        ran = f"{workflow}'s jobs ran here as committed up to the upload; what it uploads ({described}) was not checked"
        return PublishRun(ran if owned else f"{ran}; {caveat}", notes)
    problems = _compared({name: _sha256(path) for name, path in report.packages.items()}, tested)
    if problems:
        raise StepFailed(
            f"{workflow}, run here as committed, would upload files that were not tested: {problems[0]}",
            details=problems,
        )
    if owned:
        return PublishRun(
            f"{workflow}, run here as committed, hands its upload exactly the tested files "
            f"({len(tested)} file(s)); the upload itself was not run",
            notes,
        )
    return PublishRun(
        f"{workflow}'s jobs ran here as committed; in this run its upload step would get the {len(tested)} "
        f"file(s) the release built; {caveat}",
        notes,
    )


def publish_steps(workflow: Workflow) -> list[PublishStep]:
    """Each job that uploads to PyPI, and its first step that does (with what it uploads, when that is known)."""
    found = []
    for job_id in sorted(workflow.publish_jobs | workflow.calls_publish):
        job = workflow.jobs[job_id]
        if job_id in workflow.publish_jobs and not targets_pypi(job):
            continue
        steps = job_steps(job)
        index, described, packages = 0, "holds an upload credential", None
        for position, step in enumerate(steps):
            reason = publishing_reason(step, workflow.root)
            if reason is not None:
                index, described = position, reason
                if is_publish_action(step):
                    with_ = step.get("with")
                    packages = str(with_.get("packages-dir", "dist/")) if isinstance(with_, dict) else "dist/"
                break
        if isinstance(job.get("uses"), str):
            described = f"calls {job['uses']}"
        found.append(PublishStep(job_id, index, described, packages))
    return found


def _compared(found: Mapping[str, str], tested: Mapping[str, str]) -> list[str]:
    problems = []
    for name, digest in sorted(found.items()):
        if name not in tested:
            problems.append(f"{name}, which the release did not build")
        elif digest != tested[name]:
            problems.append(f"{name} with sha256 {digest}, not the tested {tested[name]}")
    problems += [f"not {name}, which was tested" for name in sorted(set(tested) - set(found))]
    return problems


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
