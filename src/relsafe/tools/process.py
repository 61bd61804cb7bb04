"""Runs outside commands with their output logged, redacted, and summarised on failure."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from relsafe.core.environment import scrubbed
from relsafe.core.errors import ToolFailed
from relsafe.journal.runlog import RunLog
from relsafe.tools import home, leftovers

T = TypeVar("T")
TAIL_LINES = 15
TRACEBACK = "Traceback (most recent call last):"
STOP_GRACE = 5.0  # seconds an interrupted command has after SIGINT, before SIGKILL
_FRAME = re.compile(r'\s*File "')


@dataclass(frozen=True)
class Completed:
    command: list[str]
    returncode: int
    output: str
    seconds: float

    def tail(self, lines: int = TAIL_LINES) -> list[str]:
        return error_tail(self.output, lines)


def error_tail(output: str, limit: int = TAIL_LINES) -> list[str]:
    """The non-blank lines of a failed command's output that say why, in order: at most `limit`, plus `…` marks.

    Tools end with their error (`ERROR Backend subprocess exited…`), so the
    last line is always kept. Of a Python traceback, the exception line(s),
    the header and the frame that raised are kept before anything else: the
    middle frames say least, and the full output is in the run log.
    """
    lines = output.rstrip().splitlines()
    if sum(1 for line in lines if line.strip()) <= limit:
        return [line for line in lines if line.strip()]
    chosen = sorted(list(dict.fromkeys(_by_importance(lines)))[:limit])
    shown: list[str] = []
    for before, index in zip([-1, *chosen], chosen, strict=False):
        if any(line.strip() for line in lines[before + 1 : index]):  # cut here: say so, indented like what follows
            line = lines[index]
            shown.append(line[: len(line) - len(line.lstrip())] + "…")
        shown.append(lines[index])
    return shown


def _by_importance(lines: list[str]) -> list[int]:
    """Indexes of the non-blank lines, most telling first: the last line, then the last traceback's parts."""
    last = len(lines) - 1
    plain = [index for index in range(last, -1, -1) if lines[index].strip()]
    header = next((i for i in range(last, -1, -1) if lines[i].strip() == TRACEBACK), None)
    if header is None:
        return plain
    indent = _indent(lines[header])
    exception = header + 1
    while exception <= last and (not lines[exception].strip() or _indent(lines[exception]) > indent):
        exception += 1
    if exception > last:  # frames to the end: no exception line to show
        return plain
    end = next((i for i in range(exception, last + 1) if not lines[i].strip()), last + 1)
    raised = max((i for i in range(header + 1, exception) if _FRAME.match(lines[i])), default=exception)
    first = [last, *range(exception, end), *(i for i in plain if i >= end)]
    return [*first, header, *range(raised, min(exception, raised + 3))]


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


_PIP_SOURCES = ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_CONSTRAINT")
_UV_SOURCES = ("UV_INDEX", "UV_DEFAULT_INDEX", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_FIND_LINKS", "UV_CONSTRAINT")


def strict_pip_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment in which pip and uv see only the indexes relsafe names.

    Machine-wide pip configuration can add extra indexes and find-links even
    when --index-url is given; a release must not resolve from them. uv's
    --no-config leaves its environment variables in force, and UV_DEFAULT_INDEX
    even wins over --index-url.
    """
    env = dict(base if base is not None else os.environ)
    env["PIP_CONFIG_FILE"] = os.devnull
    for name in (*_PIP_SOURCES, *_UV_SOURCES):
        env.pop(name, None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


Command = subprocess.Popen[str] | subprocess.Popen[bytes]
_running: dict[Command, bool] = {}  # command → leads its own group
_running_lock = threading.Lock()  # held to start a command, so none starts unseen while stop_all runs
_stopped = threading.Event()


def stop_all() -> None:
    """End every command still running, those of background threads included, and start no more.

    After Ctrl-C or SIGTERM the run is over: a command a worker thread went
    on with would keep writing into folders about to be removed, and delay
    the exit.
    """
    with _running_lock:
        _stopped.set()
        running = list(_running)
    _end(running)


def in_background(call: Callable[[], T], name: str) -> Future[T]:
    """Start groundwork in a thread of its own and return at once; the commands it starts end with the run
    (stop_all), and the interpreter waits for the thread at exit."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
    future = executor.submit(call)
    executor.shutdown(wait=False)
    return future


def side_by_side(*calls: Callable[[], Any]) -> list[Any]:
    """Run calls in threads of their own; their results in order, or the first error in that order once all
    have ended. Ctrl-C or SIGTERM while waiting ends every command they started, so nothing keeps the
    interrupted run waiting for a test suite to finish."""
    with ThreadPoolExecutor(max_workers=len(calls), thread_name_prefix="side-by-side") as pool:
        futures = [pool.submit(call) for call in calls]
        try:
            wait(futures)
        except KeyboardInterrupt:
            stop_all()
            raise
        return [future.result() for future in futures]


def interrupted() -> bool:
    """Whether stop_all ended this run: a step that fails now failed because it was stopped."""
    return _stopped.is_set()


def _signal(proc: Command, signum: int) -> None:
    """Signal the command, and its whole process group when it leads one (a build's backend, pytest's workers).

    Only while the command is not reaped: until then its pid, and so its
    group's id, cannot belong to another process.
    """
    if proc.poll() is not None:
        return
    with suppress(ProcessLookupError):
        if _running.get(proc, False) and hasattr(os, "killpg"):  # POSIX: started with start_new_session
            os.killpg(proc.pid, signum)
        else:
            proc.send_signal(signum)


def _end(procs: Sequence[Command]) -> None:
    """End commands the way Ctrl-C does, so that tools still remove their temp folders; kill what stays.

    Commands run in process groups of their own, which a terminal's Ctrl-C
    does not reach: each gets one SIGINT from here, then SIGKILL after a
    grace period. Another Ctrl-C meanwhile kills at once.
    """
    try:
        for proc in procs:
            _signal(proc, signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE
        for proc in procs:
            with suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.0, deadline - time.monotonic()))
    finally:
        for proc in procs:
            _signal(proc, signal.SIGKILL)
            proc.wait()


def end(proc: subprocess.Popen[bytes]) -> None:
    """End a long-lived command started with start() (SIGINT, then SIGKILL) and forget it."""
    try:
        _end([proc])
    finally:
        _forget(proc)


def start(argv: list[str], *, what: str, env: Mapping[str, str], output: IO[bytes]) -> subprocess.Popen[bytes]:
    """Start a command that outlives one call (the embedded index) in a process group of its own, its output
    into `output`; known to stop_all and recorded for the next run until end(). Refused once the run stopped."""
    with _running_lock:
        if _stopped.is_set():
            raise ToolFailed(f"{what}: not started, the run was interrupted")
        proc = subprocess.Popen(
            argv,
            env=dict(env) | leftovers.marker(),
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _track(proc, own_group=True)
    return proc


def _track(proc: Command, *, own_group: bool) -> None:
    _running[proc] = own_group
    leftovers.child_started(proc.pid)


def _forget(proc: Command) -> None:
    with _running_lock:
        if _running.pop(proc, None) is not None:
            leftovers.child_ended(proc.pid)


@contextmanager
def tracked(proc: Command) -> Iterator[None]:
    """A command started elsewhere (GitPython's git, in relsafe's own process group so that it can ask for a
    password on the terminal), known to stop_all while the block waits for it, and ended if the block fails."""
    with _running_lock:
        _track(proc, own_group=False)
    try:
        yield
    except BaseException:
        _end([proc])
        raise
    finally:
        _forget(proc)


@contextmanager
def _started(argv: list[str], what: str, cwd: Path | None, env: Mapping[str, str]) -> Iterator[subprocess.Popen[str]]:
    """The command's process, in a process group of its own so that ending it ends what it started, known to
    stop_all while it runs, and never left running behind the caller."""
    with _running_lock:
        if _stopped.is_set():
            raise ToolFailed(f"{what}: not started, the run was interrupted")
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=dict(env) | leftovers.marker(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                errors="replace",
                start_new_session=True,
            )
        except FileNotFoundError as error:
            raise ToolFailed(f"{what}: command not found: {argv[0]}") from error
        _track(proc, own_group=True)
    try:
        with proc:
            try:
                yield proc
            except BaseException:  # Ctrl-C in the thread that waits: the command ends with it
                _end([proc])
                raise
    finally:
        _forget(proc)


def run(
    command: Sequence[str | os.PathLike[str]],
    *,
    log: RunLog,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    what: str | None = None,
    credentials: Mapping[str, str] | None = None,
    real_home: bool = False,
) -> Completed:
    """Run a command to completion, stdout and stderr merged into the run log.

    The command's environment (`env`, or relsafe's own) never holds a
    credential (see core.environment), and its HOME is a scratch folder of its
    own (tools.home) unless `real_home` (git, gpg: they need the user's
    configuration and keys); `credentials` are the variables given on top: the
    upload's login, a suite's `[test] env`, git's agents.
    With check=True a non-zero exit raises ToolFailed naming `what` and
    carrying the telling lines of output (error_tail), already redacted.
    """
    argv = [os.fspath(part) for part in command]
    environment = scrubbed(env) | ({} if real_home else home.environment()) | dict(credentials or {})
    what = what or argv[0]
    log.write(f"$ {' '.join(argv)}" + (f"    (in {cwd})" if cwd else ""))
    started = time.monotonic()
    timed_out = False
    try:
        with _started(argv, what, cwd, environment) as proc:
            try:
                output, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                proc.kill()
                output, _ = proc.communicate()  # what it printed until then
    except ToolFailed as error:  # not found, or not started after an interruption
        log.write(f"! {error.message}")
        raise
    seconds = time.monotonic() - started
    log.write(output)
    log.write(f"= exit {proc.returncode} after {seconds:.2f} s: {what}")
    if _stopped.is_set():
        raise ToolFailed(f"{what}: stopped, the run was interrupted")
    done = Completed(argv, proc.returncode, log.redact(output), seconds)
    if timed_out:
        raise ToolFailed(f"{what} did not finish within {timeout:.0f} s", details=done.tail())
    if check and proc.returncode != 0:
        raise ToolFailed(f"{what} failed (exit {proc.returncode})", details=done.tail())
    return done
