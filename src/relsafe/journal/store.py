"""The journal: the release in progress, its history, its logs, and the lock.

It lives in the git common directory so that it never dirties the working
tree and is never committed. Every write is atomic (temp file, fsync,
rename), so a crash leaves the old state or the new one, never a torn one.
"""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import tempfile
import threading
import time
import types
import typing
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from relsafe.core import failpoint
from relsafe.core.errors import DamagedJournal, JournalError, JournalWriteFailed, Refused
from relsafe.core.redaction import DEFAULT_REDACTOR

SCHEMA_VERSION = 1
MANUAL_STEP = "manual_step"
"""The push step's output naming what a person must still do for the upload to happen (status shows it)."""
SET_ASIDE = (
    "run `relsafe abort` to set it aside (kept under damaged/), then check `git status`, `git tag` and "
    "`git log` for what the release had done; or restore the file"
)

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
        """A record as `to_dict` made it; keys this relsafe does not know are left out. `_record_problem` has
        checked it first."""
        steps = {
            name: StepRecord(**{k: v for k, v in record.items() if k in StepRecord.__dataclass_fields__})
            for name, record in data.get("steps", {}).items()
        }
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "steps"}
        return cls(steps=steps, **fields)


def _conforms(value: Any, hint: Any) -> bool:
    """Whether a JSON value has the type a field's annotation names (str, int, float, bool, None, unions,
    lists and string-keyed dicts of them, Any)."""
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
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
    return str(hint).replace("typing.", "") if typing.get_args(hint) else getattr(hint, "__name__", str(hint))


def _known_step(name: Any, known_steps: Collection[str]) -> bool:
    return isinstance(name, str) and (name in known_steps or (name.startswith("gate:") and len(name) > 5))


def _record_problem(data: Any, known_steps: Collection[str]) -> str | None:
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


PRIVATE_FOLDER, PRIVATE_FILE = 0o700, 0o600
"""The journal and the logs name the indexes, the project and what failed: for the owner's eyes only."""


def refuse_non_folder(folder: Path) -> None:
    """A file (or a dangling symlink) where the journal keeps a folder: found before anything is written, so
    that no release starts that could not be recorded to its end."""
    if os.path.lexists(folder) and not folder.is_dir():
        raise JournalError(
            f"{folder}: expected a folder, found {'a dangling symlink' if folder.is_symlink() else 'a file'}",
            hint=f"move it aside (`mv {folder} {folder}.aside`) and run the command again; relsafe makes the folder",
        )


def private_folder(folder: Path) -> Path:
    """The folder, made if missing and kept readable by its owner only (also when an older relsafe made it)."""
    refuse_non_folder(folder)
    try:
        folder.mkdir(mode=PRIVATE_FOLDER, parents=True, exist_ok=True)
        if folder.stat().st_mode & 0o777 != PRIVATE_FOLDER:
            folder.chmod(PRIVATE_FOLDER)
    except OSError as error:
        raise JournalWriteFailed.at(folder, error) from None
    return folder


def make_private(tree: Path) -> None:
    """Every folder under `tree` 0700 and every file without access for others, whatever the umask the steps
    and the tools they ran created them with (a build's files, a download, a venv). Symlinks are left as
    they are: their targets are not the journal's."""
    for folder, folders, files in os.walk(tree):
        for name in folders:
            _without_others(Path(folder) / name, PRIVATE_FOLDER)
        for name in files:
            _without_others(Path(folder) / name, None)
    _without_others(tree, PRIVATE_FOLDER)


def _without_others(path: Path, mode: int | None) -> None:
    try:
        status = path.lstat()
        if stat.S_ISLNK(status.st_mode):
            return
        current = stat.S_IMODE(status.st_mode)
        wanted = mode if mode is not None else current & ~0o077
        if current != wanted:
            path.chmod(wanted)
    except OSError:  # removed meanwhile, or not ours: nothing to keep private
        return


def _journal_text(release: Release) -> str:
    """The release as the journal stores it: redacted, since a message may quote a tool or a file."""
    return json.dumps(DEFAULT_REDACTOR.data(release.to_dict()), indent=2, sort_keys=True) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write via a temp file in the same folder, fsync it, rename it over, fsync the folder.

    The temp file is made with mode 0600 (mkstemp), and keeps it when renamed.
    """
    private_folder(path.parent)
    if os.path.isdir(path):
        raise JournalError(f"{path}: expected a file, found a folder", hint="move it aside and run the command again")
    try:
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
    except OSError as error:
        raise JournalWriteFailed.at(path, error) from None


class Journal:
    """The folder `<git common dir>/relsafe/` and what is in it."""

    def __init__(self, git_common_dir: Path, steps: Collection[str]) -> None:
        """`steps` are the step names this relsafe knows (the step table's): a record naming another is damaged."""
        self.steps = steps
        self.dir = git_common_dir / "relsafe"
        self.state_path = self.dir / "state.json"
        self.history_dir = self.dir / "history"
        self.logs_dir = self.dir / "logs"
        self.releases_dir = self.dir / "releases"
        self.lock_path = self.dir / "lock"
        self.runs_dir = self.dir / "runs"  # one record per live run: what to end and remove if it is killed
        self._writing = threading.Lock()

    def current(self) -> Release | None:
        refuse_non_folder(self.dir)
        if not os.path.lexists(self.state_path):
            return None
        return self._read(self.state_path, SET_ASIDE)

    def _read(self, path: Path, fix: str) -> Release:
        """A record, or the error that names the file, what is wrong with it and `fix`."""
        if os.path.isdir(path) or not path.exists():
            found = "a folder" if path.is_dir() else "a dangling symlink"
            raise DamagedJournal(f"{path}: the journal cannot be read: expected a file, found {found}", hint=fix)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as error:
            raise JournalError(f"{path}: the journal cannot be read: {error.strerror}", hint=fix) from None
        except ValueError as error:  # not UTF-8, not JSON
            raise DamagedJournal(f"{path}: the journal cannot be read: not JSON ({error})", hint=fix) from None
        schema = data.get("schema") if isinstance(data, dict) else None
        if isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA_VERSION:
            raise JournalError(
                f"{path}: written by a newer relsafe (journal schema {schema}; this relsafe reads {SCHEMA_VERSION})",
                hint="upgrade relsafe (`pip install -U relsafe`) to resume, show or abort that release",
            )
        problem = _record_problem(data, self.steps)
        if problem is not None:
            raise DamagedJournal(f"{path}: the journal cannot be read: {problem}", hint=fix)
        return Release.from_dict(data)

    def set_aside(self) -> Path:
        """Move an unreadable state.json out of the way, kept for a person to read: `abort` on a damaged journal."""
        target = private_folder(self.dir / "damaged") / f"state-{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}.json"
        try:
            os.replace(self.state_path, target)
        except OSError as error:
            raise JournalWriteFailed.at(self.state_path, error) from None
        return target

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
        refuse_non_folder(self.history_dir)
        if not self.history_dir.is_dir():
            return []
        paths = sorted(self.history_dir.glob("*.json"), key=lambda p: p.lstat().st_mtime)
        return [self._read(path, f"move {path.name} out of {self.history_dir}; nothing was changed") for path in paths]

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

        for folder in (self.dir, self.history_dir, self.logs_dir, self.releases_dir):
            refuse_non_folder(folder)
        private_folder(self.dir)
        holder = self.dir / "lock.pid"
        for path in (self.lock_path, holder):
            if os.path.isdir(path):
                raise JournalError(
                    f"{path}: expected a file, found a folder",
                    hint=f"remove it (`rm -r {path}`); relsafe makes the file again",
                )
        private_folder(self.releases_dir)
        lock = FileLock(str(self.lock_path), timeout=0, mode=PRIVATE_FILE)
        try:
            lock.acquire()
        except Timeout:  # before OSError: filelock's Timeout is a TimeoutError
            owner = holder.read_text(encoding="utf-8").strip() if holder.is_file() else "another process"
            raise Refused(
                f"another relsafe is running on this repository ({owner})",
                hint="wait for it to finish; a lock left by a killed process is released automatically",
            ) from None
        except OSError as error:
            raise JournalWriteFailed.at(self.lock_path, error) from None
        try:
            try:
                with open(os.open(holder, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE), "w") as stream:
                    stream.write(f"pid {os.getpid()}")
            except OSError as error:
                raise JournalWriteFailed.at(holder, error) from None
            yield
        finally:
            make_private(self.dir)
            lock.release()
