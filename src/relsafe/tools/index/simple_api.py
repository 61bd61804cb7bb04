"""Reading a package index through the simple API: PEP 691 JSON, falling back to PEP 503 HTML, over urllib."""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
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
from relsafe.core.errors import StepFailed
from relsafe.model.index_url import host_of, is_production_pypi

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
ACCEPT = f"{JSON_TYPE}, text/html;q=0.1"
HTTP_TIMEOUT = 30.0
TIMEOUT_VARIABLE = "RELSAFE_INDEX_TIMEOUT"


def timeout(default: float) -> float:
    """Seconds to wait for an index; RELSAFE_INDEX_TIMEOUT shortens (or lengthens) every wait."""
    try:
        return float(os.environ[TIMEOUT_VARIABLE])
    except (KeyError, ValueError):
        return default


LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class IndexUnavailable(StepFailed):
    """No usable answer from the index (unreachable, or a 5xx): retrying later may work."""


@dataclass(frozen=True)
class IndexFile:
    """One file the simple API lists for a project."""

    filename: str
    url: str
    sha256: str
    provenance: str | None = None
    """The URL of the file's PEP 740 provenance, when the index offers one (PEP 691 JSON only)."""
    yanked: bool = False
    """PEP 592: the index keeps the file but installers skip it unless pinned to it."""


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
        versions = (version_of(entry.filename) for entry in self.files)
        return {version for version in versions if version is not None}


def project_page(index_url: str, project: str) -> ProjectPage:
    """The index's page for a project; an empty, active page if it does not know it."""
    url = f"{index_url.rstrip('/')}/{canonicalize_name(project)}/"
    request = urllib.request.Request(url, headers={"Accept": ACCEPT, "User-Agent": user_agent()})
    try:
        with open_url(request) as response:
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
        files = [entry for entry in files if version_of(entry.filename) == wanted]
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
        sha256 = _require_sha256(item["hashes"].get("sha256"), url)
        files.append(IndexFile(item["filename"], url, sha256, provenance_url, yanked=bool(item.get("yanked"))))
    return files


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
    for href, yanked in zip(parser.hrefs, parser.yanked, strict=True):
        url, _, fragment = urljoin(base_url, href).partition("#")
        name, _, digest = fragment.partition("=")
        filename = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        files.append(
            IndexFile(filename, url, _require_sha256(digest if name == "sha256" else None, url), yanked=yanked)
        )
    return files


class _AnchorParser(HTMLParser):
    """The links of a simple API page, and its `<meta name=… content=…>` tags."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.yanked: list[bool] = []  # PEP 592: a `data-yanked` attribute, with or without a reason
        self.meta: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        href = values.get("href")
        if tag == "a" and href:
            self.hrefs.append(href)
            self.yanked.append("data-yanked" in values)
        name, content = values.get("name"), values.get("content")
        if tag == "meta" and name and content is not None:
            self.meta[name] = content


def _require_sha256(digest: str | None, url: str) -> str:
    """Staging decides "already uploaded" by hash, so a file without one is an error, not a guess."""
    if not digest:
        raise StepFailed(f"the index lists {url} without a sha256 hash; relsafe cannot compare it")
    return digest.lower()


def version_of(filename: str) -> Version | None:
    """The version a wheel's or sdist's file name states; None for a name that is neither."""
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None


def user_agent() -> str:
    return f"relsafe/{__version__}"


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


def is_pypi_host(url: str) -> bool:
    return is_production_pypi(url) or host_of(url) == "test.pypi.org"


def open_url(request: urllib.request.Request) -> http.client.HTTPResponse:
    """urlopen that never sends a loopback request through a proxy and names an unreachable index."""
    handlers = [urllib.request.ProxyHandler({})] if is_loopback(request.full_url) else []
    try:
        response: http.client.HTTPResponse = urllib.request.build_opener(*handlers).open(
            request, timeout=timeout(HTTP_TIMEOUT)
        )
    except urllib.error.HTTPError:
        raise
    except OSError as error:
        reason = getattr(error, "reason", error)
        raise IndexUnavailable(f"index unreachable at {request.full_url}: {reason}") from error
    return response
