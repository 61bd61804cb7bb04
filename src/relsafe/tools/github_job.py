"""A publish workflow's jobs, run here the way GitHub's runner runs them after the release tag is pushed.

A rehearsal's pushed tag starts no workflow, so the rehearsal runs the
committed workflow's jobs itself: every job the publish job needs, in order,
and the publish job's own steps up to the one that uploads, which never runs.
`run:` steps run as written, with bash (or the step's shell), the job's and
the step's `env:`, the GitHub variables a runner sets, and `${{ … }}`
evaluated (tools.github_expression). Four actions are emulated, and said to
be: actions/checkout (a fresh repository fetching the tag's commit from the
remote, the tag left lightweight as checkout leaves it), upload-artifact and
download-artifact (a folder per artifact) and setup-python (this machine's
python3). Any other action, a matrix, a container, a condition or value the
rehearsal cannot know: the run stops there, and says so, rather than guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from relsafe.journal.runlog import RunLog
from relsafe.tools import process
from relsafe.tools.github_expression import (
    Contexts,
    Status,
    Unknown,
    as_text,
    condition,
    expand,
)
from relsafe.tools.github_job_steps import JobRun
from relsafe.tools.github_job_types import JobFailed, JobsReport, PublishStep, Stop, Trigger, needs_of


def run_publish_jobs(
    text: str, publish_steps: list[PublishStep], trigger: Trigger, folder: Path, log: RunLog
) -> JobsReport:
    """Run the jobs the publish steps' jobs need, then those jobs up to their publish step.

    Raises JobFailed when the workflow would not reach a publish step (a step
    failed, a job's `if:` is false); returns what ran otherwise, with
    `stopped` set when something could not be emulated.
    """
    doc = YAML(typ="safe", pure=True).load(text)
    jobs: dict[str, Any] = {str(key): value for key, value in (doc.get("jobs") or {}).items()}
    targets = {step.job: step for step in publish_steps}
    report = JobsReport()
    run = WorkflowRun(doc, jobs, trigger, folder, log, report)
    try:
        for job_id in _order(jobs, targets):
            run.job(job_id, targets.get(job_id))
    except Stop as stop:
        report.stopped = str(stop)
        return report
    for job_id, step in targets.items():
        if run.results.get(job_id) != "success" or job_id not in run.reached:
            raise JobFailed(f"the publish workflow would not publish: {run.why_not(job_id)}", details=run.failed_tail)
        if step.packages_dir is not None:
            packages = run.workspace(job_id) / step.packages_dir
            found = sorted(path for path in packages.iterdir() if path.is_file()) if packages.is_dir() else []
            report.packages = {path.name: path for path in found}
    return report


def _order(jobs: Mapping[str, Any], targets: Iterable[str]) -> list[str]:
    """The targets and every job they need, each after the jobs it needs, otherwise in the file's order."""
    wanted: set[str] = set()
    pending = list(targets)
    while pending:
        job_id = pending.pop()
        if job_id in wanted or job_id not in jobs:
            continue
        wanted.add(job_id)
        pending.extend(needs_of(jobs[job_id]))
    ordered: list[str] = []
    while len(ordered) < len(wanted):
        ready = [j for j in jobs if j in wanted and j not in ordered and set(needs_of(jobs[j])) <= set(ordered)]
        if not ready:
            raise Stop("the jobs' `needs:` form a cycle")
        ordered.append(ready[0])
    return ordered


class WorkflowRun:
    """One run of the workflow: job results and outputs, artifacts, and the report."""

    def __init__(
        self, doc: Any, jobs: dict[str, Any], trigger: Trigger, folder: Path, log: RunLog, report: JobsReport
    ) -> None:
        self.doc, self.jobs, self.trigger, self.folder, self.log, self.report = doc, jobs, trigger, folder, log, report
        self.results: dict[str, str] = {}
        self.outputs: dict[str, dict[str, str]] = {}
        self.skipped: dict[str, str] = {}
        self.reached: set[str] = set()
        self.failed: dict[str, str] = {}
        self.failed_tail: list[str] = []
        self.artifacts = folder / "artifacts"
        self.artifacts.mkdir(parents=True, exist_ok=True)

    def workspace(self, job_id: str) -> Path:
        return self.folder / "jobs" / job_id / "workspace"

    def why_not(self, job_id: str) -> str:
        if job_id in self.failed:
            return self.failed[job_id]
        if job_id in self.skipped:
            return f"the publish job `{job_id}` would not run: {self.skipped[job_id]}"
        return f"the publish job `{job_id}` did not reach its upload"

    # -- contexts --------------------------------------------------------------------------------------------

    def contexts(self, env: Mapping[str, str], steps: Mapping[str, Any], job_id: str) -> Contexts:
        trigger = self.trigger
        github = {
            "event_name": trigger.event,
            "ref": f"refs/tags/{trigger.tag}",
            "ref_name": trigger.tag,
            "ref_type": "tag",
            "sha": trigger.commit,
            "repository": trigger.repository,
            "repository_owner": trigger.repository.partition("/")[0],
            "workspace": str(self.workspace(job_id)),
            "job": job_id,
            "event": {"ref": f"refs/tags/{trigger.tag}", "after": trigger.commit}
            if trigger.event == "push"
            else {"release": {"tag_name": trigger.tag}},
        }
        needs = {
            need: {"result": self.results.get(need, "skipped"), "outputs": self.outputs.get(need, {})}
            for need in needs_of(self.jobs.get(job_id, {}))
        }
        values = {
            "github": github,
            "env": dict(env),
            "steps": dict(steps),
            "needs": needs,
            "runner": {"os": "Linux", "arch": "X64", "temp": str(self.temp(job_id)), "name": "relsafe rehearsal"},
            "job": {"status": "success"},
            "secrets": {},
            "vars": {},
            "inputs": {},
        }

        def read(path: str) -> None:
            if path.startswith(("secrets.", "vars.")) and path not in self.report.empty_reads:
                self.report.empty_reads.append(path)

        return Contexts(values, unknown_below=frozenset({"github.event"}), on_read=read)

    def temp(self, job_id: str) -> Path:
        return self.folder / "jobs" / job_id / "temp"

    def evaluated(self, mapping: Any, env: dict[str, str], steps: Mapping[str, Any], job_id: str) -> dict[str, str]:
        """An `env:` map evaluated in order (a later value may read `env.X` of the same map's context before it)."""
        result = dict(env)
        for name, value in (mapping or {}).items() if isinstance(mapping, dict) else []:
            try:
                result[str(name)] = expand(as_text(value), self.contexts(result, steps, job_id))
            except Unknown as error:
                raise Stop(f"job `{job_id}`: `env: {name}` cannot be evaluated here: {error}") from None
        return result

    # -- jobs ------------------------------------------------------------------------------------------------

    def job(self, job_id: str, publish: PublishStep | None) -> None:
        job = self.jobs[job_id]
        needs = needs_of(job)
        status = Status(
            success=all(self.results.get(need) == "success" for need in needs),
            failure=any(self.results.get(need) == "failure" for need in needs),
        )
        env = self.evaluated(self.doc.get("env"), {}, {}, job_id)
        try:
            runs = condition(job.get("if"), self.contexts(env, {}, job_id), status)
        except Unknown as error:
            raise Stop(f"job `{job_id}`: its `if: {job.get('if')}` cannot be evaluated here: {error}") from None
        if not runs:
            self.results[job_id] = "skipped"
            if "if" in job and status.success:
                self.skipped[job_id] = f"its `if: {job['if']}` is false when {self.trigger.tag} is pushed"
            else:
                unmet = [need for need in needs if self.results.get(need) != "success"]
                self.skipped[job_id] = f"job(s) it needs did not succeed ({', '.join(unmet)})"
                for need in unmet:
                    if need in self.failed:
                        self.failed[job_id] = self.failed[need]
            return
        for key in ("uses", "strategy", "container", "services"):
            if key in job:
                raise Stop(f"job `{job_id}` has `{key}:`, which a rehearsal does not emulate")
        env = self.evaluated(job.get("env"), env, {}, job_id)
        JobRun(self, job_id, job, env, publish).run()

    def record_failure(self, job_id: str, label: str, output: str, code: int | None = None) -> None:
        """A step failed: its job's reason is the step's last `::error::` line, else its last line of output."""
        lines = [line.removeprefix("::error::") for line in output.splitlines() if line.strip()]
        errors = [line for line in output.splitlines() if line.startswith("::error::")]
        last = errors[-1].removeprefix("::error::") if errors else (lines[-1] if lines else "no output")
        exit_code = f" (exit {code})" if code is not None else ""
        self.failed[job_id] = f"job `{job_id}` failed at {label}{exit_code}: {last}"
        self.failed_tail = [line for line in process.error_tail("\n".join(lines), 8) if line != last]
