"""Run relsafe's command line with every subprocess it starts recorded: command, start, end, and which step.

Used by step_times.py --profile; by hand:

    .venv/bin/python benchmarks/subprocess_profile.py OUT.jsonl release minor

appends one JSON line per finished subprocess to OUT.jsonl: `argv`, `cwd`,
`started` and `ended` (epoch seconds), `step` (`step: function`, the step
that asked for it and its function, or the first relsafe function outside
the tools) and `thread`. Only processes relsafe starts itself are seen, not their
children (a build's backend, pip's own subprocesses).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

_lock = threading.Lock()


def _caller(frame: FrameType | None) -> str:
    """`step: function` for a process a step asked for: the outermost step module, and the innermost function
    of the steps or of relsafe.wheeltest, which smoke and verify-stage share (`verify_stage:
    wheeltest.suite.run_suite`). Else, for work handed to a thread pool, the first such function or relsafe
    function outside relsafe.tools, or inside it, with the thread's name, which says whose."""
    steps: list[str] = []
    functions: list[str] = []
    outside, inside = "", ""
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        where = f"{module.removeprefix('relsafe.')}.{frame.f_code.co_name}"
        if module.startswith("relsafe.steps."):
            steps.append(module.removeprefix("relsafe.steps."))
            functions.append(f"{steps[-1]}.{frame.f_code.co_name}")
        elif module.startswith("relsafe.wheeltest."):
            functions.append(where)
        elif module == "relsafe.tools.process":
            pass  # every command passes through it: it says nothing about who asked
        elif module.startswith("relsafe.tools."):
            inside = inside or where
        elif module.startswith("relsafe."):
            outside = outside or where
        frame = frame.f_back
    if steps:
        return f"{steps[-1]}: {functions[0]}"
    thread = threading.current_thread().name
    if functions:
        return f"{functions[0]} (thread {thread})"
    return outside or f"{inside or '?'} (thread {thread})"


def install(out: Path) -> None:
    """Wrap subprocess.Popen so that each process's start and reaping are written to `out`."""
    popen_init = subprocess.Popen.__init__
    handle_exit = subprocess.Popen._handle_exitstatus  # type: ignore[attr-defined]  # every POSIX reap ends here

    def init(self: subprocess.Popen[Any], args: Any, *rest: Any, **options: Any) -> None:
        started = time.time()
        argv = [os.fspath(args)] if isinstance(args, str | os.PathLike) else [os.fspath(part) for part in args]
        self._profile = {  # type: ignore[attr-defined]
            "argv": argv,
            "cwd": os.fspath(options.get("cwd") or os.getcwd()),
            "started": started,
            "step": _caller(sys._getframe(1)),
            "thread": threading.current_thread().name,
        }
        popen_init(self, args, *rest, **options)

    def reaped(self: subprocess.Popen[Any], *args: Any, **options: Any) -> None:
        handle_exit(self, *args, **options)
        record = getattr(self, "_profile", None)
        if record is not None and "ended" not in record:
            record["ended"], record["returncode"] = time.time(), self.returncode
            with _lock, out.open("a", encoding="utf-8") as stream:
                stream.write(json.dumps(record) + "\n")

    subprocess.Popen.__init__ = init  # type: ignore[method-assign]
    subprocess.Popen._handle_exitstatus = reaped  # type: ignore[attr-defined]


def main() -> None:
    out = Path(sys.argv.pop(1)).absolute()
    install(out)
    from relsafe.cli.main import main as relsafe

    sys.argv[0] = "relsafe"
    relsafe()


if __name__ == "__main__":
    main()
