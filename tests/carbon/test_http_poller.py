"""A poller keeps one connection alive from call to call (the serving sidecar's scrape), and
still keeps each call's whole deadline, replaces a connection the server closed, and never
reuses one a failure left behind. A real local HTTP/1.1 server counts the connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from carbonledger._http import DeadlineError, Poller


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    connections = 0
    #: per request path: "ok", "close" (answer, then drop the connection without saying so)
    #: or "trickle" (the body one byte every 0.2 s)
    served: list[str]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.served.append(self.path)
        body = f"answer to {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path == "/trickle":
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.2)
            return
        self.wfile.write(body)
        if self.path == "/close":  # as a server closing an idle connection: no warning
            self.close_connection = True


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.served = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _url(srv: _Server, path: str) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}{path}"


def test_calls_share_one_connection(server: _Server) -> None:
    poller = Poller()
    try:
        for k in range(5):
            answer = poller.get(_url(server, f"/m{k}"), timeout_s=5.0)
            assert answer.status == 200 and answer.text == f"answer to /m{k}"
        assert server.connections == 1
    finally:
        poller.close()


def test_a_connection_the_server_closed_is_replaced_within_the_call(server: _Server) -> None:
    poller = Poller()
    try:
        assert poller.get(_url(server, "/close"), timeout_s=5.0).text == "answer to /close"
        time.sleep(0.1)  # the server has dropped it
        assert poller.get(_url(server, "/after"), timeout_s=5.0).text == "answer to /after"
        assert server.connections == 2
        assert server.served == ["/close", "/after"]  # each asked once: nothing lost or doubled
    finally:
        poller.close()


def test_a_trickling_answer_on_a_kept_connection_keeps_the_deadline(server: _Server) -> None:
    poller = Poller()
    try:
        assert poller.get(_url(server, "/first"), timeout_s=5.0).status == 200
        t0 = time.monotonic()
        with pytest.raises(DeadlineError):
            poller.get(_url(server, "/trickle"), timeout_s=0.5)
        assert time.monotonic() - t0 < 1.5  # the body would take 3 s
        # the connection the failure left is not reused: the next call opens a new one
        assert poller.get(_url(server, "/next"), timeout_s=5.0).text == "answer to /next"
        assert server.connections == 2
    finally:
        poller.close()


def test_a_refused_connection_is_an_os_error_and_the_next_call_tries_again() -> None:
    srv = _Server(("127.0.0.1", 0), _Handler)
    port = srv.server_address[1]
    srv.server_close()  # nobody listens there now
    poller = Poller()
    with pytest.raises(OSError):
        poller.get(f"http://127.0.0.1:{port}/m", timeout_s=2.0)
    poller.close()
