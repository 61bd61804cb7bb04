"""Which runner a job runs on, as far as the workflow says: a self-hosted one keeps what earlier jobs left."""

from __future__ import annotations

import re
from typing import Any

from relsafe.security.workflow.model import patterns

_MATRIX_KEY = re.compile(r"^\$\{\{\s*matrix\s*\.\s*([\w-]+)\s*\}\}$")


def self_hosted(job: Any) -> str | None:
    """How the job may land on a self-hosted runner: the `self-hosted` label, a runner group (where organisations
    keep their own machines), or a matrix value that holds the label; None when it cannot."""
    runs_on = job.get("runs-on")
    if isinstance(runs_on, dict) and "group" in runs_on:
        return f"the runner group `{runs_on['group']}`"
    labels = patterns(runs_on.get("labels") if isinstance(runs_on, dict) else runs_on)
    if "self-hosted" in {label.lower() for label in labels}:
        return "a self-hosted runner"
    for label in labels:
        key = _MATRIX_KEY.match(label.strip())
        if key and "self-hosted" in {value.lower() for value in _matrix_values(job, key.group(1))}:
            return f"a self-hosted runner (`matrix.{key.group(1)}` holds `self-hosted`)"
    return None


def _matrix_values(job: Any, key: str) -> list[str]:
    """Every label a matrix key can take: its list, and its `include:` entries (a value may be a list itself)."""
    strategy = job.get("strategy")
    matrix = strategy.get("matrix") if isinstance(strategy, dict) else None
    if not isinstance(matrix, dict):
        return []
    values = list(matrix.get(key) or []) if isinstance(matrix.get(key), list) else []
    include = matrix.get("include")
    values += [entry.get(key) for entry in include if isinstance(entry, dict)] if isinstance(include, list) else []
    return [label for value in values for label in patterns(value)]
