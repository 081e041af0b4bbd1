"""A real HTTP server on 127.0.0.1 (a free port) for the web worker's tests: pages, redirects, big and slow
responses, and the stand-ins of third-party APIs. Routes are plain functions `handler(request) -> Reply`."""

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

PAGES = Path(__file__).parent / "pages"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    port: int

    def json(self):
        import json

        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    body: bytes | str = b""
    content_type: str = "text/html; charset=utf-8"
    headers: dict = field(default_factory=dict)
    chunks: Iterable[bytes] | None = (
        None  # streamed without Content-Length (the connection closes at the end)
    )
    delay_s: float = 0.0

    @classmethod
    def json(cls, value, status: int = 200) -> "Reply":
        import json

        return cls(status, json.dumps(value), "application/json")

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> "Reply":
        return cls(status, b"", headers={"Location": location})

    @classmethod
    def page(cls, name: str) -> "Reply":
        return cls(200, (PAGES / name).read_bytes())


Handler = Callable[[Request], Reply]


class StandIn:
    def __init__(self):
        self.routes: dict[str, Handler | Reply] = {}
        self.requests: list[Request] = []
        self.bytes_sent: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None

    def add(self, path: str, handler: Handler | Reply) -> "StandIn":
        self.routes[path] = handler
        return self

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self, path: str | None = None) -> list[Request]:
        return [r for r in self.requests if path is None or r.path == path]

    def start(self) -> "StandIn":
        stand_in = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command,
                    parts.path,
                    {k: v[0] for k, v in parse_qs(parts.query).items()},
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                    stand_in.port,
                )
                stand_in.requests.append(request)
                route = stand_in.routes.get(parts.path)
                if route is None:
                    reply = Reply(404, b"not found", "text/plain")
                else:
                    reply = route(request) if callable(route) else route
                self._send(parts.path, reply)

            def _send(self, path: str, reply: Reply):
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                if reply.chunks is None:
                    if "Content-Length" not in reply.headers:
                        self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    stand_in.bytes_sent[path] = stand_in.bytes_sent.get(path, 0) + len(body)
                    return
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                try:
                    for chunk in reply.chunks:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        stand_in.bytes_sent[path] = stand_in.bytes_sent.get(path, 0) + len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_HEAD = _serve

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
