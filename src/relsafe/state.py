"""The journal: the release in progress, its history, its logs, and the lock.

It lives in the git common directory so that it never dirties the working
tree and is never committed. Every write is atomic (temp file, fsync,
rename), so a crash leaves the old state or the new one, never a torn one.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from relsafe import failpoint
from relsafe.errors import Refused
from relsafe.security.redaction import DEFAULT_REDACTOR

SCHEMA_VERSION = 1

PENDING, RUNNING, DONE, FAILED, BLOCKED, WAITING, SKIPPED, INTERRUPTED = (
    "pending",
    "running",
    "done",
    "failed",
    "blocked",
    "waiting",
    "skipped",
    "interrupted",
)


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class StepRecord:
    status: str = PENDING
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
    status: str = RUNNING
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

    def output(self, step: str, key: str) -> Any:
        """An output a finished earlier step recorded (the bump commit, the artifacts)."""
        return self.steps.get(step, StepRecord()).outputs.get(key)

    def mark_interrupted(self) -> None:
        """Ctrl-C or SIGTERM stopped the run: the steps it was running are recorded as interrupted."""
        self.status = INTERRUPTED
        for record in self.steps.values():
            if record.status == RUNNING:
                record.status, record.ended = INTERRUPTED, now()

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Release:
        steps = {name: StepRecord(**record) for name, record in data.get("steps", {}).items()}
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "steps"}
        return cls(steps=steps, **fields)


PRIVATE_FOLDER, PRIVATE_FILE = 0o700, 0o600
"""The journal and the logs name the indexes, the project and what failed: for the owner's eyes only."""


def private_folder(folder: Path) -> Path:
    """The folder, made if missing and kept readable by its owner only (also when an older relsafe made it)."""
    folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
    if folder.stat().st_mode & 0o777 != PRIVATE_FOLDER:
        folder.chmod(PRIVATE_FOLDER)
    return folder


def _journal_text(release: Release) -> str:
    """The release as the journal stores it: redacted, since a message may quote a tool or a file."""
    return json.dumps(DEFAULT_REDACTOR.data(release.to_dict()), indent=2, sort_keys=True) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write via a temp file in the same folder, fsync it, rename it over, fsync the folder.

    The temp file is made with mode 0600 (mkstemp), and keeps it when renamed.
    """
    private_folder(path.parent)
    descriptor, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        failpoint.hit("journal-write")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


class Journal:
    """The folder `<git common dir>/relsafe/` and what is in it."""

    def __init__(self, git_common_dir: Path) -> None:
        self.dir = git_common_dir / "relsafe"
        self.state_path = self.dir / "state.json"
        self.history_dir = self.dir / "history"
        self.logs_dir = self.dir / "logs"
        self.releases_dir = self.dir / "releases"
        self.lock_path = self.dir / "lock"
        self.runs_dir = self.dir / "runs"  # one record per live run: what to end and remove if it is killed
        self._writing = threading.Lock()

    def current(self) -> Release | None:
        if not self.state_path.is_file():
            return None
        return self._read(self.state_path)

    def _read(self, path: Path) -> Release:
        try:
            return Release.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as error:
            raise Refused(
                f"{path}: the journal cannot be read ({error})",
                hint="move the file aside and run `relsafe status`; nothing was changed",
            ) from None

    def save(self, release: Release) -> None:
        """Write the release's state; serialised, because concurrent steps record their ends."""
        private_folder(self.dir)
        with self._writing:
            release.updated = now()
            write_atomically(self.state_path, _journal_text(release))

    def finish(self, release: Release) -> Path:
        """Move a finished, aborted or rehearsed release into history."""
        target = self.history_dir / f"{release.id}.json"
        private_folder(self.dir)
        write_atomically(target, _journal_text(release))
        if not release.rehearsal:
            self.state_path.unlink(missing_ok=True)
        return target

    def history(self) -> list[Release]:
        if not self.history_dir.is_dir():
            return []
        paths = sorted(self.history_dir.glob("*.json"), key=lambda p: p.stat().st_mtime)
        return [self._read(path) for path in paths]

    def last(self) -> Release | None:
        current = self.current()
        if current is not None:
            return current
        history = self.history()
        return history[-1] if history else None

    def artifacts_dir(self, release: Release) -> Path:
        return self.releases_dir / release.id / "dist"

    def scratch_folders(self, release: Release) -> list[Path]:
        """What the release's steps made besides its artifacts (virtualenvs, downloads, build checkouts):
        tens of megabytes that nothing needs once the release has ended."""
        folder = self.releases_dir / release.id
        if not folder.is_dir():
            return []
        keep = self.artifacts_dir(release)
        return sorted(path for path in folder.iterdir() if path != keep)

    def new_log(self) -> Path:
        private_folder(self.dir)
        private_folder(self.logs_dir)
        return self.logs_dir / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.log"

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the repository's release lock.

        filelock uses flock(2): the kernel drops it when its holder dies, so a
        lock left by a killed relsafe is recovered without any guessing.
        """
        from filelock import FileLock, Timeout

        private_folder(self.dir)
        holder = self.dir / "lock.pid"
        lock = FileLock(str(self.lock_path), timeout=0, mode=PRIVATE_FILE)
        try:
            lock.acquire()
        except Timeout:
            owner = holder.read_text(encoding="utf-8").strip() if holder.is_file() else "another process"
            raise Refused(
                f"another relsafe is running on this repository ({owner})",
                hint="wait for it to finish; a lock left by a killed process is released automatically",
            ) from None
        try:
            with open(os.open(holder, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "w") as stream:
                stream.write(f"pid {os.getpid()}")
            yield
        finally:
            lock.release()
