"""Runs outside commands with their output logged, redacted, and summarised on failure."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from relsafe.errors import ToolFailed
from relsafe.runlog import RunLog

TAIL_LINES = 15


@dataclass(frozen=True)
class Completed:
    command: list[str]
    returncode: int
    output: str
    seconds: float

    def tail(self, lines: int = TAIL_LINES) -> list[str]:
        return self.output.rstrip().splitlines()[-lines:]


def strict_pip_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """An environment in which pip sees only the indexes relsafe names.

    Machine-wide pip configuration can add extra indexes and find-links even
    when --index-url is given; a release must not resolve from them.
    """
    env = dict(base if base is not None else os.environ)
    env["PIP_CONFIG_FILE"] = os.devnull
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_CONSTRAINT"):
        env.pop(name, None)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run(
    command: Sequence[str | os.PathLike[str]],
    *,
    log: RunLog,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = True,
    what: str | None = None,
) -> Completed:
    """Run a command to completion, stdout and stderr merged into the run log.

    With check=True a non-zero exit raises ToolFailed naming `what` and
    carrying the last lines of output, already redacted.
    """
    argv = [os.fspath(part) for part in command]
    log.write(f"$ {' '.join(argv)}" + (f"    (in {cwd})" if cwd else ""))
    started = time.monotonic()
    try:
        proc = subprocess.run(
            argv,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as error:
        log.write(f"! not found: {argv[0]}")
        raise ToolFailed(f"{what or argv[0]}: command not found: {argv[0]}") from error
    except subprocess.TimeoutExpired as error:
        output = error.stdout if isinstance(error.stdout, str) else ""
        log.write(output)
        raise ToolFailed(
            f"{what or argv[0]} did not finish within {timeout:.0f} s",
            details=[log.redact(line) for line in output.splitlines()[-TAIL_LINES:]],
        ) from error
    seconds = time.monotonic() - started
    log.write(proc.stdout)
    log.write(f"= exit {proc.returncode} after {seconds:.2f} s")
    done = Completed(argv, proc.returncode, log.redact(proc.stdout), seconds)
    if check and proc.returncode != 0:
        raise ToolFailed(
            f"{what or argv[0]} failed (exit {proc.returncode})",
            details=done.tail(),
        )
    return done
