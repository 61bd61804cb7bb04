"""Rules on the job token: who can mint the OIDC token PyPI accepts, and what the default token may do."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from relsafe.security.workflow.consumers import SIGNING, consumer
from relsafe.security.workflow.model import Rule, Settings, Workflow, key_line
from relsafe.security.workflow.references import is_local
from relsafe.security.workflow.report import ERROR, WARNING, Finding


def id_token_scope(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    """`id-token: write` judged by who uses the token. In a workflow that uploads (the only kind PyPI can trust),
    a job that does not upload mints tokens PyPI accepts: an error, unless a known consumer (Scorecard, crates.io,
    a credential broker) asks for it, then a warning. Elsewhere PyPI accepts none of its tokens: granting one to
    every job, or to a job nothing known asks it for, is hygiene."""
    top = workflow.doc.get("permissions")
    if isinstance(top, dict) and _writes_id_token(top):
        yield workflow.finding(
            "id-token-scope",
            ERROR if workflow.publishing else WARNING,
            key_line(top, "id-token", 1),
            "`id-token: write` at the workflow level lets every job mint a PyPI upload token"
            if workflow.publishing
            else "`id-token: write` at the workflow level gives every job an OIDC token, where one job needs it",
            "Set `permissions: {}` at the top and grant `id-token: write` on the job that uses the token only.",
        )
    for job_id, job in workflow.jobs.items():
        permissions = job.get("permissions")
        if job_id in workflow.publish_jobs | workflow.calls_publish or not isinstance(permissions, dict):
            continue
        if not _writes_id_token(permissions):
            continue
        use = consumer(job, workflow.root)
        if use == SIGNING:
            continue  # attestations are signed with the token, in whichever job makes them
        line = key_line(permissions, "id-token", 1)
        if workflow.publishing:
            yield workflow.finding(
                "id-token-scope",
                WARNING if use else ERROR,
                line,
                f"job `{job_id}` does not publish but can mint an OIDC token that PyPI accepts"
                + (f" (it asks for one for {use})" if use else ""),
                f"Move the {use} job to a workflow of its own, or name the publish job's environment in PyPI's "
                "publisher so that tokens from other jobs are refused."
                if use
                else "Remove `id-token: write` from every job except the one that runs the publish action.",
            )
        elif use is None:
            yield workflow.finding(
                "id-token-scope",
                WARNING,
                line,
                f"job `{job_id}` can mint an OIDC token and no step relsafe knows asks for one; if an action here "
                "uploads to PyPI with it, this workflow publishes and its mistakes are errors",
                "Remove `id-token: write` if nothing uses it; publish only with pypa/gh-action-pypi-publish.",
            )


def _writes_id_token(permissions: Any) -> bool:
    return str(permissions.get("id-token", "")).lower() == "write"


def secrets_inherit(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    for job_id, job in workflow.jobs.items():
        uses = job.get("uses")
        if isinstance(uses, str) and str(job.get("secrets", "")).lower() == "inherit":
            yield workflow.finding(
                "secrets-inherit",
                ERROR if workflow.publishing and not is_local(uses) else WARNING,
                key_line(job, "uses", workflow.job_line(job_id)),
                f"job `{job_id}` hands every secret of the repository and organisation to `{uses}`, "
                "upload tokens included, whatever that workflow needs",
                "Pass only the secrets the called workflow needs: `secrets: {NAME: ${{ secrets.NAME }}}`.",
            )


def write_all_permissions(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    holders = [(workflow.doc, "the workflow")] + [(job, f"job `{job_id}`") for job_id, job in workflow.jobs.items()]
    for holder, what in holders:
        if str(holder.get("permissions", "")).lower() == "write-all":
            yield workflow.finding(
                "write-all-permissions",
                ERROR,
                key_line(holder, "permissions", 1),
                f"{what} grants `write-all`: the token can push code, move tags and mint OIDC tokens",
                "List only the permissions each job needs, e.g. `contents: read`.",
            )


def missing_permissions(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    """A job without `permissions:` gets the repository's default token; where every job declares its own, the
    top-level default reaches none of them."""
    if "permissions" in workflow.doc or all("permissions" in job for job in workflow.jobs.values()):
        return
    yield workflow.finding(
        "missing-permissions",
        ERROR if workflow.publishing else WARNING,
        1,
        "no top-level `permissions:`: any job without its own gets the repository's default token, "
        "which may be read-write",
        "Add `permissions: {}` (or `contents: read`) at the top and grant more per job.",
    )


RULES: tuple[Rule, ...] = (id_token_scope, secrets_inherit, write_all_permissions, missing_permissions)
