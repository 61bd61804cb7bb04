"""The journal's records: a release, its steps, and what each step records for the ones after it.

A step's outputs are stored as the JSON it returned; the accessors on Release
are where a reader finds what a step recorded and which step recorded it, so
no step reaches into another's outputs by key. The on-disk format is that JSON
unchanged: `Status` is a `str` enum, so it is written as its value.
"""

from __future__ import annotations

import dataclasses
import time
import types
import typing
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any

from relsafe.core.errors import StepFailed
from relsafe.model import build_requirements
from relsafe.model.release_diff import ReleaseDiff

SCHEMA_VERSION = 1
MANUAL_STEP = "manual_step"
"""The push step's output naming what a person must still do for the upload to happen (status shows it)."""
GATE_PREFIX = "gate:"
"""A gate's step (and record) is named `gate:<name>`."""


class Status(str, Enum):
    """The state of a step, and of a release: running, done, failed, waiting and interrupted apply to both;
    pending and skipped to steps; aborted, refused and rehearsed to a release; blocked to a step, and to a
    rehearsal that found blockers."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    BLOCKED = "blocked"
    WAITING = "waiting"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"
    ABORTED = "aborted"
    REFUSED = "refused"
    REHEARSED = "rehearsed"

    def __str__(self) -> str:
        """The value, as the journal and the screen show it (not `Status.DONE`)."""
        return self.value


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass(frozen=True)
class Artifact:
    """A built file as the build records it: what inspect, smoke and stage check, and the tag's manifest names."""

    name: str
    kind: str  # "sdist" or "wheel"
    size: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Artifact:
        return cls(str(data["name"]), str(data["kind"]), int(data["size"]), str(data["sha256"]))


@dataclass(frozen=True)
class TreeWheel:
    """The wheel the build made straight from the tree, beside the release's: what inspect's sdist check compares
    with (a build recorded before it existed has none)."""

    name: str
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TreeWheel:
        return cls(str(data["name"]), str(data["sha256"]))


@dataclass(frozen=True)
class Installed:
    """A distribution installed beside the wheel in a test venv because the wheel (with its [test] extras) needs
    it, directly or through another: what audit-deps audits and locks."""

    name: str
    """Canonical (PEP 503) name."""
    version: str
    tags: tuple[str, ...] = ()
    """The wheel tags its WHEEL file names (`py3-none-any`): which of the index's files was installed."""
    via: str | None = None
    """The distribution whose requirement brought it in; None when the wheel requires it itself."""
    files: str | None = None
    """sha256 of the installed files' own hashes as its RECORD lists them (relsafe.wheeltest.installed): equal
    when the same file was installed; None in a record written before relsafe kept it."""

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"name": self.name, "version": self.version, "tags": list(self.tags), "via": self.via}
        if self.files is not None:
            found["files"] = self.files
        return found

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Installed:
        via, files = data.get("via"), data.get("files")
        return cls(
            str(data["name"]),
            str(data["version"]),
            tuple(str(tag) for tag in data.get("tags", [])),
            str(via) if via else None,
            str(files) if files else None,
        )


@dataclass(frozen=True)
class TestedEnvironment:
    """One venv smoke tested the wheel in: its interpreter, the marker values it had, and the wheel's dependencies
    as installed there (the [test] requires and groups only they needed left out)."""

    python: str
    markers: dict[str, str]
    installed: tuple[Installed, ...]


@dataclass(frozen=True)
class Confirmation:
    """How a gate's checklist was confirmed: by a flag, on the terminal, or only shown in a rehearsal."""

    how: str
    items: list[str]


def checked_build_requirements(pins: list[str], where: str) -> list[str]:
    """The build's `name==version` pins, refused as damaged when one is not a pin (relsafe.model.build_requirements)."""
    try:
        return build_requirements.checked(pins)
    except ValueError as error:
        raise StepFailed(
            f"the build's requirements recorded in {where} are damaged: {error}",
            hint="run `relsafe abort` and release again",
        ) from None


@dataclass
class StepRecord:
    status: Status = Status.PENDING
    attempts: int = 0
    started: str | None = None
    ended: str | None = None
    seconds: float | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_details: list[str] = field(default_factory=list)  # the reasons or tool lines behind `error`


@dataclass
class Release:
    """One release, from its request to done or aborted."""

    id: str
    request: str
    from_version: str
    version: str
    tag: str
    branch: str
    remote: str
    base_commit: str
    config_fingerprint: str
    order: list[str]
    rehearsal: bool = False
    status: Status = Status.RUNNING
    created: str = field(default_factory=now)
    updated: str = field(default_factory=now)
    runs: int = 0
    steps: dict[str, StepRecord] = field(default_factory=dict)
    blockers: list[dict[str, str]] = field(default_factory=list)
    schema: int = SCHEMA_VERSION

    @property
    def from_label(self) -> str:
        """The starting version for the screen; a first release (of an SCM-versioned project) has none."""
        return self.from_version or "(first release)"

    def step(self, name: str) -> StepRecord:
        return self.steps.setdefault(name, StepRecord())

    def _output(self, step: str, key: str) -> Any:
        record = self.steps.get(step)
        return record.outputs.get(key) if record is not None else None

    @property
    def bump_commit(self) -> str | None:
        """bump: the release commit (for an SCM-versioned project, the commit the release started from)."""
        commit = self._output("bump", "commit")
        return str(commit) if commit else None

    @property
    def bump_files(self) -> list[str]:
        """bump: the files its commit changed."""
        return [str(path) for path in self._output("bump", "files") or []]

    def artifacts(self) -> list[Artifact]:
        """build: the sdist and the wheel, in the release folder's dist/."""
        return [Artifact.from_dict(entry) for entry in self._output("build", "artifacts") or []]

    def artifact_hashes(self) -> dict[str, str]:
        """build: each built file's sha256 by its name; what the later steps' fingerprints hold."""
        return {artifact.name: artifact.sha256 for artifact in self.artifacts()}

    def build_requirements(self) -> list[str]:
        """build: the `name==version` pins it ran with; StepFailed when the record is damaged."""
        return checked_build_requirements(
            [str(pin) for pin in self._output("build", "build_requires") or []], "the journal"
        )

    @property
    def source_date_epoch(self) -> int | None:
        """build: the time it gave its build, so that a rebuild gives the same bytes (None when not recorded)."""
        return int(self._output("build", "source_date_epoch") or 0) or None

    def tree_wheel(self) -> TreeWheel | None:
        """build: the wheel it made from the tree, when it made one."""
        recorded = self._output("build", "tree_wheel")
        return TreeWheel.from_dict(recorded) if recorded else None

    def tested_environments(self) -> list[TestedEnvironment] | None:
        """smoke: each venv it tested the wheel in, with the dependencies installed there; None when it recorded
        none (a smoke step of a relsafe before audit-deps)."""
        environments = self._output("smoke", "environments") or []
        if not environments or any("installed" not in entry for entry in environments):
            return None
        return [
            TestedEnvironment(
                str(entry["python"]),
                {str(key): str(value) for key, value in (entry.get("markers") or {}).items()},
                tuple(Installed.from_dict(item) for item in entry["installed"]),
            )
            for entry in environments
        ]

    @property
    def dependency_lock_sha256(self) -> str | None:
        """audit-deps: the sha256 of the pylock.toml it wrote of the tested environment (the manifest carries it)."""
        value = self._output("audit-deps", "lock_sha256")
        return str(value) if value else None

    @property
    def audit_ignores(self) -> list[str]:
        """audit-deps: each reviewed ignore that let an advisory pass, as one line (the manifest carries them)."""
        return [str(entry["line"]) for entry in self._output("audit-deps", "ignored") or []]

    @property
    def release_diff(self) -> ReleaseDiff | None:
        """inspect: what changed since the previous release on production (recorded also when inspect refused
        the release for it); None when inspect has not compared, or a record cannot be read as one."""
        recorded = self._output("inspect", "diff")
        if not isinstance(recorded, dict):
            return None
        try:
            return ReleaseDiff.from_dict(recorded)
        except (KeyError, TypeError, ValueError):
            return None

    @property
    def staged_files(self) -> list[str]:
        """stage: the files the staging index has confirmed, recorded one by one as they land."""
        return [str(name) for name in self._output("stage", "uploaded") or []]

    @property
    def preflight_warnings(self) -> list[str]:
        """preflight: what it found worth saying that stops nothing."""
        return [str(warning) for warning in self._output("preflight", "warnings") or []]

    @property
    def publish_workflow(self) -> str | None:
        """preflight: the workflow file that publishes, the one the tag triggers."""
        found = self._output("preflight", "publish_workflow")
        return str(found) if found else None

    @property
    def unproven(self) -> str | None:
        """push: why what the tag publishes is not proven to be the tested files (a project's own workflow)."""
        found = self._output("push", "unproven")
        return str(found) if found else None

    @property
    def tag_manifest(self) -> list[str]:
        """tag: the lines of the manifest its message ends with."""
        return [str(line) for line in self._output("tag", "manifest") or []]

    @property
    def manual_step(self) -> str | None:
        """push: what a person must still do for the upload to happen (a GitHub Release to publish)."""
        value = self._output("push", MANUAL_STEP)
        return str(value) if value else None

    def confirmation(self, gate: str) -> Confirmation | None:
        """The gate named `gate`: how its checklist was confirmed; None while it has not been."""
        record = self.steps.get(GATE_PREFIX + gate)
        if record is None or "how" not in record.outputs:
            return None
        return Confirmation(str(record.outputs["how"]), [str(item) for item in record.outputs.get("items", [])])

    def mark_interrupted(self) -> None:
        """Ctrl-C or SIGTERM stopped the run: the steps it was running are recorded as interrupted."""
        self.status = Status.INTERRUPTED
        for record in self.steps.values():
            if record.status == Status.RUNNING:
                record.status, record.ended = Status.INTERRUPTED, now()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Release:
        """A record as `to_dict` made it; keys this relsafe does not know are left out. `record_problem` has
        checked it first."""
        steps = {name: _step_record(record) for name, record in data.get("steps", {}).items()}
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k not in ("steps", "status")}
        return cls(steps=steps, status=Status(data.get("status", Status.RUNNING)), **fields)


def _step_record(data: dict[str, Any]) -> StepRecord:
    fields = {k: v for k, v in data.items() if k in StepRecord.__dataclass_fields__ and k != "status"}
    return StepRecord(status=Status(data.get("status", Status.PENDING)), **fields)


def _conforms(value: Any, hint: Any) -> bool:
    """Whether a JSON value has the type a field's annotation names (str, int, float, bool, None, a str enum,
    unions, lists and string-keyed dicts of them, Any)."""
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    if isinstance(hint, type) and issubclass(hint, Enum):
        return isinstance(value, str) and any(value == member.value for member in hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, arg) for arg in args)
    if origin is list:
        return isinstance(value, list) and all(_conforms(item, args[0]) for item in value)
    if origin is dict:
        return isinstance(value, dict) and all(
            isinstance(key, str) and _conforms(item, args[1]) for key, item in value.items()
        )
    if hint in (int, float):
        return isinstance(value, (int, float) if hint is float else int) and not isinstance(value, bool)
    return isinstance(value, hint)


def _field_problem(data: dict[str, Any], kind: type[Release] | type[StepRecord], where: str) -> str | None:
    hints = typing.get_type_hints(kind)
    for spec in dataclasses.fields(kind):
        name = spec.name
        if name not in data:
            required = spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
            if required:
                return f"{where}{name}: missing"
            continue
        if name != "steps" and not _conforms(data[name], hints[name]):
            return f"{where}{name}: expected {_type_name(hints[name])}, found {data[name]!r:.60}"
    return None


def _type_name(hint: Any) -> str:
    if isinstance(hint, type) and issubclass(hint, Enum):
        return "one of " + ", ".join(str(member.value) for member in hint)
    return str(hint).replace("typing.", "") if typing.get_args(hint) else getattr(hint, "__name__", str(hint))


def _known_step(name: Any, known_steps: Collection[str]) -> bool:
    return isinstance(name, str) and (
        name in known_steps or (name.startswith(GATE_PREFIX) and len(name) > len(GATE_PREFIX))
    )


def record_problem(data: Any, known_steps: Collection[str]) -> str | None:
    """What makes `data` not a release record this relsafe can resume from, or None. A newer schema is
    found before this (see `Journal._read`)."""
    if not isinstance(data, dict):
        return f"expected a JSON object, found {type(data).__name__ if data is not None else 'null'}"
    problem = _field_problem(data, Release, "")
    if problem is not None:
        return problem
    for name in data["order"]:
        if not _known_step(name, known_steps):
            return f"order: unknown step {name!r}"
    steps = data.get("steps", {})
    if not isinstance(steps, dict):
        return f"steps: expected an object, found {steps!r:.60}"
    for name, record in steps.items():
        if not _known_step(name, known_steps):
            return f"steps: unknown step {name!r}"
        if not isinstance(record, dict):
            return f"steps.{name}: expected an object, found {record!r:.60}"
        problem = _field_problem(record, StepRecord, f"steps.{name}.")
        if problem is not None:
            return problem
    return None
