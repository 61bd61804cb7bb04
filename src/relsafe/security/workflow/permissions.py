"""Rules on the job token: who can mint the OIDC token PyPI accepts, and what the default token may do."""

from __future__ import annotations

from collections.abc import Iterator

from relsafe.security.workflow.model import Rule, Settings, Workflow, attests, key_line
from relsafe.security.workflow.report import ERROR, WARNING, Finding


def id_token_scope(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    top = workflow.doc.get("permissions")
    if isinstance(top, dict) and str(top.get("id-token", "")).lower() == "write":
        yield workflow.finding(
            "id-token-scope",
            ERROR,
            key_line(top, "id-token", 1),
            "`id-token: write` at the workflow level lets every job mint a PyPI upload token",
            "Set `permissions: {}` at the top and grant `id-token: write` on the publish job only.",
        )
    for job_id, job in workflow.jobs.items():
        permissions = job.get("permissions")
        if job_id in workflow.publish_jobs or attests(job) or not isinstance(permissions, dict):
            continue  # an attesting job needs the token to sign with Sigstore
        if str(permissions.get("id-token", "")).lower() == "write":
            yield workflow.finding(
                "id-token-scope",
                ERROR,
                key_line(permissions, "id-token", 1),
                f"job `{job_id}` does not publish but can mint an OIDC token that PyPI accepts",
                "Remove `id-token: write` from every job except the one that runs the publish action.",
            )


def secrets_inherit(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    for job_id, job in workflow.jobs.items():
        uses = job.get("uses")
        if isinstance(uses, str) and str(job.get("secrets", "")).lower() == "inherit":
            yield workflow.finding(
                "secrets-inherit",
                ERROR if workflow.publishing else WARNING,
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
    if "permissions" in workflow.doc:
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
