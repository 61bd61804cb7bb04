"""One job of a publish workflow run here: its steps as a runner runs them, the four emulated actions."""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from relsafe.core.errors import ToolFailed
from relsafe.tools import process
from relsafe.tools.github_expression import (
    Status,
    Unknown,
    as_text,
    condition,
    expand,
)
from relsafe.tools.github_job_types import EMULATED, STEP_TIMEOUT, ActionFailed, PublishStep, Stop, action_name

if TYPE_CHECKING:
    from relsafe.tools.github_job import WorkflowRun

_CHECKOUT_INPUTS = frozenset({"persist-credentials", "fetch-depth", "fetch-tags", "clean", "show-progress"})
_GLOB = re.compile(r"[*?\[]")


class JobRun:
    """The steps of one job, in a fresh workspace."""

    def __init__(
        self, run: WorkflowRun, job_id: str, job: Any, env: dict[str, str], publish: PublishStep | None
    ) -> None:
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
                raise Stop(f"job `{self.job_id}`, {label}: its `if:` cannot be evaluated here: {error}") from None
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
                raise Stop(f"job `{self.job_id}`, {label}: neither `run:` nor `uses:`")
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
            raise Stop(f"job `{self.job_id}`: its `outputs:` cannot be evaluated here: {error}") from None

    # -- run: ------------------------------------------------------------------------------------------------

    def shell(self, step: Any, step_id: str, label: str, env: dict[str, str]) -> str:
        contexts = self.run_.contexts(env, self.steps, self.job_id)
        try:
            script = expand(str(step["run"]), contexts)
        except Unknown as error:
            raise Stop(f"job `{self.job_id}`, {label}: its script cannot be expanded here: {error}") from None
        defaults = _defaults(self.run_.doc, self.job)
        shell = step.get("shell") or defaults.get("shell")
        directory = step.get("working-directory") or defaults.get("working-directory")
        script_file = self.temp / f"step-{len(self.ran) + 1}.sh"
        script_file.write_text(script, encoding="utf-8")
        command = _shell_command(shell, script_file)
        if command is None:
            raise Stop(f"job `{self.job_id}`, {label}: the shell {shell!r} is not emulated")
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
        name = action_name(uses)
        if name not in EMULATED:
            raise Stop(f"job `{self.job_id}`, {label}: `uses: {uses}` is not emulated by a rehearsal")
        contexts = self.run_.contexts(env, self.steps, self.job_id)
        raw = step.get("with") or {}
        try:
            inputs = {str(key): expand(as_text(value), contexts) for key, value in raw.items()}
        except Unknown as error:
            raise Stop(f"job `{self.job_id}`, {label}: its `with:` cannot be evaluated here: {error}") from None
        try:
            if name == "actions/checkout":
                self.checkout(inputs, label)
            elif name == "actions/upload-artifact":
                self.upload(inputs, label)
            elif name == "actions/download-artifact":
                self.download(inputs, label)
            else:
                self.emulated.append(f"{name} (this machine's python3, {sys.version.split()[0]} here)")
        except ActionFailed as failed:
            self.run_.record_failure(self.job_id, label, f"::error::{failed}")
            return "failure"
        return "success"

    def checkout(self, inputs: Mapping[str, str], label: str) -> None:
        unknown = sorted(set(inputs) - _CHECKOUT_INPUTS)
        if unknown:
            raise Stop(f"job `{self.job_id}`, {label}: actions/checkout with {', '.join(unknown)} is not emulated")
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
            raise ActionFailed(f"an artifact named {name!r} was uploaded before")
        shutil.rmtree(target, ignore_errors=True)
        files = _matched(self.workspace, [line.strip() for line in inputs.get("path", "").splitlines()])
        if not files and inputs.get("if-no-files-found", "warn") == "error":
            raise ActionFailed(f"no files were found with the provided path: {inputs.get('path', '')}")
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
                raise ActionFailed(f"artifact {name!r} not found")
        else:
            pattern = inputs.get("pattern") or "*"
            chosen = sorted(p for p in self.run_.artifacts.iterdir() if fnmatch.fnmatch(p.name, pattern))
        merge = bool(name) or inputs.get("merge-multiple", "false").lower() == "true"
        for artifact in chosen:
            shutil.copytree(artifact, destination if merge else destination / artifact.name, dirs_exist_ok=True)
        self.emulated.append(f"actions/download-artifact ({', '.join(p.name for p in chosen) or 'none'})")


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
