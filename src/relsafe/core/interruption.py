"""Ctrl-C and SIGTERM: both stop a run the same way, as KeyboardInterrupt; only the exit code tells them apart.

A service manager, `timeout` or CI cancelling a job sends SIGTERM, whose
default would end relsafe on the spot: children left running, the journal
still saying `running`, temp folders left behind. Turned into the same
exception as Ctrl-C, it goes through the same clean-up. Shells report a
command a signal ended as 128 + the signal's number: 130 for SIGINT, 143 for
SIGTERM.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

STOPPING = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []


def _raise(signum: int, _frame: FrameType | None) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def received() -> int:
    """The signal that stopped the run (SIGINT when a KeyboardInterrupt came some other way)."""
    return _received[-1] if _received else int(signal.SIGINT)


def exit_code() -> int:
    return 128 + received()


def described() -> str:
    """How the screen says it: `interrupted`, or `interrupted by SIGTERM`."""
    return "interrupted" if received() == signal.SIGINT else f"interrupted by {signal.Signals(received()).name}"


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()  # only the main thread receives signals


def _not_ignored() -> list[int]:
    return [signum for signum in STOPPING if signal.getsignal(signum) is not signal.SIG_IGN]


@contextmanager
def handled() -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM raise KeyboardInterrupt in the main thread; one ignored when
    relsafe started (a background job of a shell script) stays ignored."""
    if not _in_main_thread():
        yield
        return
    with _handling(_raise):
        yield


@contextmanager
def deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is over: a second one while the journal is written or a
    sandbox removed would leave half of it; raised at the end instead."""
    if not _in_main_thread():
        yield
        return
    pressed: list[int] = []

    def hold(signum: int, _frame: FrameType | None) -> None:
        pressed.append(signum)

    with _handling(hold):
        yield
    if pressed:
        _received.append(pressed[-1])
        raise KeyboardInterrupt


@contextmanager
def _handling(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """`handler` for SIGINT and SIGTERM (those not ignored) while the block runs; the previous ones after."""
    previous = {signum: signal.signal(signum, handler) for signum in _not_ignored()}
    try:
        yield
    finally:
        for signum, restored in previous.items():
            signal.signal(signum, restored)
