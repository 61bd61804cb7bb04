"""The embedded package index: pypiserver on a free loopback port, the staging index of a rehearsal.

It runs as a child process that lives longer than one command, so it is
started with tools.process.start rather than run: in a process group of its
own, ended with the run whatever ends it, and recorded so that the next run
ends it if this one is killed. Its output goes to a log file, never to the
terminal.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO

from passlib.apache import HtpasswdFile  # passlib ships no types

from relsafe.core.environment import scrubbed
from relsafe.core.errors import StepFailed
from relsafe.tools import process
from relsafe.tools.index.credentials import Credentials

HOST = "127.0.0.1"
STARTUP_TIMEOUT = 10.0
LOG_TAIL_LINES = 15
# twine needs a login even where uploads are open; these are shown nowhere and protect nothing.
OPEN_INDEX_LOGIN = ("relsafe", "open-index")


class LocalIndex:
    """A pypiserver the caller starts, stops and restarts; files survive a restart.

    Storage is the given folder or one inside a temp folder the index owns and
    removes on close() (not before, so the log of a failed start can be read).
    With a username and password, uploads need them.
    """

    def __init__(
        self,
        storage: Path | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        log_path: Path | None = None,
    ) -> None:
        if (username is None) != (password is None):
            raise ValueError("LocalIndex needs both a username and a password, or neither")
        self._workdir = Path(tempfile.mkdtemp(prefix="relsafe-index-"))
        self.storage = storage if storage is not None else self._workdir / "packages"
        self.storage.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path if log_path is not None else self._workdir / "server.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._login = (username, password) if username is not None and password is not None else None
        self._auth = ["-a", ".", "-P", "."]
        if self._login is not None:
            htpasswd = self._workdir / "htpasswd"
            passwords = HtpasswdFile(str(htpasswd), new=True)
            passwords.set_password(*self._login)
            passwords.save()
            self._auth = ["-a", "update", "-P", str(htpasswd)]
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_stream: IO[bytes] | None = None

    @property
    def upload_url(self) -> str:
        return f"http://{HOST}:{self._bound_port()}/"

    @property
    def index_url(self) -> str:
        return f"http://{HOST}:{self._bound_port()}/simple/"

    @property
    def credentials(self) -> Credentials:
        """The login twine must send; a placeholder when uploads are open."""
        username, password = self._login or OPEN_INDEX_LOGIN
        return Credentials(username, password, "the embedded index")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> LocalIndex:
        """Start and wait until it answers; the first start picks a free port, later ones reuse it."""
        if self.running:
            return self
        if self.port is None:
            self.port = _free_port()
        self._log_stream = self.log_path.open("ab")
        self._process = process.start(
            self._command(), what="the embedded package index", env=scrubbed(), output=self._log_stream
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """End our own server process (SIGINT, SIGKILL after a grace period) and wait for it."""
        server, self._process = self._process, None
        if server is not None:
            process.end(server)
        if self._log_stream is not None:
            self._log_stream.close()
            self._log_stream = None

    def restart(self) -> None:
        """Same port, same storage: what a real index does after an outage."""
        self.stop()
        self.start()

    def close(self) -> None:
        """Stop, and remove the temp folder this index owns (a given storage folder is kept)."""
        self.stop()
        shutil.rmtree(self._workdir, ignore_errors=True)

    def __enter__(self) -> LocalIndex:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"running on {self.upload_url}" if self.running else "stopped"
        return f"LocalIndex({state}, storage={self.storage})"

    def _bound_port(self) -> int:
        if self.port is None:
            raise StepFailed("the embedded package index has not been started")
        return self.port

    def _command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "pypiserver",
            "run",
            "-i",
            HOST,
            "-p",
            str(self.port),
            "--disable-fallback",
            # one line per request and per stored file: the log says what a rehearsal uploaded, and when
            "-v",
            *self._auth,
            str(self.storage),
        ]

    def _wait_until_ready(self) -> None:
        """Poll the health endpoint; fail fast if the process dies, and name the log either way."""
        health = f"http://{HOST}:{self.port}/health"
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                raise self._startup_error("exited while starting")
            try:
                with opener.open(health, timeout=1.0):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.05)
        raise self._startup_error(f"did not answer within {STARTUP_TIMEOUT:.0f} s")

    def _startup_error(self, what: str) -> StepFailed:
        if self._log_stream is not None:
            self._log_stream.flush()
        tail = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-LOG_TAIL_LINES:]
        return StepFailed(
            f"the embedded package index on {HOST}:{self.port} {what}",
            hint=f"its log is {self.log_path}",
            details=tail,
        )


def _free_port() -> int:
    """A port the kernel just handed out and released; pypiserver binds it a moment later."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port
