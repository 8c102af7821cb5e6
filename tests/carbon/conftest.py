"""A local HTTP server on 127.0.0.1 standing in for metadata services and intensity APIs.

Tests never touch the internet: every URL they give the code points here.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest


@dataclass
class Reply:
    status: int = 200
    body: str | bytes = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    #: > 0: send the answer one byte every ``trickle_s`` seconds (a slow or hostile server);
    #: from the status line on when ``trickle_headers``, else after prompt headers
    trickle_s: float = 0.0
    trickle_headers: bool = False


@dataclass
class Trickle:
    """What one trickled answer did: bytes sent of the whole, and whether it got to the end."""

    total: int
    sent: int = 0
    finished: bool = False
    aborted: bool = False


@dataclass
class Seen:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names


Route = Callable[[Seen], Reply]


class LocalServer:
    """Routes ``(method, path)`` to a :class:`Reply` (or a function of the request)."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Reply | Route] = {}
        self.requests: list[Seen] = []
        self.trickles: list[Trickle] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                parts = urlsplit(self.path)
                headers = {k.lower(): v for k, v in self.headers.items()}
                seen = Seen(self.command, parts.path, parts.query, headers)
                with server._lock:
                    server.requests.append(seen)
                route = server.routes.get((self.command, parts.path))
                reply = Reply(404, "not found") if route is None else route
                if callable(reply):
                    reply = reply(seen)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                body = reply.body.encode() if isinstance(reply.body, str) else reply.body
                if reply.trickle_s:
                    self._trickle(reply, body)
                    return
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client gave up (a timeout test)

            def _trickle(self, reply: Reply, body: bytes) -> None:
                """Send the answer byte by byte; stops by itself at its end, when the
                client goes away, or when the server closes (so a test never hangs)."""
                head = f"HTTP/1.1 {reply.status} OK\r\nContent-Length: {len(body)}\r\n"
                head += "".join(f"{k}: {v}\r\n" for k, v in reply.headers.items()) + "\r\n"
                whole = head.encode() + body
                log = Trickle(total=len(whole))
                with server._lock:
                    server.trickles.append(log)
                slow_from = 0 if reply.trickle_headers else len(head)
                try:
                    self.wfile.write(whole[:slow_from])
                    log.sent = slow_from
                    for i in range(slow_from, len(whole)):
                        if server._stop.wait(reply.trickle_s):
                            break
                        self.wfile.write(whole[i : i + 1])
                        log.sent = i + 1
                    else:
                        log.finished = True
                except OSError:
                    log.aborted = True  # the client gave up
                self.close_connection = True

            do_GET = _handle
            do_PUT = _handle

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def url(self, path: str) -> str:
        return self.base + path

    def wrap_tls(self, context: ssl.SSLContext) -> None:
        """Answer over TLS from now on (the handshake happens in each request's thread)."""
        self._httpd.socket = context.wrap_socket(
            self._httpd.socket, server_side=True, do_handshake_on_connect=False
        )

    def close(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    srv = LocalServer()
    try:
        yield srv
    finally:
        srv.close()
