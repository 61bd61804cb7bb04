"""pip-audit, the PyPA's auditor of Python dependencies, asked about exact versions.

It runs from relsafe's own environment (a runtime dependency: 2.10 or newer,
for `--osv-url`) on a requirements file of `name==version` pins, with
`--no-deps --disable-pip`: it resolves nothing and installs nothing, and asks
the advisory service about exactly those versions. Its JSON report is read
from a file, which pip-audit writes only once every package was asked: no
report means the audit did not happen. pip-audit ends with a traceback when
the service refuses the connection or answers an error; that is told apart
from other failures, so that the step can name the service.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from relsafe.core.errors import ToolFailed
from relsafe.journal.runlog import RunLog
from relsafe.tools import process

PYPI_JSON_API = "https://pypi.org/pypi/<name>/<version>/json"
HTTP_TIMEOUT = 30  # seconds pip-audit waits for each answer (its --timeout)
RUN_TIMEOUT = 600.0  # the whole audit, one query per package
NOT_INSTALLED = "pip-audit is not installed beside relsafe (it installs with it: `pip install 'pip-audit>=2.10'`)"
# What pip-audit's traceback ends with when the service could not answer: requests' connection errors and
# timeouts, pip-audit's own ServiceError (an HTTP error status) and ConnectionError.
_SERVICE_FAILURE = re.compile(
    r"^(requests\.exceptions\.\w+|urllib3\.exceptions\.\w+|pip_audit\._service\.interface\.\w*Error"
    r"|[\w.]*(ConnectionError|ConnectTimeout|ReadTimeout|HTTPError|ServiceError))\b.*$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class Advisory:
    """One advisory the service knows for a package's version."""

    id: str
    aliases: tuple[str, ...]
    fixed: tuple[str, ...]
    """The versions that fix it, oldest first; none when no fix is known."""
    description: str

    @property
    def names(self) -> frozenset[str]:
        """Its id and its aliases: an ignore may name any of them."""
        return frozenset({self.id, *self.aliases})


@dataclass(frozen=True)
class AuditedPackage:
    name: str
    version: str
    advisories: tuple[Advisory, ...]


class ServiceFailed(ToolFailed):
    """The advisory service could not be asked: unreachable, too slow, or it answered an error."""


def describe_service(service: str, osv_url: str) -> str:
    """The service as a message names it."""
    return f"PyPI's JSON API ({PYPI_JSON_API})" if service == "pypi" else f"the OSV service at {osv_url}"


def audit(
    pins: Sequence[tuple[str, str]], *, service: str, osv_url: str, folder: Path, log: RunLog
) -> list[AuditedPackage]:
    """Ask `service` ("osv" at `osv_url`, or "pypi") about each (name, version); its input, report and HTTP cache
    go under `folder`. ServiceFailed when the service could not answer; ToolFailed when pip-audit failed."""
    folder.mkdir(parents=True, exist_ok=True)
    requirements = folder / "requirements.txt"
    requirements.write_text("".join(f"{name}=={version}\n" for name, version in pins), encoding="utf-8")
    report = folder / "report.json"
    report.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--requirement",
        str(requirements),
        "--no-deps",
        "--disable-pip",
        "--strict",
        "--vulnerability-service",
        service,
        "--format",
        "json",
        "--desc",
        "on",
        "--aliases",
        "on",
        "--output",
        str(report),
        "--progress-spinner",
        "off",
        "--cache-dir",
        str(folder / "cache"),
        "--timeout",
        str(HTTP_TIMEOUT),
    ]
    if service == "osv":
        command += ["--osv-url", osv_url]
    done = process.run(command, log=log, check=False, timeout=RUN_TIMEOUT, what="pip-audit")
    if report.is_file() and done.returncode in (0, 1):  # 1: advisories found
        return _read_report(report)
    if "No module named pip_audit" in done.output:
        raise ToolFailed(NOT_INSTALLED)
    failures = [match.group(0).strip() for match in _SERVICE_FAILURE.finditer(done.output)]
    if failures:
        # the cause that says something (`HTTPError: 500 Server Error…`) over pip-audit's bare ServiceError
        cause = next((line for line in reversed(failures) if ": " in line), failures[-1])
        raise ServiceFailed(f"{describe_service(service, osv_url)} did not answer: {_short(cause)}")
    raise ToolFailed(f"pip-audit failed (exit {done.returncode})", details=done.tail())


_UNREACHED = (
    (re.compile(r"Failed to resolve '([^']+)'"), "cannot resolve {0}"),
    (re.compile(r"Connection refused"), "connection refused"),
    (re.compile(r"timed out|Timeout", re.IGNORECASE), "timed out"),
    (re.compile(r"(\d{3} (?:Client|Server) Error)"), "{0}"),
)


def _short(cause: str) -> str:
    """One line a maintainer can act on, not requests' nested repr (pip-audit's whole output is in the log)."""
    for pattern, said in _UNREACHED:
        found = pattern.search(cause)
        if found:
            return said.format(*found.groups())
    return cause if len(cause) <= 160 else cause[:157] + "..."


def _read_report(report: Path) -> list[AuditedPackage]:
    try:
        data: dict[str, Any] = json.loads(report.read_text(encoding="utf-8"))
        return [
            AuditedPackage(
                str(entry["name"]),
                str(entry["version"]),
                tuple(
                    Advisory(
                        str(vuln["id"]),
                        tuple(sorted(str(alias) for alias in vuln.get("aliases", []) if alias != vuln["id"])),
                        tuple(str(version) for version in vuln.get("fix_versions", [])),
                        " ".join(str(vuln.get("description") or "").split()),
                    )
                    for vuln in entry.get("vulns", [])
                ),
            )
            for entry in data["dependencies"]
        ]
    except (ValueError, KeyError, TypeError) as error:
        raise ToolFailed(f"pip-audit wrote a report relsafe cannot read ({report}): {error}") from None
