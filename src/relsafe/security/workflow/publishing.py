"""Rules on the publish job itself: where it runs, what it uploads, and with which credential."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from relsafe.model.manifest import MARKER as MANIFEST_MARKER
from relsafe.security.workflow.model import (
    Rule,
    Settings,
    Workflow,
    grants_id_token,
    is_pypi,
    job_steps,
    key_line,
    repository_url,
    targets_pypi,
)
from relsafe.security.workflow.report import ERROR, WARNING, Finding
from relsafe.security.workflow.runners import self_hosted
from relsafe.security.workflow.uploads import (
    PUBLISH_SESSION,
    UPLOAD_CREDENTIALS,
    handed_credential,
    is_publish_action,
    upload_command,
)

_BUILD_COMMAND = re.compile(
    r"(?:-m\s+build\b|\bpyproject-build\b|\buv\s+build\b|\bhatch\s+build\b|\bpoetry\s+build\b"
    r"|\bflit\s+build\b|\bpip3?\s+wheel\b|-m\s+pip\s+wheel\b|\bsetup\.py\s+(?:sdist|bdist))"
)
_CREDENTIAL_VARIABLES = re.compile(rf"\b(?:{UPLOAD_CREDENTIALS.pattern})\b")
# Upload tools that trade the job's OIDC token for a short-lived PyPI token themselves (Trusted Publishing), and
# what in a script hands them a stored credential instead.
_TRUSTED_PUBLISHING_TOOLS = frozenset({"uv", "twine", "pdm", "maturin"})
_LOGIN_VARIABLE = re.compile(r"(?:TWINE|UV_PUBLISH|PDM_PUBLISH|MATURIN(?:_PYPI)?)_(?:USERNAME|PASSWORD|TOKEN)")
_CREDENTIAL_OPTION = re.compile(r"(?:^|\s)(?:--token|--password|--username|-[tpu])(?=[\s=])|\bsecrets\s*\.")


def publish_environment(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    """The publish job runs in a GitHub environment, for PyPI the one its publisher names: [publish] environment
    when the configuration sets one; otherwise the workflow's own name is the one registered, whatever it is."""
    for job_id in sorted(workflow.publish_jobs):
        job = workflow.jobs[job_id]
        environment = job.get("environment")
        name = environment.get("name") if isinstance(environment, dict) else environment
        to_pypi = targets_pypi(job)
        if name is None:
            yield workflow.finding(
                "publish-environment",
                ERROR,
                workflow.job_line(job_id),
                f"publish job `{job_id}` runs outside a GitHub environment, so no reviewer or "
                "tag rule stands between a push and the upload",
                f"Add `environment: {(settings.environment or 'pypi') if to_pypi else 'testpypi'}` to the job "
                "and protect that environment on GitHub.",
            )
        elif to_pypi and settings.environment is not None and str(name) != settings.environment:
            yield workflow.finding(
                "publish-environment",
                ERROR,
                key_line(job, "environment", workflow.job_line(job_id)),
                f"publish job `{job_id}` uses environment `{name}`, but the PyPI publisher is "
                f"configured for `{settings.environment}`",
                f"Use `environment: {settings.environment}`, or change [publish] environment in "
                "release.toml and on PyPI together.",
            )


def publish_needs(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    """A reusable workflow of publish jobs alone has nothing of its own to need: its caller's job orders it after
    the build (reusable-publish reports the workflow itself)."""
    if "workflow_call" in workflow.triggers and set(workflow.jobs) <= workflow.publish_jobs:
        return
    for job_id in sorted(workflow.publish_jobs):
        if not workflow.jobs[job_id].get("needs"):
            yield workflow.finding(
                "publish-needs",
                ERROR,
                workflow.job_line(job_id),
                f"publish job `{job_id}` has no `needs:`: it does not upload what a separate, "
                "unprivileged build job made",
                "Build in its own job and add `needs: build` to the publish job.",
            )


def build_in_publish_job(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    for job_id in sorted(workflow.publish_jobs):
        for step in job_steps(workflow.jobs[job_id]):
            run = step.get("run")
            if isinstance(run, str) and _BUILD_COMMAND.search(run):
                yield workflow.finding(
                    "build-in-publish-job",
                    ERROR,
                    key_line(step, "run", 1),
                    f"publish job `{job_id}` builds the package, so the build backend and every "
                    "build dependency run holding the upload token",
                    "Build in a job without `id-token`, upload the files as an artifact, and only "
                    "download them in the publish job.",
                )


def rebuild_unverified(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    """Files built on the runner and published unchecked were never tested: the Ultralytics compromise
    changed exactly that build. A step that reads the release tag's manifest and compares sha256 hashes, in a
    job that builds nothing, is the check: code that ran during a build can change the files after a check in
    its own job, and the step that reads the manifest for the build's pinned, hashed requirements checks none
    of the built files."""
    if not workflow.publishing:
        return
    runs = [(step, step.get("run")) for step in workflow.steps()]
    checking = [
        run
        for job in workflow.jobs.values()
        if not any(_BUILD_COMMAND.search(str(step.get("run", ""))) for step in job_steps(job))
        for step in job_steps(job)
        if isinstance(run := step.get("run"), str)
    ]
    if any(MANIFEST_MARKER in run and "sha256" in run for run in checking):
        return
    for step, run in runs:
        if isinstance(run, str) and _BUILD_COMMAND.search(run):
            yield workflow.finding(
                "rebuild-unverified",
                WARNING,
                key_line(step, "run", 1),
                "the workflow publishes files it builds on the runner and checks none of them against the "
                "release tag's manifest: what PyPI gets was never tested",
                "Let `relsafe init` write the workflow: with staging it promotes the staged files the tag "
                "names, without it checks the rebuilt files against the tag's manifest.",
            )
            return  # one finding per workflow: the concern is the workflow's, not each build's


def stored_credentials(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    for job in workflow.jobs.values():
        for step in job_steps(job):
            with_ = step.get("with")
            if is_publish_action(step) and isinstance(with_, dict) and "password" in with_:
                yield workflow.finding(
                    "stored-credentials",
                    ERROR,
                    key_line(with_, "password", 1),
                    "the publish action is given a stored API token; a leaked token uploads from anywhere",
                    "Remove `password:`, register the workflow as a Trusted Publisher on PyPI and delete the token.",
                )
            run = step.get("run")
            if not isinstance(run, str):
                continue
            session = PUBLISH_SESSION.search(run)
            command = upload_command(run) or (" ".join(session.group(0).split()) if session else None)
            if command and not _trusted_publishing(workflow, job, step, command):
                yield workflow.finding(
                    "stored-credentials",
                    ERROR,
                    workflow.text_line(key_line(step, "run", 1), command.split()[0]),
                    f"`{command}` in a script uploads with a stored token and makes no attestations",
                    "Upload with pypa/gh-action-pypi-publish and Trusted Publishing instead.",
                )
    for number, line in enumerate(workflow.lines, start=1):
        code = "" if line.lstrip().startswith("#") else line.split(" #")[0]
        variable = _CREDENTIAL_VARIABLES.search(code)
        if variable:
            yield workflow.finding(
                "stored-credentials",
                ERROR,
                number,
                f"`{variable.group(0)}` hands an upload credential to the workflow",
                "Remove the secret and use Trusted Publishing; revoke the token on PyPI.",
            )


def _trusted_publishing(workflow: Workflow, job: Any, step: Any, command: str) -> bool:
    """Does this upload trade the job's OIDC token for a short-lived one, so that no stored token exists? Its
    tool must do Trusted Publishing itself, the job hold `id-token: write`, and no credential reach the step."""
    if command.split()[0] not in _TRUSTED_PUBLISHING_TOOLS:
        return False
    holder = job if "permissions" in job else workflow.doc
    handed = [step.get("env"), step.get("with"), job.get("env"), workflow.doc.get("env")]
    logins = [str(name) for mapping in handed if isinstance(mapping, dict) for name in mapping]
    return (
        grants_id_token(holder)
        and not any(handed_credential(mapping) for mapping in handed)
        and not any(_LOGIN_VARIABLE.fullmatch(name) for name in logins)
        and not _CREDENTIAL_OPTION.search(str(step.get("run")))
    )


def self_hosted_runner(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    """A self-hosted machine keeps what earlier jobs, of any workflow or fork, left on it: the publish job and
    every job it needs must start clean on GitHub's runners."""
    reported: set[str] = set()
    for publisher in sorted(workflow.publish_jobs):
        for job_id in workflow.with_needs(publisher):
            runner = self_hosted(workflow.jobs[job_id])
            if job_id in reported or runner is None:
                continue
            reported.add(job_id)
            yield workflow.finding(
                "self-hosted-runner",
                ERROR,
                key_line(workflow.jobs[job_id], "runs-on", workflow.job_line(job_id)),
                f"publish job `{job_id}` runs on {runner}, where whatever ran there before can "
                "change the files or read the upload token"
                if job_id == publisher
                else f"job `{job_id}`, which publish job `{publisher}` needs, runs on {runner}, where "
                "whatever ran there before can change the files the release uploads",
                "Run the publish job and the jobs it needs on GitHub-hosted runners (`runs-on: ubuntu-latest`).",
            )


_WEAKENINGS = {
    "attestations": "turns off the PEP 740 attestations that tie each file to this workflow",
    "verify-metadata": "uploads files whose metadata was never checked",
    "skip-existing": "hides a second upload of a version, which should fail loudly",
}


def weakened_publish(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    for step in workflow.steps():
        with_ = step.get("with")
        if not is_publish_action(step) or not isinstance(with_, dict):
            continue
        weakened = [key for key in ("attestations", "verify-metadata") if str(with_.get(key, "")).lower() == "false"]
        if str(with_.get("skip-existing", "")).lower() == "true" and is_pypi(repository_url(with_)):
            weakened.append("skip-existing")
        for key in weakened:
            yield workflow.finding(
                "weakened-publish",
                ERROR,
                key_line(with_, key, 1),
                f"`{key}: {with_[key]}` {_WEAKENINGS[key]}",
                f"Remove `{key}:` from the publish step; its default is the safe setting.",
            )


RULES: tuple[Rule, ...] = (
    publish_environment,
    publish_needs,
    build_in_publish_job,
    rebuild_unverified,
    stored_credentials,
    self_hosted_runner,
    weakened_publish,
)
