"""Who a job's OIDC token is for: `id-token: write` is judged by its consumer, the step that asks for the token.

PyPI accepts a GitHub OIDC token only from the workflow registered as its
Trusted Publisher, and that is a workflow that uploads. Elsewhere the token
serves another consumer: OpenSSF Scorecard publishing its results, a
credential broker trading it for a scoped token, crates.io or npm trusted
publishing, a cloud login, a benchmark service. In a workflow that does
upload, those jobs' tokens are PyPI's too (unless PyPI's publisher names an
environment they do not run in), so there the consumer only softens the
verdict; a job whose token nothing known asks for could be uploading through
an action relsafe cannot read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from relsafe.security.workflow.references import local_path

# Actions that ask for the job's OIDC token, by the start of their lower-cased `owner/name`, and what for.
ACTION_CONSUMERS = {
    "actions/attest": "GitHub artifact attestations",
    "sigstore/": "Sigstore signing",
    "slsa-framework/slsa-github-generator": "SLSA provenance",
    "hynek/build-and-inspect-python-package": "GitHub artifact attestations",
    "ossf/scorecard-action": "OpenSSF Scorecard",
    "rust-lang/crates-io-auth-action": "crates.io trusted publishing",
    "aws-actions/configure-aws-credentials": "an AWS login",
    "google-github-actions/auth": "a Google Cloud login",
    "azure/login": "an Azure login",
    "hashicorp/vault-action": "a Vault login",
    "octo-sts/action": "a credential broker (Octo STS)",
    "open-security-tools/ost-simple-sts": "a credential broker (STS)",
    "codspeedhq/action": "CodSpeed",
    "codecov/codecov-action": "Codecov",
    "depot/": "Depot",
}
# Commands that ask for it in a script, and what for.
COMMAND_CONSUMERS = (
    (re.compile(r"\bnpm\s+publish\b"), "npm trusted publishing"),
    (re.compile(r"\bcosign\s+(?:sign|attest)"), "cosign signing"),
    (re.compile(r"\bsigstore\s+sign\b"), "Sigstore signing"),
)
# The consumer that needs no finding at all: attestations are signed with the token, in any job that makes them.
SIGNING = "GitHub artifact attestations"


def consumer(job: Any, root: Path | None, _seen: frozenset[Path] = frozenset()) -> str | None:
    """What asks for this job's OIDC token: the first step whose action or command relsafe knows (for a job that
    calls a reusable workflow of this repository, a step of that workflow); None when none does."""
    called = local_path(job.get("uses"))
    if called is not None:
        return _called_consumer(root / called, root, _seen) if root is not None else None
    steps = job.get("steps")
    for step in steps if isinstance(steps, list) else []:
        found = _step_consumer(step) if isinstance(step, dict) else None
        if found:
            return found
    return None


def _step_consumer(step: Any) -> str | None:
    uses = step.get("uses")
    if isinstance(uses, str):
        name = uses.partition("@")[0].lower()
        for prefix, what in ACTION_CONSUMERS.items():
            if name.startswith(prefix):
                return what
    run = step.get("run")
    if isinstance(run, str):
        for command, what in COMMAND_CONSUMERS:
            if command.search(run):
                return what
    return None


def _called_consumer(path: Path, root: Path, seen: frozenset[Path]) -> str | None:
    """The consumer in a called workflow's jobs; a missing, unreadable or already visited file has none."""
    resolved = path.resolve()
    if resolved in seen or not path.is_file():
        return None
    try:
        doc = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, YAMLError):
        return None
    jobs = doc.get("jobs") if isinstance(doc, dict) else None
    for job in jobs.values() if isinstance(jobs, dict) else []:
        found = consumer(job, root, seen | {resolved}) if isinstance(job, dict) else None
        if found:
            return found
    return None
