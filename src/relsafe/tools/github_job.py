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

import fnmatch
import os
import re
import shlex
import shutil
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from relsafe.core.errors import StepFailed, ToolFailed
from relsafe.journal.runlog import RunLog
from relsafe.tools import process
from relsafe.tools.github_expression import Contexts, Status, Unknown, as_text, condition, expand

EMULATED = ("actions/checkout", "actions/upload-artifact", "actions/download-artifact", "actions/setup-python")
STEP_TIMEOUT = 30 * 60.0  # seconds: a step without timeout-minutes gets this much here
_CHECKOUT_INPUTS = frozenset({"persist-credentials", "fetch-depth", "fetch-tags", "clean", "show-progress"})
_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Trigger:
    """What starts the run: the event (`push` of the tag, or `release`), the tag, its commit, the repository."""

    event: str
    tag: str
    commit: str
    remote_url: str
    repository: str = ""


@dataclass(frozen=True)
class PublishStep:
    """Where a publish job uploads: that step, and every step after it, is not run."""

    job: str
    index: int
    described: str
    packages_dir: str | None = None
    """The folder the step uploads from, relative to the job's workspace; None when it cannot be known (a script)."""


class JobFailed(StepFailed):
    """The run shows the workflow would not publish: a job failed, or the publish job would not start."""


@dataclass
class JobsReport:
    """What the run proved, and how."""

    ran: list[str] = field(default_factory=list)
    """One line per job: the steps that ran and the actions emulated."""
    not_run: list[str] = field(default_factory=list)
    """What did not run, and why (the upload always; what the rehearsal could not emulate)."""
    stopped: str | None = None
    """Why the run could not go on: nothing was proved past that point."""
    packages: dict[str, Path] | None = None
    """The files the publish step would upload, by name; None when that is not known."""
    empty_reads: list[str] = field(default_factory=list)
    """`secrets.X` and `vars.X` read: empty here, as on GitHub when they are not set."""


class _Stop(Exception):
    """The run cannot go on honestly from here."""


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
    run = _Run(doc, jobs, trigger, folder, log, report)
    try:
        for job_id in _order(jobs, targets):
            run.job(job_id, targets.get(job_id))
    except _Stop as stop:
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
        pending.extend(_needs(jobs[job_id]))
    ordered: list[str] = []
    while len(ordered) < len(wanted):
        ready = [j for j in jobs if j in wanted and j not in ordered and set(_needs(jobs[j])) <= set(ordered)]
        if not ready:
            raise _Stop("the jobs' `needs:` form a cycle")
        ordered.append(ready[0])
    return ordered


def _needs(job: Any) -> list[str]:
    needs = job.get("needs") if isinstance(job, dict) else None
    return [needs] if isinstance(needs, str) else [str(item) for item in needs or []]


def _action(uses: str) -> str:
    return uses.partition("@")[0].lower()


class _Run:
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
            for need in _needs(self.jobs.get(job_id, {}))
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
                raise _Stop(f"job `{job_id}`: `env: {name}` cannot be evaluated here: {error}") from None
        return result

    # -- jobs ------------------------------------------------------------------------------------------------

    def job(self, job_id: str, publish: PublishStep | None) -> None:
        job = self.jobs[job_id]
        needs = _needs(job)
        status = Status(
            success=all(self.results.get(need) == "success" for need in needs),
            failure=any(self.results.get(need) == "failure" for need in needs),
        )
        env = self.evaluated(self.doc.get("env"), {}, {}, job_id)
        try:
            runs = condition(job.get("if"), self.contexts(env, {}, job_id), status)
        except Unknown as error:
            raise _Stop(f"job `{job_id}`: its `if: {job.get('if')}` cannot be evaluated here: {error}") from None
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
                raise _Stop(f"job `{job_id}` has `{key}:`, which a rehearsal does not emulate")
        env = self.evaluated(job.get("env"), env, {}, job_id)
        _JobRun(self, job_id, job, env, publish).run()

    def record_failure(self, job_id: str, label: str, output: str, code: int | None = None) -> None:
        """A step failed: its job's reason is the step's last `::error::` line, else its last line of output."""
        lines = [line.removeprefix("::error::") for line in output.splitlines() if line.strip()]
        errors = [line for line in output.splitlines() if line.startswith("::error::")]
        last = errors[-1].removeprefix("::error::") if errors else (lines[-1] if lines else "no output")
        exit_code = f" (exit {code})" if code is not None else ""
        self.failed[job_id] = f"job `{job_id}` failed at {label}{exit_code}: {last}"
        self.failed_tail = [line for line in process.error_tail("\n".join(lines), 8) if line != last]


class _JobRun:
    """The steps of one job, in a fresh workspace."""

    def __init__(self, run: _Run, job_id: str, job: Any, env: dict[str, str], publish: PublishStep | None) -> None:
        self.run_, self.job_id, self.job, self.env, self.publish = run, job_id, job, env, publish
        self.workspace, self.temp = run.workspace(job_id), run.temp(job_id)
        self.home = run.folder / "jobs" / job_id / "home"
        for path in (self.workspace, self.temp, self.home):
            path.mkdir(parents=True, exist_ok=True)
        self.steps: dict[str, Any] = {}
        self.paths: list[str] = []
        self.ran: list[str] = []
        self.emulated: list[str] = []
        self.ok = True

    def run(self) -> None:
        steps = self.job.get("steps") or []
        for index, step in enumerate(steps):
            if not isinstance(step, dict):
                continue
            label = f"step {index + 1}" + (f" ({step['name']})" if step.get("name") else "")
            if self.publish is not None and index >= self.publish.index:
                if self.ok:
                    self.run_.reached.add(self.job_id)
                after = len(steps) - index - 1
                self.run_.report.not_run.append(
                    f"{self.job_id}: {label}, which {self.publish.described}"
                    + (f", and the {after} step(s) after it" if after else "")
                    + ": a rehearsal never uploads"
                )
                break
            contexts = self.run_.contexts(self.env, self.steps, self.job_id)
            try:
                runs = condition(step.get("if"), contexts, Status(success=self.ok, failure=not self.ok))
            except Unknown as error:
                raise _Stop(f"job `{self.job_id}`, {label}: its `if:` cannot be evaluated here: {error}") from None
            step_id = str(step.get("id") or f"__step{index}")
            if not runs:
                self.steps[step_id] = {"outcome": "skipped", "conclusion": "skipped", "outputs": {}}
                continue
            env = self.run_.evaluated(step.get("env"), dict(self.env), self.steps, self.job_id)
            self.steps[step_id] = {"outputs": {}}
            if "run" in step:
                outcome = self.shell(step, step_id, label, env)
            elif isinstance(step.get("uses"), str):
                outcome = self.action(step, label, env)
            else:
                raise _Stop(f"job `{self.job_id}`, {label}: neither `run:` nor `uses:`")
            if outcome != "success" and not step.get("continue-on-error"):
                self.ok = False
            self.steps[step_id]["outcome"] = outcome
            self.steps[step_id]["conclusion"] = "success" if step.get("continue-on-error") else outcome
        self.run_.results[self.job_id] = "success" if self.ok else "failure"
        self.run_.outputs[self.job_id] = self.job_outputs()
        done = ([f"{len(self.ran)} `run:` step(s)"] if self.ran else []) + (
            [f"emulated {', '.join(self.emulated)}"] if self.emulated else []
        )
        self.run_.report.ran.append(f"{self.job_id}: " + ("; ".join(done) or "no step"))

    def job_outputs(self) -> dict[str, str]:
        outputs = self.job.get("outputs")
        if not isinstance(outputs, dict):
            return {}
        contexts = self.run_.contexts(self.env, self.steps, self.job_id)
        try:
            return {str(name): expand(as_text(value), contexts) for name, value in outputs.items()}
        except Unknown as error:
            raise _Stop(f"job `{self.job_id}`: its `outputs:` cannot be evaluated here: {error}") from None

    # -- run: ------------------------------------------------------------------------------------------------

    def shell(self, step: Any, step_id: str, label: str, env: dict[str, str]) -> str:
        contexts = self.run_.contexts(env, self.steps, self.job_id)
        try:
            script = expand(str(step["run"]), contexts)
        except Unknown as error:
            raise _Stop(f"job `{self.job_id}`, {label}: its script cannot be expanded here: {error}") from None
        defaults = _defaults(self.run_.doc, self.job)
        shell = step.get("shell") or defaults.get("shell")
        directory = step.get("working-directory") or defaults.get("working-directory")
        script_file = self.temp / f"step-{len(self.ran) + 1}.sh"
        script_file.write_text(script, encoding="utf-8")
        command = _shell_command(shell, script_file)
        if command is None:
            raise _Stop(f"job `{self.job_id}`, {label}: the shell {shell!r} is not emulated")
        files = {name: self.temp / f"{name.lower()}-{len(self.ran) + 1}" for name in ("GITHUB_ENV", "GITHUB_PATH")}
        files["GITHUB_OUTPUT"] = self.temp / f"github_output-{len(self.ran) + 1}"
        for path in files.values():
            path.write_text("", encoding="utf-8")
        timeout = float(step.get("timeout-minutes") or 0) * 60 or STEP_TIMEOUT
        cwd = self.workspace / str(expand(str(directory), contexts)) if directory else self.workspace
        self.ran.append(label)
        try:
            done = process.run(
                command,
                log=self.run_.log,
                cwd=cwd,
                env=self.process_env(env, {name: str(path) for name, path in files.items()}),
                timeout=min(timeout, STEP_TIMEOUT),
                check=False,
                what=f"the publish workflow's job {self.job_id}, {label}",
            )
        except ToolFailed as error:
            self.run_.record_failure(self.job_id, label, "\n".join([error.message, *error.details]))
            return "failure"
        self.steps[step_id]["outputs"] = _key_values(files["GITHUB_OUTPUT"])
        self.env.update(_key_values(files["GITHUB_ENV"]))
        self.paths = [*reversed(_lines(files["GITHUB_PATH"])), *self.paths]
        if done.returncode != 0:
            self.run_.record_failure(self.job_id, label, done.output, done.returncode)
            return "failure"
        return "success"

    def process_env(self, env: Mapping[str, str], files: Mapping[str, str]) -> dict[str, str]:
        """This machine's environment (without credentials, which process.run removes, and without a Python
        environment of its own), a home of the job's own, a runner's variables, the job's and step's env."""
        base = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
        trigger = self.run_.trigger
        github = {
            "HOME": str(self.home),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": trigger.event,
            "GITHUB_REF": f"refs/tags/{trigger.tag}",
            "GITHUB_REF_NAME": trigger.tag,
            "GITHUB_REF_TYPE": "tag",
            "GITHUB_SHA": trigger.commit,
            "GITHUB_REPOSITORY": trigger.repository,
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_JOB": self.job_id,
            "RUNNER_TEMP": str(self.temp),
            "RUNNER_OS": "Linux",
            "PATH": os.pathsep.join([*self.paths, base.get("PATH", os.defpath)]),
        }
        return {**base, **github, **files, **env}

    # -- uses: -----------------------------------------------------------------------------------------------

    def action(self, step: Any, label: str, env: dict[str, str]) -> str:
        uses = str(step["uses"])
        name = _action(uses)
        if name not in EMULATED:
            raise _Stop(f"job `{self.job_id}`, {label}: `uses: {uses}` is not emulated by a rehearsal")
        contexts = self.run_.contexts(env, self.steps, self.job_id)
        raw = step.get("with") or {}
        try:
            inputs = {str(key): expand(as_text(value), contexts) for key, value in raw.items()}
        except Unknown as error:
            raise _Stop(f"job `{self.job_id}`, {label}: its `with:` cannot be evaluated here: {error}") from None
        try:
            if name == "actions/checkout":
                self.checkout(inputs, label)
            elif name == "actions/upload-artifact":
                self.upload(inputs, label)
            elif name == "actions/download-artifact":
                self.download(inputs, label)
            else:
                self.emulated.append(f"{name} (this machine's python3, {sys.version.split()[0]} here)")
        except _ActionFailed as failed:
            self.run_.record_failure(self.job_id, label, f"::error::{failed}")
            return "failure"
        return "success"

    def checkout(self, inputs: Mapping[str, str], label: str) -> None:
        unknown = sorted(set(inputs) - _CHECKOUT_INPUTS)
        if unknown:
            raise _Stop(f"job `{self.job_id}`, {label}: actions/checkout with {', '.join(unknown)} is not emulated")
        trigger, git = self.run_.trigger, ["git", "-C", str(self.workspace)]
        log = self.run_.log
        process.run(["git", "init", "--quiet", str(self.workspace)], log=log, what="git init")
        process.run([*git, "remote", "add", "origin", trigger.remote_url], log=log, what="git remote add")
        ref = f"refs/tags/{trigger.tag}"
        if inputs.get("fetch-depth", "1") == "0":
            process.run(
                [*git, "fetch", "--quiet", "--prune", "origin", "+refs/heads/*:refs/remotes/origin/*", f"+{ref}:{ref}"],
                log=log,
                what="git fetch",
            )
        else:
            depth = f"--depth={inputs.get('fetch-depth', '1')}"
            fetched = process.run(
                [*git, "fetch", "--quiet", "--no-tags", depth, "origin", f"+{trigger.commit}:{ref}"],
                log=log,
                check=False,
                what="git fetch",
            )
            if fetched.returncode != 0:  # a git speaking protocol v0 fetches no commit by name: the tag, made light
                process.run([*git, "fetch", "--quiet", "--no-tags", depth, "origin", f"+{ref}:{ref}"], log=log)
                process.run([*git, "update-ref", ref, trigger.commit], log=log, what="git update-ref")
        process.run([*git, "checkout", "--quiet", "--detach", ref], log=log, what="git checkout")
        self.emulated.append(
            f"actions/checkout (the tag's commit fetched from {trigger.remote_url}, the tag left lightweight)"
        )

    def upload(self, inputs: Mapping[str, str], label: str) -> None:
        name = inputs.get("name") or "artifact"
        target = self.run_.artifacts / name
        if target.exists() and inputs.get("overwrite", "false").lower() != "true":
            raise _ActionFailed(f"an artifact named {name!r} was uploaded before")
        shutil.rmtree(target, ignore_errors=True)
        files = _matched(self.workspace, [line.strip() for line in inputs.get("path", "").splitlines()])
        if not files and inputs.get("if-no-files-found", "warn") == "error":
            raise _ActionFailed(f"no files were found with the provided path: {inputs.get('path', '')}")
        for source, relative in files:
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / relative)
        target.mkdir(parents=True, exist_ok=True)
        self.emulated.append(f"actions/upload-artifact ({name}: {len(files)} file(s))")

    def download(self, inputs: Mapping[str, str], label: str) -> None:
        destination = self.workspace / inputs.get("path", "")
        name = inputs.get("name")
        if name:
            chosen = [self.run_.artifacts / name]
            if not chosen[0].is_dir():
                raise _ActionFailed(f"artifact {name!r} not found")
        else:
            pattern = inputs.get("pattern") or "*"
            chosen = sorted(p for p in self.run_.artifacts.iterdir() if fnmatch.fnmatch(p.name, pattern))
        merge = bool(name) or inputs.get("merge-multiple", "false").lower() == "true"
        for artifact in chosen:
            shutil.copytree(artifact, destination if merge else destination / artifact.name, dirs_exist_ok=True)
        self.emulated.append(f"actions/download-artifact ({', '.join(p.name for p in chosen) or 'none'})")


class _ActionFailed(Exception):
    """An emulated action fails the way the action would."""


def _defaults(doc: Any, job: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for holder in (doc, job):
        defaults = holder.get("defaults") if isinstance(holder, dict) else None
        run = defaults.get("run") if isinstance(defaults, dict) else None
        if isinstance(run, dict):
            found.update(run)
    return found


def _shell_command(shell: Any, script: Path) -> list[str] | None:
    """The command a runner uses for a `run:` step with this `shell:` (GitHub's documented templates)."""
    if shell is None:
        return ["bash", "-e", str(script)]
    text = str(shell).strip()
    known = {
        "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        "sh": ["sh", "-e", str(script)],
        "python": ["python3", str(script)],
    }
    if text in known:
        return known[text]
    if "{0}" in text:
        return [word.replace("{0}", str(script)) for word in shlex.split(text)]
    return None


def _key_values(path: Path) -> dict[str, str]:
    """GITHUB_ENV / GITHUB_OUTPUT: `NAME=value` lines and `NAME<<DELIMITER` blocks."""
    found: dict[str, str] = {}
    lines = _lines(path)
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, _, delimiter = line.partition("<<")
            end = next((i for i in range(index + 1, len(lines)) if lines[i] == delimiter), len(lines))
            found[name] = "\n".join(lines[index + 1 : end])
            index = end + 1
            continue
        name, sep, value = line.partition("=")
        if sep:
            found[name] = value
        index += 1
    return found


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines() if path.is_file() else []


def _matched(workspace: Path, patterns: list[str]) -> list[tuple[Path, Path]]:
    """upload-artifact's `path:` lines: files, folders (everything inside), globs and `!` exclusions, each file
    with its path below the least common ancestor of the search paths (the artifact's root)."""
    include = [p for p in patterns if p and not p.startswith("!")]
    exclude = [p[1:] for p in patterns if p.startswith("!")]
    found: list[Path] = []
    roots: list[Path] = []
    for pattern in include:
        base = workspace / os.path.expanduser(pattern)
        if _GLOB.search(pattern):
            static = Path(*[part for part in Path(pattern).parts if not _GLOB.search(part)][: _static_depth(pattern)])
            roots.append(workspace / static)
            found.extend(sorted(p for p in workspace.glob(pattern) if p.is_file()))
        elif base.is_dir():
            roots.append(base)
            found.extend(sorted(p for p in base.rglob("*") if p.is_file()))
        elif base.is_file():
            roots.append(base.parent)
            found.append(base)
    kept = [p for p in dict.fromkeys(found) if not any(fnmatch.fnmatch(str(p), str(workspace / e)) for e in exclude)]
    if not kept:
        return []
    root = Path(os.path.commonpath([str(r) for r in roots])) if roots else workspace
    return [(path, path.relative_to(root)) for path in kept]


def _static_depth(pattern: str) -> int:
    parts = Path(pattern).parts
    return next((i for i, part in enumerate(parts) if _GLOB.search(part)), len(parts))
