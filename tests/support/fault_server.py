"""A loopback HTTP server that stands in for the staging index and misbehaves on demand.

It forwards every request to a real local index while `mode` is "ok"; in
"500" it answers 500 Internal Server Error, in "reset" it drops the
connection, in "hang" it never answers, in "echo" it refuses the request with
a reason and a body that quote its Authorization header and the login in it,
as a careless index's error page would, in one line long enough to be wrapped; in "frozen" it answers every
project page (/simple/…) as it first answered it, as an index that recorded a file's sha256 at upload does, while
the files themselves come from the index as they are now. `faulty` chooses which requests misbehave: uploads
(POST) by default, so preflight's reads still pass.
"""

from __future__ import annotations

import base64
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FaultServer:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.mode = "ok"
        self.faulty = ("POST",)
        self.requests: list[tuple[str, str, str]] = []  # (method, path, what happened)
        self.listings: dict[str, tuple[int, str, str, bytes]] = {}  # "frozen": path → status, reason, type, body
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _serve(self) -> None:
                mode = server.mode if self.command in server.faulty else "ok"
                server.requests.append((self.command, self.path, mode))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if mode == "500":
                    self.send_response(500, "Internal Server Error")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if mode == "reset":
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    self.connection.close()
                    return
                if mode == "hang":
                    time.sleep(3600)
                    return
                if mode == "echo":
                    self._echo()
                    return
                frozen = mode == "frozen" and self.path.startswith("/simple/")
                if frozen and self.path in server.listings:
                    self._answer(*server.listings[self.path])
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
                request = urllib.request.Request(
                    server.upstream + self.path, data=body, headers=headers, method=self.command
                )
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                try:
                    with opener.open(request, timeout=30) as response:
                        status, reason, payload = response.status, response.reason, response.read()
                        content_type = response.headers.get("Content-Type", "text/html")
                except urllib.error.HTTPError as error:
                    status, reason, payload = error.code, error.reason, error.read()
                    content_type = error.headers.get("Content-Type", "text/html")
                if frozen:
                    server.listings[self.path] = (status, reason, content_type, payload)
                self._answer(status, reason, content_type, payload)

            def _answer(self, status: int, reason: str, content_type: str, payload: bytes) -> None:
                self.send_response(status, reason)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _echo(self) -> None:
                authorization = self.headers.get("Authorization", "")
                login = base64.b64decode(authorization.partition(" ")[2] or "").decode("utf-8", "replace")
                echoed = f"invalid request from {'x' * 120} with Authorization: {authorization} for login {login}"
                payload = f"<html><body><h1>400 {echoed}</h1>{echoed}</body></html>".encode()
                self.send_response(400, echoed)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _serve

        return Handler

    def uploads(self, mode: str = "ok") -> list[str]:
        return [path for method, path, happened in self.requests if method == "POST" and happened == mode]

    @contextmanager
    def running(self) -> Iterator[FaultServer]:
        self._thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
