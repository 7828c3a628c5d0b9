"""A small local HTTP server for feed files, so the pollers can run with no internet.

It answers conditional GETs the way real feed servers do (ETag / Last-Modified → 304), so a local
run shows the same traffic pattern as production. ``python -m pollers.devserver DIR`` serves DIR
and prints the base URL.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _FeedFileHandler(SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like a real server
    # Headers and body go out in separate writes; with Nagle on, the body waits for the client's
    # delayed ACK (40 ms per response on Linux).
    disable_nagle_algorithm = True
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".xml": "application/xml", ".rss": "application/rss+xml", ".atom": "application/atom+xml",
        ".rdf": "application/rdf+xml",
    }

    def send_head(self):  # noqa: ANN201 (http.server's signature)
        self._etag = None
        path = self.translate_path(self.path)
        if os.path.isfile(path):
            st = os.stat(path)
            self._etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
            wanted = self.headers.get("If-None-Match")
            if wanted and self._etag in (t.strip() for t in wanted.split(",")):
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self.end_headers()
                return None
        return super().send_head()

    def end_headers(self) -> None:
        if getattr(self, "_etag", None):
            self.send_header("ETag", self._etag)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # a demo server that prints every request drowns the progress display


class DevServer:
    """A running server; ``url`` is its base URL (ends with '/')."""

    def __init__(self, httpd: ThreadingHTTPServer, thread: threading.Thread) -> None:
        self._httpd = httpd
        self._thread = thread
        host, port = httpd.server_address[:2]
        self.port = port
        self.url = f"http://{host}:{port}/"

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    def __enter__(self) -> DevServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_directory(path: str | Path, port: int = 0, host: str = "127.0.0.1") -> DevServer:
    """Serve the files under ``path`` on http://host:port/ from a background thread."""
    root = Path(path)
    if not root.is_dir():
        raise NotADirectoryError(f"{root}: not a directory of feed files")
    handler = functools.partial(_FeedFileHandler, directory=str(root))
    httpd = ThreadingHTTPServer((host, port), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="devserver",
                              daemon=True)
    thread.start()
    return DevServer(httpd, thread)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pollers.devserver", description=__doc__)
    parser.add_argument("directory")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    server = serve_directory(args.directory, args.port, args.host)
    print(server.url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
