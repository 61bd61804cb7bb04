"""The journal's store: the release in progress, its history, its logs, and the lock.

It lives in the git common directory so that it never dirties the working
tree and is never committed. Every write is atomic (temp file, fsync,
rename), so a crash leaves the old state or the new one, never a torn one.
What a record holds is relsafe.journal.records; the paths of a release's own
files are relsafe.journal.paths.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from relsafe.core import failpoint
from relsafe.core.errors import DamagedJournal, JournalError, JournalWriteFailed, Refused
from relsafe.core.redaction import DEFAULT_REDACTOR
from relsafe.journal.paths import ReleaseFolder, journal_dir, releases_dir
from relsafe.journal.records import SCHEMA_VERSION, Release, now, record_problem

SET_ASIDE = (
    "run `relsafe abort` to set it aside (kept under damaged/), then check `git status`, `git tag` and "
    "`git log` for what the release had done; or restore the file"
)


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
        self.dir = journal_dir(git_common_dir)
        self.state_path = self.dir / "state.json"
        self.history_dir = self.dir / "history"
        self.logs_dir = self.dir / "logs"
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
        problem = record_problem(data, self.steps)
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

    def folder(self, release_id: str) -> ReleaseFolder:
        """The release's own folder: its artifacts and its steps' working files."""
        return ReleaseFolder(self.dir, release_id)

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

        for folder in (self.dir, self.history_dir, self.logs_dir, releases_dir(self.dir)):
            refuse_non_folder(folder)
        private_folder(self.dir)
        holder = self.dir / "lock.pid"
        for path in (self.lock_path, holder):
            if os.path.isdir(path):
                raise JournalError(
                    f"{path}: expected a file, found a folder",
                    hint=f"remove it (`rm -r {path}`); relsafe makes the file again",
                )
        private_folder(releases_dir(self.dir))
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
