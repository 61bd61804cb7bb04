"""The errors relsafe reports, each carrying the exit code the CLI maps it to.

Every failure a user can meet is a RelsafeError: one line that names what is
wrong, an optional hint that says how to go on, and optional detail lines
(the tail of a failing command's output). Anything else is a bug.

All three are redacted when the error is made: an error may quote a tool, a
file or a URL holding a secret, and it reaches the screen and the journal.
"""

from __future__ import annotations

import errno
from enum import IntEnum
from pathlib import Path

from relsafe.core import interruption
from relsafe.core.redaction import DEFAULT_REDACTOR


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    GATE = 3
    REFUSED = 4
    INTERRUPTED = 130  # 128 + SIGINT, what shells report for a command stopped by Ctrl-C
    TERMINATED = 143  # 128 + SIGTERM: a service manager, `timeout` or a cancelled CI job stopped it


class RelsafeError(Exception):
    """Base of every error shown to the user."""

    exit_code: ExitCode = ExitCode.FAILED
    label = "error"  # how the screen introduces the message

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        details: list[str] | None = None,
    ) -> None:
        message = DEFAULT_REDACTOR(message)
        super().__init__(message)
        self.message = message
        self.hint = DEFAULT_REDACTOR(hint) if hint is not None else None
        self.details = [DEFAULT_REDACTOR(line) for line in details or []]
        self.log_path: Path | None = None  # set once the error is known to belong to a run with a log


class StepFailed(RelsafeError):
    """A step could not do its work; the release stays resumable (exit 1)."""

    exit_code = ExitCode.FAILED


class ToolFailed(StepFailed):
    """An outside tool (git, pip, twine, build...) failed; details hold its last lines."""


class ConfigError(RelsafeError):
    """release.toml or pyproject's [tool.relsafe] is invalid (exit 2)."""

    exit_code = ExitCode.USAGE


class JournalError(RelsafeError):
    """The journal folder cannot be used as it is: a file where a folder belongs, a record from a newer
    relsafe (exit 2). The user must fix it; nothing was changed."""

    exit_code = ExitCode.USAGE


class DamagedJournal(JournalError):
    """state.json is not a record this relsafe wrote (not JSON, not an object, a wrong type, an unknown
    step); `relsafe abort` sets it aside (exit 2)."""


class JournalWriteFailed(StepFailed):
    """The disk refused a journal or log write (full, read-only, no permission): the journal keeps its
    previous state, and the command can run again once the disk is fixed (exit 1)."""

    @classmethod
    def at(cls, path: Path, error: OSError) -> JournalWriteFailed:
        """Which path, why, that nothing was half-written, and what to fix (space or permissions)."""
        if error.errno in (errno.ENOSPC, errno.EDQUOT):
            fix = "free space on that disk"
        elif error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            fix = f"make {path.parent} writable"
        else:
            fix = "fix the disk"
        return cls(
            f"{path}: cannot be written: {error.strerror or error}; the journal keeps its previous state",
            hint=f"{fix}, then run the command again (`relsafe resume` for a release in progress)",
        )


class UsageError(RelsafeError):
    """A bad argument or a command that does not fit the current state (exit 2)."""

    exit_code = ExitCode.USAGE


class Refused(RelsafeError):
    """A safety check refused to go on (exit 4); nothing was changed by it."""

    exit_code = ExitCode.REFUSED


class WaitingAtGate(RelsafeError):
    """A checklist gate needs a confirmation (exit 3); the release stays resumable."""

    exit_code = ExitCode.GATE


class Interrupted(RelsafeError):
    """Ctrl-C (exit 130) or SIGTERM (exit 143) stopped a run that leaves nothing to resume, such as a rehearsal."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, message: str, hint: str | None = None, details: list[str] | None = None) -> None:
        super().__init__(message, hint, details)
        self.exit_code = ExitCode(interruption.exit_code())
        self.label = interruption.described()
