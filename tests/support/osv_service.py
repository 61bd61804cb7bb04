"""A loopback OSV service, answering `POST /v1/query` as OSV's does, from real records of the PyPA advisory
database (tests/data/pypa_advisories.json: the records as the database has them, with their ids).

OSV does the version matching, so this does too: a record applies to a PyPI package's version when one of its
ECOSYSTEM ranges has the version at or after an `introduced` event and before the next `fixed` one (or at or
before a `last_affected`). The answer is `{"vulns": [records…]}`, or `{}` when none applies, as OSV sends it.
pip-audit 2.10 asks one query per package and no `/v1/querybatch`: a batch request is answered 404 here and
counted, so a pip-audit that starts batching fails these tests loudly rather than passing them untested.

`mode` "error" answers every query 500; `requests` records what was asked (package, version), in order.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

ADVISORIES = Path(__file__).resolve().parent.parent / "data" / "pypa_advisories.json"
QUERY_PATH = "/v1/query"


def pypa_records() -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads(ADVISORIES.read_text(encoding="utf-8"))["records"]
    return records


def _affects(record: dict[str, Any], name: str, version: Version) -> bool:
    for affected in record.get("affected", []):
        package = affected.get("package", {})
        if package.get("ecosystem") != "PyPI" or canonicalize_name(package.get("name", "")) != name:
            continue
        for found in affected.get("ranges", []):
            if found.get("type") == "ECOSYSTEM" and _in_range(found.get("events", []), version):
                return True
    return False


def _in_range(events: list[dict[str, str]], version: Version) -> bool:
    def at(event: dict[str, str]) -> Version:
        text = next(iter(event.values()))
        return Version("0") if text == "0" else Version(text)

    affected = False
    for event in sorted(events, key=at):
        if "introduced" in event and version >= at(event):
            affected = True
        elif ("fixed" in event and version >= at(event)) or ("last_affected" in event and version > at(event)):
            affected = False
    return affected


class OsvService:
    def __init__(self, records: list[dict[str, Any]] | None = None, port: int = 0) -> None:
        self.records = pypa_records() if records is None else records
        self.mode = "ok"
        self.requests: list[tuple[str, str]] = []
        self.batch_requests = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def query_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{QUERY_PATH}"

    def matching(self, name: str, version: str) -> list[dict[str, Any]]:
        try:
            wanted = Version(version)
        except InvalidVersion:
            return []
        return [record for record in self.records if _affects(record, canonicalize_name(name), wanted)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, status: int, payload: object) -> None:
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                query = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                if self.path != QUERY_PATH:
                    service.batch_requests += self.path.endswith("/querybatch")
                    self._answer(404, {"code": 5, "message": "Not Found"})
                    return
                package = query.get("package", {})
                service.requests.append((package.get("name", ""), query.get("version", "")))
                if service.mode == "error":
                    self._answer(500, {"code": 13, "message": "internal error"})
                    return
                if package.get("ecosystem") != "PyPI":
                    self._answer(400, {"code": 3, "message": "expected the PyPI ecosystem"})
                    return
                found = service.matching(package.get("name", ""), query.get("version", ""))
                self._answer(200, {"vulns": found} if found else {})

        return Handler

    def __enter__(self) -> OsvService:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._thread.is_alive():  # shutdown() waits for serve_forever, forever if it never started
            self._server.shutdown()
        self._server.server_close()


def unused_port() -> int:
    """A loopback port nothing listens on (one the system just handed out and took back)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
