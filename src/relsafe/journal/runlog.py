"""The log of one relsafe run: every subprocess's command and output, redacted, readable by its owner only."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from relsafe.core.errors import JournalWriteFailed
from relsafe.core.redaction import DEFAULT_REDACTOR, Redactor

APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT
"""How the log is opened: a new log is made with mode 0600, whatever the umask."""


_latest: list[Path] = []  # at most one: the path of the newest log


def latest_path() -> Path | None:
    """The log this process opened last: where the CLI's last-resort guard puts a traceback, wherever in
    the run the unforeseen error came from."""
    return _latest[-1] if _latest else None


class RunLog:
    """Append-only text log; safe to write from the threads that overlap work."""

    def __init__(self, path: Path | None, redactor: Redactor = DEFAULT_REDACTOR) -> None:
        self.path = path
        self.redact = redactor
        self._lock = threading.Lock()
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise JournalWriteFailed.at(path, error) from None
            _latest[:] = [path]

    def write(self, text: str) -> None:
        if self.path is None:
            return
        stamp = time.strftime("%H:%M:%S")
        clean = self.redact(text)
        try:
            with self._lock, open(os.open(self.path, APPEND, 0o600), "a", encoding="utf-8") as stream:
                for line in clean.splitlines() or [""]:
                    stream.write(f"{stamp} {line}\n")
        except OSError as error:  # a full disk: say so, rather than a traceback from whichever tool was logging
            raise JournalWriteFailed.at(self.path, error) from None
