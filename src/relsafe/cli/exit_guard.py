"""The exit guard: every way a command can end becomes one clear message and its documented exit code."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NoReturn


def exit_with(code: int) -> NoReturn:
    raise SystemExit(code)  # typer passes it on as it is; the fast `status` has no typer to raise its Exit


CLOSED_OUTPUT = 141  # 128 + SIGPIPE: what a shell reports for `cat` or `grep` whose reader went away


def output_closed() -> NoReturn:
    """The reader of stdout went away (`relsafe status --json | head -1`): end quietly, as Unix tools do.
    Whatever is still buffered goes nowhere, so that Python's own flush at exit cannot fail again."""
    with suppress(OSError, ValueError):
        descriptor = os.open(os.devnull, os.O_WRONLY)
        os.dup2(descriptor, sys.stdout.fileno())
        os.close(descriptor)
    exit_with(CLOSED_OUTPUT)


RESUMABLE = "{interrupted}; run `relsafe resume` to go on, or `relsafe abort`"


@contextmanager
def reported(interrupted: str = RESUMABLE) -> Iterator[None]:
    """Turn every RelsafeError into one clear message and its exit code; Ctrl-C and SIGTERM into `interrupted`
    (its `{interrupted}` says which) and exit 130 or 143. A real release stays resumable. Anything else is a
    bug: one line, exit 1, and the traceback in the log rather than on the screen.

    Whatever ends the command, the commands it started end with it, and its
    temp folder is removed; if relsafe is killed outright, the next run does
    both (tools.leftovers).
    """
    from relsafe.cli.console import make_console, show_error
    from relsafe.core import interruption
    from relsafe.core.errors import ExitCode, RelsafeError
    from relsafe.tools import leftovers, process

    with leftovers.recorded(), interruption.handled():
        try:
            yield
        except RelsafeError as error:
            show_error(make_console(stderr=True), error, error.log_path)
            exit_with(int(error.exit_code))
        except BrokenPipeError:
            output_closed()
        except KeyboardInterrupt:
            make_console(stderr=True).print(interrupted.format(interrupted=interruption.described()), markup=False)
            exit_with(interruption.exit_code())
        except Exception as error:  # the last resort: no traceback on the screen, ever
            if _passes_through(error):
                raise  # a command's own exit code, or click's usage error
            log = _logged_traceback(error)
            from relsafe.core.redaction import DEFAULT_REDACTOR

            message = DEFAULT_REDACTOR(" ".join(str(error).split()))
            where = f" (log: {log})" if log is not None else ""
            make_console(stderr=True).print(
                f"internal error: {type(error).__name__}: {message}{where}", markup=False, highlight=False
            )
            exit_with(int(ExitCode.FAILED))
        finally:
            with suppress(KeyboardInterrupt), interruption.deferred():
                process.stop_all()  # nothing a step started (background groundwork too) outlives the command


def _passes_through(error: Exception) -> bool:
    """typer's and click's exits, aborts and usage errors are theirs to report. Only a module already
    imported can have raised one, so none is imported to ask."""
    kinds: list[type[BaseException]] = []
    if "typer" in sys.modules:
        kinds += [sys.modules["typer"].Exit, sys.modules["typer"].Abort]
    if "click" in sys.modules:
        click = sys.modules["click"]
        kinds += [click.exceptions.Exit, click.exceptions.Abort, click.ClickException]
    return isinstance(error, tuple(kinds))


def _logged_traceback(error: Exception) -> Path | None:
    """Append the traceback, redacted, to this run's log, or to a private temp file when the run had none
    (or it cannot be written); None when neither can be written."""
    import tempfile
    import traceback

    from relsafe.core.errors import RelsafeError
    from relsafe.journal.runlog import RunLog, latest_path

    text = "internal error:\n" + "".join(traceback.format_exception(error))
    with suppress(OSError, RelsafeError):  # a full disk or a broken journal folder: try the temp folder
        path = latest_path()
        if path is not None:
            RunLog(path).write(text)
            return path
    with suppress(OSError, RelsafeError):
        descriptor, name = tempfile.mkstemp(prefix="relsafe-internal-error-", suffix=".log")
        os.close(descriptor)
        RunLog(Path(name)).write(text)
        return Path(name)
    return None
