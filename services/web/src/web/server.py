"""The page, its static files and the live stream, over the standard library's HTTP server.

A thread per connection: a page holds one open stream (server-sent events), and a playground
has a handful of pages open at most, so threads stay few and the code stays plain.
"""

from __future__ import annotations

import mimetypes
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from web.feed import Feed

STATIC = Path(__file__).parent / "static"
KEEPALIVE_S = 15.0  # a comment line this often finds streams whose page has gone
STATE_WAIT_S = 15.0  # /state waits this long at most for a fresh state (a step's worst case)


class Server(ThreadingHTTPServer):
    daemon_threads = True  # open streams do not keep the service from stopping

    def __init__(self, address: tuple[str, int], feed: Feed) -> None:
        super().__init__(address, Handler)
        self.feed = feed

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went before its answer was written (a page closed; the healthcheck,
        which reads the status line and hangs up) is no error of ours: no traceback in the
        logs for it. Anything else is printed, as socketserver does."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    server: Server

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/events":
            self._events()
        elif path == "/state":
            state = self.server.feed.state(STATE_WAIT_S)
            self._send(HTTPStatus.OK, "application/json", state.encode())
        elif path == "/healthz":
            self._send(HTTPStatus.OK, "text/plain", b"ok\n")
        else:
            self._static("index.html" if path == "/" else path.removeprefix("/static/"))

    def _static(self, name: str) -> None:
        file = (STATIC / name).resolve()
        if not file.is_relative_to(STATIC.resolve()) or not file.is_file():
            self._send(HTTPStatus.NOT_FOUND, "text/plain", b"not found\n")
            return
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        self._send(HTTPStatus.OK, f"{kind}; charset=utf-8", file.read_bytes())

    def _send(self, status: HTTPStatus, kind: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _events(self) -> None:
        """Every new state as one server-sent event, until the page goes away."""
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        seen = -1
        self.server.feed.open_stream()
        try:
            while True:
                seen, text = self.server.feed.wait(seen, KEEPALIVE_S)
                line = ": keepalive" if text is None else f"data: {text}"
                self.wfile.write(f"{line}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return  # the page was closed or reloaded
        finally:
            self.server.feed.close_stream()

    def log_message(self, format: str, *args: object) -> None:
        pass  # one line per request would drown the playground's own logs
