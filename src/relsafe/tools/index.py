"""A client of any package index: list a project's files, download them, upload with twine.

Reads use the simple API (PEP 691 JSON, falling back to PEP 503 HTML) over
urllib; uploads go through twine in a subprocess so relsafe behaves exactly as
a maintainer's own `twine upload` would. Credentials follow twine's
conventions and never reach an exception, a log line or the screen.
"""

from __future__ import annotations

import configparser
import hashlib
import http.client
import json
import os
import re
import stat
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from relsafe import __version__
from relsafe.core.environment import scrubbed
from relsafe.core.errors import Refused, StepFailed, ToolFailed
from relsafe.core.redaction import DEFAULT_REDACTOR
from relsafe.journal.runlog import RunLog
from relsafe.model.index_url import host_of, is_production_pypi
from relsafe.tools.process import Completed, run
from relsafe.tools.uv import uv_executable

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, text/html;q=0.1"
HTTP_TIMEOUT = 30.0
UPLOAD_TIMEOUT = 600.0
TIMEOUT_VARIABLE = "RELSAFE_INDEX_TIMEOUT"


def _timeout(default: float) -> float:
    """Seconds to wait for an index; RELSAFE_INDEX_TIMEOUT shortens (or lengthens) every wait."""
    try:
        return float(os.environ[TIMEOUT_VARIABLE])
    except (KeyError, ValueError):
        return default


CHUNK = 1 << 16

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# The repositories twine knows without a `repository` key in .pypirc.
TWINE_DEFAULT_REPOSITORIES = {
    "pypi": "https://upload.pypi.org/legacy/",
    "testpypi": "https://test.pypi.org/legacy/",
}
TOKEN_HINT = "use a TestPyPI API token with username __token__"

_HTTP_ERROR = re.compile(r"HTTPError: (\d{3}) |[Ss]tatus code (\d{3})\b")  # twine's, uv's
_CONNECTION_ERROR = re.compile(
    r"ConnectionError|ConnectTimeout|ReadTimeout|Connection refused|Connection aborted|RemoteDisconnected"
    r"|Connection reset|tcp connect error|error sending request|operation timed out"
)


class FileExists(StepFailed):
    """The index already holds a file of that name; only its hash says whether it is ours."""


class NoCredentials(StepFailed):
    """Nowhere twine looks holds a login for the URL (a broken .pypirc is another error)."""


class IndexUnavailable(StepFailed):
    """No usable answer from the index (unreachable, or a 5xx): retrying later may work."""


@dataclass(frozen=True)
class Credentials:
    """An index login; the password stays out of repr so it cannot leak through a debug print."""

    username: str
    password: str = field(repr=False)
    source: str


@dataclass(frozen=True)
class IndexFile:
    """One file the simple API lists for a project."""

    filename: str
    url: str
    sha256: str
    provenance: str | None = None
    """The URL of the file's PEP 740 provenance, when the index offers one (PEP 691 JSON only)."""


UPLOAD_REFUSING_STATUSES = frozenset({"archived", "quarantined"})
_REASON_LIMIT = 300


@dataclass(frozen=True)
class ProjectStatus:
    """A project's status on an index (PEP 792): "active" when the index says nothing.

    Archived and quarantined projects accept no upload; deprecated ones still do.
    """

    status: str = "active"
    reason: str = ""

    @property
    def refuses_uploads(self) -> bool:
        return self.status in UPLOAD_REFUSING_STATUSES


@dataclass(frozen=True)
class ProjectPage:
    """What the simple API says of one project: its files and its status."""

    files: list[IndexFile]
    status: ProjectStatus

    @property
    def versions(self) -> set[Version]:
        """Every version the page holds files of."""
        versions = (_version_of(entry.filename) for entry in self.files)
        return {version for version in versions if version is not None}


def project_page(index_url: str, project: str) -> ProjectPage:
    """The index's page for a project; an empty, active page if it does not know it."""
    url = f"{index_url.rstrip('/')}/{canonicalize_name(project)}/"
    request = urllib.request.Request(url, headers={"Accept": ACCEPT, "User-Agent": _user_agent()})
    try:
        with _open(request) as response:
            body = response.read().decode("utf-8", errors="replace")
            content_type = response.headers.get_content_type()
            final_url = response.geturl()
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return ProjectPage([], ProjectStatus())
        raise StepFailed(f"the index at {index_url} answered {error.code} {error.reason} for {url}") from error
    if not final_url.startswith(index_url.rstrip("/") + "/"):
        raise StepFailed(
            f"the index at {index_url} does not hold {project} and sent the request on to {final_url}: "
            "relsafe must see only that index's own files",
            hint="pypiserver redirects unknown projects to the public index (a 303) unless it runs with "
            "--disable-fallback: restart it with that option",
        )
    if content_type == JSON_TYPE:
        return ProjectPage(parse_simple_json(body, final_url), parse_status_json(body))
    return ProjectPage(parse_simple_html(body, final_url), parse_status_html(body))


def project_files(index_url: str, project: str, version: str | None = None) -> list[IndexFile]:
    """The files the index lists for a project (optionally one version); none if it does not know it."""
    files = project_page(index_url, project).files
    if version is not None:
        wanted = Version(version)
        files = [entry for entry in files if _version_of(entry.filename) == wanted]
    return files


def released_versions(index_url: str, project: str) -> set[Version]:
    """Every version the index holds files of: what a new release must sort above."""
    return project_page(index_url, project).versions


def files_for(index_url: str, project: str, version: str | None = None) -> dict[str, str]:
    """Filename → sha256 of what the index holds, the question staging asks before each upload."""
    return {entry.filename: entry.sha256 for entry in project_files(index_url, project, version)}


def parse_simple_json(body: str, base_url: str) -> list[IndexFile]:
    """Files from a PEP 691 project page."""
    files = []
    for item in json.loads(body).get("files", []):
        url = urljoin(base_url, item["url"])
        provenance = item.get("provenance")
        provenance_url = urljoin(base_url, provenance) if isinstance(provenance, str) else None
        files.append(
            IndexFile(item["filename"], url, _require_sha256(item["hashes"].get("sha256"), url), provenance_url)
        )
    return files


@dataclass(frozen=True)
class Publisher:
    """Who published a file, as its PEP 740 provenance says: a Trusted Publisher's identity."""

    kind: str
    repository: str
    workflow: str

    def __str__(self) -> str:
        return f"{self.kind} {self.repository}, workflow {self.workflow}"


def provenance_publishers(url: str) -> list[Publisher]:
    """The publishers a file's provenance names (PEP 740: one per attestation bundle)."""
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": _user_agent()})
    try:
        with _open(request) as response:
            document = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        raise StepFailed(f"the index answered {error.code} {error.reason} for the provenance at {url}") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise StepFailed(f"the provenance at {url} is not JSON: {error}") from error
    publishers = []
    for bundle in document.get("attestation_bundles", []) if isinstance(document, dict) else []:
        publisher = bundle.get("publisher") if isinstance(bundle, dict) else None
        if not isinstance(publisher, dict):
            raise StepFailed(f"the provenance at {url} has an attestation bundle without a publisher")
        publishers.append(
            Publisher(
                str(publisher.get("kind", "")), str(publisher.get("repository", "")), str(publisher.get("workflow", ""))
            )
        )
    return publishers


def parse_status_json(body: str) -> ProjectStatus:
    """The `project-status` of a PEP 691 project page (PEP 792); absent means active."""
    marker = json.loads(body).get("project-status")
    if not isinstance(marker, dict):
        return ProjectStatus()
    return ProjectStatus(_shown(marker.get("status")) or "active", _shown(marker.get("reason")))


def parse_status_html(body: str) -> ProjectStatus:
    """The `pypi:project-status` meta tags of a PEP 503 project page (PEP 792); absent means active."""
    parser = _AnchorParser()
    parser.feed(body)
    status, reason = parser.meta.get("pypi:project-status"), parser.meta.get("pypi:project-status-reason")
    return ProjectStatus(_shown(status) or "active", _shown(reason))


def _shown(value: object) -> str:
    """An index's free text made safe for one line of a terminal: printable, single-spaced, bounded."""
    if not isinstance(value, str):
        return ""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
    return text if len(text) <= _REASON_LIMIT else text[: _REASON_LIMIT - 1] + "…"


def parse_simple_html(body: str, base_url: str) -> list[IndexFile]:
    """Files from a PEP 503 project page: each anchor's URL carries the hash as `#sha256=`."""
    parser = _AnchorParser()
    parser.feed(body)
    files = []
    for href in parser.hrefs:
        url, _, fragment = urljoin(base_url, href).partition("#")
        name, _, digest = fragment.partition("=")
        filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        files.append(IndexFile(filename, url, _require_sha256(digest if name == "sha256" else None, url)))
    return files


def download(url: str, dest: Path, *, expected_sha256: str | None = None) -> Path:
    """Stream a file to `dest` (a folder or a file path) and check its hash on the way.

    The file appears under its final name only once complete and, when a hash
    is expected, only if it matches: a half-downloaded or altered file is never
    mistaken for the real one.
    """
    target = dest / unquote(urlsplit(url).path.rsplit("/", 1)[-1]) if dest.is_dir() else dest
    partial = target.with_name(target.name + ".part")
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": _user_agent()})
    try:
        with _open(request) as response, partial.open("wb") as stream:
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
        raise StepFailed(
            f"{target.name} from {url} does not match the built file",
            details=[f"expected sha256 {expected_sha256}", f"received sha256 {digest.hexdigest()}"],
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
            timeout=_timeout(UPLOAD_TIMEOUT),
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


def resolve_credentials(
    repository_url: str,
    *,
    pypirc: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Credentials:
    """Find the login for an upload URL the way twine would, field by field.

    Username: TWINE_USERNAME, then the matching .pypirc section (`__token__` on
    PyPI/TestPyPI, where only tokens work). Password: TWINE_PASSWORD, then
    .pypirc, then keyring.
    """
    environ = os.environ if environ is None else environ
    pypirc = Path.home() / ".pypirc" if pypirc is None else pypirc
    section_name, section = _pypirc_section(pypirc, repository_url)
    username, password = environ.get("TWINE_USERNAME"), environ.get("TWINE_PASSWORD")
    sources = {"TWINE_USERNAME/TWINE_PASSWORD"} if username or password else set()
    if (not username and section.get("username")) or (not password and section.get("password")):
        username = username or section.get("username")
        password = password or section.get("password")
        sources.add(f"{pypirc} [{section_name}]")
    if not username and _is_pypi_host(repository_url):
        username = "__token__"
    if not password:
        username, password = _keyring_login(repository_url, username)
        sources.add("keyring")
    DEFAULT_REDACTOR.add_login(username, password)
    if not username or not password:
        raise NoCredentials(
            f"no credentials for {repository_url}",
            hint=(
                "set TWINE_USERNAME=__token__ and TWINE_PASSWORD to an API token, or add a section "
                f"for this URL to {pypirc} (chmod 600)"
            ),
        )
    return Credentials(username, password, " and ".join(sorted(sources)))


def warn_if_pypirc_exposed(path: Path) -> str | None:
    """A warning when a .pypirc holding a secret can be read by other users of the machine."""
    if os.name != "posix" or not path.is_file():
        return None
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & (stat.S_IRGRP | stat.S_IROTH):
        return None
    config = _read_pypirc(path)
    if not any(config.get(name, "password", fallback="") for name in config.sections()):
        return None
    return f"{path} holds a password and is readable by other users (mode {mode:o}): run `chmod 600 {path}`"


class _AnchorParser(HTMLParser):
    """The links of a simple API page, and its `<meta name=… content=…>` tags."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.meta: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        href = values.get("href")
        if tag == "a" and href:
            self.hrefs.append(href)
        name, content = values.get("name"), values.get("content")
        if tag == "meta" and name and content is not None:
            self.meta[name] = content


def _require_sha256(digest: str | None, url: str) -> str:
    """Staging decides "already uploaded" by hash, so a file without one is an error, not a guess."""
    if not digest:
        raise StepFailed(f"the index lists {url} without a sha256 hash; relsafe cannot compare it")
    return digest.lower()


def _version_of(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def _user_agent() -> str:
    return f"relsafe/{__version__}"


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


def _is_pypi_host(url: str) -> bool:
    return is_production_pypi(url) or host_of(url) == "test.pypi.org"


def _open(request: urllib.request.Request) -> http.client.HTTPResponse:
    """urlopen that never sends a loopback request through a proxy and names an unreachable index."""
    handlers = [urllib.request.ProxyHandler({})] if is_loopback(request.full_url) else []
    try:
        response: http.client.HTTPResponse = urllib.request.build_opener(*handlers).open(
            request, timeout=_timeout(HTTP_TIMEOUT)
        )
    except urllib.error.HTTPError:
        raise
    except OSError as error:
        reason = getattr(error, "reason", error)
        raise IndexUnavailable(f"index unreachable at {request.full_url}: {reason}") from error
    return response


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


def _read_pypirc(path: Path) -> configparser.RawConfigParser:
    """The parsed file, every password in it known to redaction before anything can quote it."""
    # Raw: a password may hold "%", which interpolation would reject.
    config = configparser.RawConfigParser()
    try:
        config.read(path, encoding="utf-8")
    except configparser.Error as error:
        raise StepFailed(f"{path} cannot be read: {_pypirc_problem(error)}", hint=PYPIRC_HINT) from None
    except (OSError, UnicodeDecodeError) as error:
        raise StepFailed(f"{path} cannot be read: {type(error).__name__}", hint=PYPIRC_HINT) from None
    for name in config.sections():
        DEFAULT_REDACTOR.add_login(
            config.get(name, "username", fallback=None), config.get(name, "password", fallback=None)
        )
    return config


PYPIRC_HINT = "fix that line of the file (see https://packaging.python.org/specifications/pypirc/)"


def _pypirc_problem(error: configparser.Error) -> str:
    """Where the file is malformed, without its text: configparser quotes the line, which may be a password."""
    if isinstance(error, configparser.MissingSectionHeaderError):
        return f"line {error.lineno} comes before any [section] header"
    if isinstance(error, configparser.ParsingError):
        lines = ", ".join(str(number) for number, _ in error.errors)
        return f"line {lines} is neither a [section] header nor a `key = value` line"
    if isinstance(error, configparser.DuplicateOptionError):
        return f"line {error.lineno}: key {error.option!r} is given twice in [{error.section}]"
    if isinstance(error, configparser.DuplicateSectionError):
        return f"line {error.lineno}: section [{error.section}] is given twice"
    return f"it is not a valid .pypirc ({type(error).__name__})"


def _pypirc_section(path: Path, repository_url: str) -> tuple[str, Mapping[str, str]]:
    """The .pypirc section whose repository is this URL, or an empty one."""
    if not path.is_file():
        return "", {}
    config = _read_pypirc(path)
    wanted = _normalise_url(repository_url)
    for name in config.sections():
        repository = config.get(name, "repository", fallback=TWINE_DEFAULT_REPOSITORIES.get(name, ""))
        if repository and _normalise_url(repository) == wanted:
            return name, config[name]
    return "", {}


def _normalise_url(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def load_keyring() -> None:
    """Import keyring and choose its backend (a quarter of a second: it probes the system's libraries), so that
    the upload's credential lookup, later, asks at once. Asks for no credential; a broken keyring is the
    lookup's to ignore."""
    try:
        import keyring

        keyring.get_keyring()
    except Exception:  # ImportError, or a backend's own error: the lookup meets it again and finds nothing
        return


def _keyring_login(repository_url: str, username: str | None) -> tuple[str | None, str | None]:
    """twine's keyring lookup (by URL, and username when known); a broken or absent keyring finds nothing."""
    try:
        import keyring
    except ImportError:
        return username, None
    try:
        if username:
            return username, keyring.get_password(repository_url, username)
        credential = keyring.get_credential(repository_url, None)
    except Exception:  # keyring backends raise their own types, and none of them should stop a release
        return username, None
    return (credential.username, credential.password) if credential else (None, None)
