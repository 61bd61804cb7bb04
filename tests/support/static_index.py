"""A loopback index that serves whatever the test puts in it: PEP 691 JSON project pages with the PEP 740
`provenance` key and the PEP 792 `project-status` pypiserver does not offer, the files, and their provenance
documents."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType


class StaticIndex:
    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, bytes]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def index_url(self) -> str:
        return f"{self.url}/simple/"

    def publish(
        self, project: str, files: list[Path], publisher: dict[str, str] | None, status: dict[str, str] | None = None
    ) -> None:
        """List `files` on the project's page, each with a provenance naming `publisher` (None: no provenance);
        `status` is the page's project-status (None: none, which means active)."""
        entries = []
        for path in files:
            data = path.read_bytes()
            self.routes[f"/files/{path.name}"] = ("application/octet-stream", data)
            entry = {
                "filename": path.name,
                "url": f"/files/{path.name}",
                "hashes": {"sha256": hashlib.sha256(data).hexdigest()},
            }
            if publisher is not None:
                provenance = {"version": 1, "attestation_bundles": [{"publisher": publisher, "attestations": []}]}
                self.routes[f"/provenance/{path.name}"] = ("application/json", json.dumps(provenance).encode())
                entry["provenance"] = f"/provenance/{path.name}"
            entries.append(entry)
        page: dict[str, object] = {"meta": {"api-version": "1.4"}, "name": project, "files": entries}
        if status is not None:
            page["project-status"] = status
        self.routes[f"/simple/{project}/"] = ("application/vnd.pypi.simple.v1+json", json.dumps(page).encode())

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        routes = self.routes

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                found = routes.get(self.path)
                if found is None:
                    self.send_error(404)
                    return
                kind, body = found
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler

    def __enter__(self) -> StaticIndex:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
