"""The repository's secrets handed to an action pinned to a branch, in a workflow an outsider's event starts.

`pull_request_target`, `workflow_run` and the issue and comment events run with
the base repository's secrets on events anyone can cause. Handed to an action
pinned to a branch (`org/actions@main`), a secret belongs to whoever can push
to that branch, on any run an outsider starts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from relsafe.security.workflow.model import Rule, Settings, Workflow, job_steps, key_line
from relsafe.security.workflow.report import ERROR, Finding
from relsafe.security.workflow.triggers import DANGEROUS_TRIGGERS, UNTRUSTED_TRIGGERS

_SHA = re.compile(r"^[0-9a-f]{40}$")
_VERSION = re.compile(r"^v?\d+(?:\.\d+)*(?:[-+.][\w.]+)?$", re.IGNORECASE)
_SECRET = re.compile(r"\$\{\{[^}]*\b(?:secrets\s*\.\s*\w+|secrets\s*\[|github\s*\.\s*token\b)", re.IGNORECASE)


def secrets_to_branch_action(workflow: Workflow, settings: Settings) -> Iterator[Finding]:
    """A secret handed (in `with:` or any `env:` the step sees) to an action pinned to a branch, in a workflow an
    outsider's event starts."""
    events = [event for event in (*DANGEROUS_TRIGGERS, *UNTRUSTED_TRIGGERS) if event in workflow.triggers]
    if not events:
        return
    for job in workflow.jobs.values():
        for step in job_steps(job):
            uses = step.get("uses")
            if not isinstance(uses, str) or uses.startswith(("./", "docker://")):
                continue
            ref = uses.partition("@")[2]
            if _SHA.match(ref) or _VERSION.match(ref):
                continue  # pinned, or a version tag (unpinned-action reports that)
            secret = _handed_secret(workflow, job, step)
            if secret is not None:
                yield workflow.finding(
                    "secrets-to-branch-action",
                    ERROR,
                    key_line(step, "uses", 1),
                    f"`{uses}` is pinned to a branch and handed {secret} in a workflow `{events[0]}` starts: "
                    "whoever can push to that branch gets the secret on any run an outsider causes",
                    "Pin the action to a full commit SHA (`uses: owner/action@<sha> # v1.2.3`), or pass it no secret.",
                )


def _handed_secret(workflow: Workflow, job: Any, step: Any) -> str | None:
    for holder, what in ((step.get("with"), "`with:`"), (step.get("env"), "`env:`")):
        if isinstance(holder, dict):
            for name, value in holder.items():
                found = _SECRET.search(str(value))
                if found:
                    return f"`{found.group(0).removeprefix('${{').strip()}` (as {what} `{name}`)"
    for holder, what in ((job.get("env"), "the job's `env:`"), (workflow.doc.get("env"), "the workflow's `env:`")):
        if isinstance(holder, dict) and any(_SECRET.search(str(value)) for value in holder.values()):
            return f"a secret through {what}"
    return None


RULES: tuple[Rule, ...] = (secrets_to_branch_action,)
