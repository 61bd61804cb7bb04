"""What a run of a publish workflow's jobs is told and tells: its trigger, the publish step, the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from relsafe.core.errors import StepFailed

EMULATED = ("actions/checkout", "actions/upload-artifact", "actions/download-artifact", "actions/setup-python")
STEP_TIMEOUT = 30 * 60.0  # seconds: a step without timeout-minutes gets this much here


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


class Stop(Exception):
    """The run cannot go on honestly from here."""


def needs_of(job: Any) -> list[str]:
    needs = job.get("needs") if isinstance(job, dict) else None
    return [needs] if isinstance(needs, str) else [str(item) for item in needs or []]


def action_name(uses: str) -> str:
    return uses.partition("@")[0].lower()


class ActionFailed(Exception):
    """An emulated action fails the way the action would."""
