"""The outsider's code in a workflow their event starts: a pull request head checked out or fetched (by name,
by number, through an `env:` entry), or a file from the triggering run's artifact executed.

`pull_request_target` and `workflow_run` run with the base repository's token
and secrets; either is the outsider's code running with them.
"""

from __future__ import annotations

import re
from typing import Any

from relsafe.security.workflow.model import Workflow, job_steps, key_line, uses_action

# A checkout ref, repository or script naming the code of a pull request or of the run that triggered this one.
UNTRUSTED_REF = re.compile(
    r"github\.head_ref|github\.event\.(?:pull_request\.(?:head|merge_commit_sha)|workflow_run\.head|number)"
    r"|refs/pull/|gh\s+pr\s+checkout|(?<![\w-])pull/(?:\$\{\{[^}]*\}\}|[^/\s]+)/(?:head|merge)\b",
    re.IGNORECASE,
)
# Downloads of another run's artifacts: the action given a run id, a fork of it made for this, or the gh CLI.
_OTHER_RUN_DOWNLOADS = ("dawidd6/action-download-artifact", "actions/download-artifact")
_GH_DOWNLOAD = re.compile(r"\bgh\s+run\s+download\b[^\n]*?(?:\s(?:-D|--dir)[\s=]+(\S+))?(?:\s|$)")
_UNZIP = re.compile(r"\bunzip\b[^\n]*?(?:\s-d\s+(\S+))?\s*$", re.MULTILINE)
_RUNNERS = r"(?:bash|sh|zsh|source|\.|python3?|node|ruby|perl|pwsh|npx|exec)"


def untrusted_ref(workflow: Workflow, job: Any, step: Any, text: str) -> bool:
    """Does text (a checkout's ref or repository, a script) name a pull request's or the triggering run's code,
    directly or through an `env:` entry the step sees?"""
    if UNTRUSTED_REF.search(text):
        return True
    referenced = set(re.findall(r"env\s*\.\s*(\w+)|\$\{?(\w+)", text))
    names = {name for pair in referenced for name in pair if name}
    env: dict[str, str] = {}
    for holder in (workflow.doc, job, step):
        mapping = holder.get("env")
        if isinstance(mapping, dict):
            env.update({str(key): str(value) for key, value in mapping.items()})
    return any(UNTRUSTED_REF.search(env[name]) for name in names & set(env))


def runs_triggering_artifact(workflow: Workflow) -> int | None:
    """The line of a step that runs a file from the triggering run's artifact, in a `workflow_run` workflow: a
    script, or a file appended to $GITHUB_ENV/$GITHUB_PATH."""
    if "workflow_run" not in workflow.triggers:
        return None
    for job in workflow.jobs.values():
        steps = job_steps(job)
        folders: list[str] = []
        checks_out = any(uses_action(step) == "actions/checkout" for step in steps)
        for step in steps:
            run = step.get("run")
            if isinstance(run, str) and folders and _executes(run, folders, checks_out):
                return key_line(step, "run", 1)
            folders.extend(_downloaded_to(step))
    return None


def _downloaded_to(step: Any) -> list[str]:
    """The folders a step puts another run's artifact in ("." for the working directory)."""
    with_ = step.get("with") if isinstance(step.get("with"), dict) else {}
    action = uses_action(step)
    if action == _OTHER_RUN_DOWNLOADS[0] or (
        action == _OTHER_RUN_DOWNLOADS[1] and ("run-id" in with_ or "github-token" in with_)
    ):
        return [str(with_.get("path") or ".")]
    run = step.get("run")
    found: list[str] = []
    if isinstance(run, str):
        found += [match.group(1) or "." for match in _GH_DOWNLOAD.finditer(run)]
        found += [match.group(1) or "." for match in _UNZIP.finditer(run)]
    script = with_.get("script")
    if isinstance(script, str) and "downloadArtifact" in script:
        found.append(".")  # github-script's documented pattern: the zip lands in the working directory
    return found


def _executes(run: str, folders: list[str], checks_out: bool) -> bool:
    """Does the script run, source or load into the env files a file from one of the folders? A file in the
    working directory counts when the job checked out nothing else that it could be."""
    for folder in folders:
        clean = folder.strip("'\"").removeprefix("./").rstrip("/")
        if clean in {"", ".", "${{ github.workspace }}"}:
            if checks_out:
                continue
            where = r"(?:\./)?[\w.][\w.-]*(?:/[\w.-]+)*"
        else:
            where = rf"(?:\./)?{re.escape(clean)}/\S+"
        if re.search(rf"(?:^|[;&|\s]){_RUNNERS}\s+['\"]?{where}", run, re.MULTILINE):
            return True
        direct = where.removeprefix(r"(?:\./)?")
        if re.search(rf"(?:^|[;&|]\s*)\s*['\"]?\./{direct}", run, re.MULTILINE):
            return True
        if re.search(rf"\bcat\s+['\"]?{where}['\"]?\s*>>\s*['\"]?\$\{{?GITHUB_(?:ENV|PATH)", run):
            return True
    return False
