"""The credentials relsafe's own environment no longer holds, kept in this process's memory only.

A release runs the project's code (its build backend, its tests, git hooks) as
relsafe's children, and a child of the same user can read its parent's initial
environment in /proc/<pid>/environ. So when the shell hands relsafe variables
that are credentials, relsafe takes them out of its environment once, at the
start (tools.handover re-executes it without them), and keeps them here. What
needs one (the upload's login, the git commands that reach a remote, the
redactor, a suite's `[test] env`) asks here, never os.environ.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

from relsafe.core.environment import HELPERS_FOR_GIT

_values: dict[str, str] = {}
_lock = threading.Lock()


def keep(values: Mapping[str, str]) -> None:
    """Remember variables taken out of the environment."""
    with _lock:
        _values.update(values)


def get(name: str) -> str | None:
    with _lock:
        return _values.get(name)


def kept() -> dict[str, str]:
    """Every variable kept here, by name."""
    with _lock:
        return dict(_values)


def forget() -> None:
    """Drop everything (a test that handed over credentials of its own)."""
    with _lock:
        _values.clear()


def credential_environment() -> dict[str, str]:
    """The environment as the shell gave it to relsafe: its own variables and those kept here. What relsafe
    itself reads credentials from (twine's and uv's variables, keyring's settings), never a child."""
    with _lock:
        return {**os.environ, **_values}


def git_helpers() -> dict[str, str]:
    """What git needs to reach a remote or sign (HELPERS_FOR_GIT), from the shell's environment as relsafe was
    started with it."""
    environment = credential_environment()
    return {name: environment[name] for name in HELPERS_FOR_GIT if environment.get(name)}
