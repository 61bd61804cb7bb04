"""Moving files to and from an index: downloads checked against their sha256, uploads through a subprocess.

Uploads run as a maintainer's own upload would; credentials reach only that subprocess, never an exception,
a log line or the screen.
"""

from __future__ import annotations

import hashlib
import http.client
import re
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from relsafe.core.environment import scrubbed
from relsafe.core.errors import Refused, StepFailed, ToolFailed
from relsafe.journal.runlog import RunLog
from relsafe.model.index_url import is_production_pypi
from relsafe.tools.index.credentials import TOKEN_HINT, Credentials
from relsafe.tools.index.simple_api import IndexUnavailable, is_loopback, open_url, timeout, user_agent
from relsafe.tools.process import Completed, run
from relsafe.tools.uv import uv_executable

UPLOAD_TIMEOUT = 600.0
CHUNK = 1 << 16
_HTTP_ERROR = re.compile(r"HTTPError: (\d{3}) |[Ss]tatus code (\d{3})\b")  # twine's, uv's
_CONNECTION_ERROR = re.compile(
    r"ConnectionError|ConnectTimeout|ReadTimeout|Connection refused|Connection aborted|RemoteDisconnected"
    r"|Connection reset|tcp connect error|error sending request|operation timed out"
)


class FileExists(StepFailed):
    """The index already holds a file of that name; only its hash says whether it is ours."""


class HashMismatch(StepFailed):
    """A downloaded file's sha256 is not the one expected (the index's listing, the built file's)."""

    def __init__(self, message: str, *, expected: str, received: str) -> None:
        super().__init__(message, details=[f"expected sha256 {expected}", f"received sha256 {received}"])
        self.expected, self.received = expected, received


def download(url: str, dest: Path, *, expected_sha256: str | None = None) -> Path:
    """Stream a file to `dest` (a folder or a file path) and check its hash on the way.

    The file appears under its final name only once complete and, when a hash
    is expected, only if it matches: a half-downloaded or altered file is never
    mistaken for the real one.
    """
    target = dest / unquote(urlsplit(url).path.rsplit("/", 1)[-1]) if dest.is_dir() else dest
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": user_agent()})
    try:
        with open_url(request) as response, partial.open("wb") as stream:
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                stream.write(chunk)
    except urllib.error.HTTPError as error:
        partial.unlink(missing_ok=True)
        raise StepFailed(f"download of {url} failed: {error.code} {error.reason}") from error
    except (OSError, http.client.HTTPException) as error:
        partial.unlink(missing_ok=True)
        raise IndexUnavailable(f"download of {url} to {target} was interrupted: {error}") from error
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if expected_sha256 is not None and digest.hexdigest() != expected_sha256.lower():
        partial.unlink()
        raise HashMismatch(
            f"{target.name} from {url} does not match the built file",
            expected=expected_sha256.lower(),
            received=digest.hexdigest(),
        )
    partial.replace(target)
    return target


def upload(
    path: Path,
    *,
    repository_url: str,
    credentials: Credentials,
    log: RunLog,
    attempts: int = 4,
    backoff: float = 1.0,
) -> None:
    """Upload one file, retrying what may pass later (no connection, 5xx).

    With uv (installed with relsafe) `uv publish` sends it: a native binary
    that starts in milliseconds where twine's Python start-up costs most of
    half a second a file; without uv (RELSAFE_NO_UV), `twine upload`. Either
    gets the login through its environment, the only process that does.
    A 4xx is final: a second try would get the same answer. The caller asks the
    index first (files_for); FileExists here means the file appeared meanwhile,
    possibly from an earlier attempt whose answer was lost, so compare hashes.
    """
    if is_production_pypi(repository_url):
        raise Refused(
            f"{repository_url} is the production PyPI: relsafe never uploads there",
            hint="the tag's Trusted Publishing workflow does the production upload",
        )
    log.redact.add_login(credentials.username, credentials.password)
    uploader = _uploader(repository_url, path, credentials)
    for attempt in range(1, attempts + 1):
        done = run(
            uploader.command,
            log=log,
            env=uploader.env,
            credentials=uploader.login,
            timeout=timeout(UPLOAD_TIMEOUT),
            check=False,
            what=uploader.what,
        )
        if done.returncode == 0:
            return
        error = _upload_error(done, path, repository_url, uploader.what)
        if not isinstance(error, IndexUnavailable) or attempt == attempts:
            raise error
        delay = min(backoff * 2 ** (attempt - 1), 30.0)
        log.write(f"! {error.message}; retrying in {delay:.1f} s (attempt {attempt + 1} of {attempts})")
        time.sleep(delay)


@dataclass(frozen=True)
class _Uploader:
    command: list[str]
    env: dict[str, str]
    login: dict[str, str]
    what: str


def _uploader(repository_url: str, path: Path, credentials: Credentials) -> _Uploader:
    """uv publish when uv is there, else twine upload; neither reads a configuration of the shell's."""
    env = _upload_env(repository_url)
    uv = uv_executable()
    if uv is not None:
        # UV_OFFLINE (kept for installs) would refuse the upload itself, which names its index explicitly
        for name in [name for name in env if name.startswith("UV_PUBLISH_") or name == "UV_OFFLINE"]:
            del env[name]
        env |= {"UV_HTTP_RETRIES": "0", "UV_NO_PROGRESS": "1"}  # retries are relsafe's own, above
        command = [uv, "publish", "--no-config", "--trusted-publishing", "never", "--publish-url", repository_url]
        login = {"UV_PUBLISH_USERNAME": credentials.username, "UV_PUBLISH_PASSWORD": credentials.password}
        return _Uploader([*command, str(path)], env, login, "uv publish")
    command = [sys.executable, "-m", "twine", "--no-color", "upload", "--verbose", "--non-interactive"]
    command += ["--disable-progress-bar", "--repository-url", repository_url, str(path)]
    login = {"TWINE_USERNAME": credentials.username, "TWINE_PASSWORD": credentials.password}
    return _Uploader(command, env, login, "twine upload")


def _upload_env(repository_url: str) -> dict[str, str]:
    """The uploader's environment but the login (which `run` adds): no login of the shell's, lines not wrapped
    mid-error, the proxy bypassed for a loopback index."""
    env = scrubbed()
    env["COLUMNS"] = "160"
    if is_loopback(repository_url):
        host = urlsplit(repository_url).hostname or ""
        for name in ("NO_PROXY", "no_proxy"):
            env[name] = ",".join(filter(None, [env.get(name, ""), host]))
    return env


def _upload_error(done: Completed, path: Path, repository_url: str, what: str) -> StepFailed:
    """Turn the uploader's output (twine's or uv's) into the error a maintainer can act on."""
    output = done.output
    details = done.tail()
    status_match = _HTTP_ERROR.search(output)
    status = int(status_match.group(1) or status_match.group(2)) if status_match else None
    if status == 409 or (status == 400 and "already exist" in output):
        return FileExists(f"{path.name} already exists on {repository_url}", details=details)
    if status in (401, 403):
        return StepFailed(
            f"{repository_url} refused the credentials ({status}) for {path.name}",
            hint=f"check the username and password; {TOKEN_HINT}",
            details=details,
        )
    if (status is not None and status >= 500) or (status is None and _CONNECTION_ERROR.search(output)):
        return IndexUnavailable(f"index unreachable at {repository_url} while uploading {path.name}", details=details)
    return ToolFailed(f"{what} of {path.name} to {repository_url} failed", details=details)
