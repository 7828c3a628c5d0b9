"""A scriptable local HTTP server for poller tests: each path answers from a queue of replies
and every request is recorded with its arrival time on the server's clock."""

from __future__ import annotations

import gzip
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "feeds"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients that hang up early (size limits, timeouts) are what the tests provoke


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/xml"
    etag: str | None = None  # answer 304 when the request's If-None-Match matches
    last_modified: str | None = None  # answer 304 when If-Modified-Since equals it
    delay: float = 0.0  # seconds before answering (interrupted when the server stops)
    gzip: bool = False
    chunked: bool = False  # no Content-Length: the client cannot know the size up front
    location: str | None = None
    trickle: float = 0.0  # seconds between single bytes of the body (a server sending very slowly)
    trickle_headers: bool = False  # trickle the status line and headers too


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival, on the server side
    status: int


class FeedServer:
    """``route(path, *replies)``: each request to path takes the next reply; the last repeats."""

    def __init__(self) -> None:
        self._routes: dict[str, deque[Reply]] = {}
        self.requests: list[Seen] = []
        self.active = 0
        self.max_active = 0  # most requests in progress at once
        self._lock = threading.Lock()
        self._closing = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall between headers and body

            def log_message(self, format, *args):  # noqa: A002
                pass

            def do_GET(self):  # noqa: N802
                server._handle(self)

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def route(self, path: str, *replies: Reply) -> str:
        with self._lock:
            self._routes[path] = deque(replies)
        return self.url(path)

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[Seen]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _next(self, path: str) -> Reply:
        with self._lock:
            queue = self._routes.get(path)
            if not queue:
                return Reply(status=404, body=b"no such feed", content_type="text/plain")
            return queue.popleft() if len(queue) > 1 else queue[0]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            self._answer(h)
        finally:
            with self._lock:
                self.active -= 1

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        arrived = time.monotonic()
        reply = self._next(h.path)
        headers = {k.lower(): v for k, v in h.headers.items()}
        status = reply.status
        if status == 200 and (
            (reply.etag and headers.get("if-none-match") == reply.etag)
            or (reply.last_modified and headers.get("if-modified-since") == reply.last_modified)
        ):
            status = 304
        with self._lock:
            self.requests.append(Seen(h.path, headers, arrived, status))
        if reply.delay and self._closing.wait(reply.delay):
            h.close_connection = True
            return
        body = b"" if status == 304 else reply.body
        if body and reply.gzip:
            body = gzip.compress(body)
        if reply.trickle:
            self._trickle(h, status, reply, body)
            return
        try:
            h.send_response(status)
            h.send_header("Content-Type", reply.content_type)
            if reply.etag:
                h.send_header("ETag", reply.etag)
            if reply.last_modified:
                h.send_header("Last-Modified", reply.last_modified)
            if reply.location:
                h.send_header("Location", reply.location)
            if reply.gzip and body:
                h.send_header("Content-Encoding", "gzip")
            for k, v in reply.headers.items():
                h.send_header(k, v)
            if reply.chunked and body:
                h.send_header("Transfer-Encoding", "chunked")
                h.end_headers()
                for i in range(0, len(body), 65536):
                    part = body[i:i + 65536]
                    h.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                h.wfile.write(b"0\r\n\r\n")
            else:
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True  # the client gave up (size limit, timeout): expected

    def _trickle(self, h: BaseHTTPRequestHandler, status: int, reply: Reply, body: bytes) -> None:
        """The whole response by hand, one byte per ``reply.trickle`` seconds (headers too, if asked)."""
        head = [f"HTTP/1.1 {status} OK", f"Content-Type: {reply.content_type}", f"Content-Length: {len(body)}"]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        if reply.location:
            head.append(f"Location: {reply.location}")
        head_bytes = ("\r\n".join(head) + "\r\n\r\n").encode()
        h.close_connection = True
        try:
            if not reply.trickle_headers:
                h.wfile.write(head_bytes)
                h.wfile.flush()
                head_bytes = b""
            data = head_bytes + body
            for i in range(len(data)):
                if self._closing.wait(reply.trickle):
                    return
                h.wfile.write(data[i:i + 1])
                h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()
