"""The CodeCarbon drop-in's network outputs, against local servers on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from carbonledger.compat._base import gpu_env, post_json
from carbonledger.compat.codecarbon import EmissionsTracker
from carbonledger.testing import FakeClock


class Recorder(BaseHTTPRequestHandler):
    received: list[tuple[str, str, bytes]]
    status = 201

    def _take(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.received.append((self.command, self.path, body))  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = _take
    do_PUT = _take

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    srv.received = []  # type: ignore[attr-defined]
    srv.status = 201  # type: ignore[attr-defined]
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def url(srv: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}"


def test_emissions_endpoint_receives_each_records_json(
    hw: dict[str, Any], clock: FakeClock, server: ThreadingHTTPServer
) -> None:
    tracker = EmissionsTracker(
        _tracker_options=hw, save_to_file=False, emissions_endpoint=url(server) + "/emissions"
    )
    tracker.start()
    clock.advance(10)
    tracker.flush()
    clock.advance(10)
    emissions = tracker.stop()
    received = server.received  # type: ignore[attr-defined]
    assert [(m, p) for m, p, _ in received] == [("POST", "/emissions")] * 2
    last = json.loads(received[-1][2])
    assert last["emissions"] == pytest.approx(emissions)
    assert last["run_id"] == tracker.run_id
    assert "user" in last


def test_an_unexpected_status_is_logged(
    server: ThreadingHTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    server.status = 500  # type: ignore[attr-defined]
    post_json(url(server), {"a": 1})
    assert "HTTP 500" in caplog.text


def test_an_unreachable_endpoint_is_logged_not_raised(
    hw: dict[str, Any], clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tracker = EmissionsTracker(
        _tracker_options=hw, save_to_file=False, emissions_endpoint=f"http://127.0.0.1:{port}/"
    )
    tracker.start()
    clock.advance(1)
    assert tracker.stop() is not None
    assert "could not send the emissions record" in caplog.text


def test_an_endpoint_that_never_answers_is_left_behind(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        post_json(f"http://127.0.0.1:{listener.getsockname()[1]}/", {"a": 1}, deadline_s=0.2)
    assert "within 0.2 s" in caplog.text or "could not send" in caplog.text


def test_prometheus_push(hw: dict[str, Any], clock: FakeClock, server: ThreadingHTTPServer) -> None:
    address = url(server).removeprefix("http://")  # CodeCarbon's style: host:port
    tracker = EmissionsTracker(
        _tracker_options=hw,
        project_name="my proj",
        save_to_file=False,
        save_to_prometheus=True,
        prometheus_url=address,
    )
    tracker.start()
    clock.advance(10)
    tracker.stop()
    ((method, path, body),) = server.received  # type: ignore[attr-defined]
    assert (method, path) == ("PUT", "/metrics/job/my_proj_base")
    assert b"carbonledger_energy_joules_total" in body


def test_gpu_ids_select_devices_as_cuda_visible_devices() -> None:
    assert gpu_env([1, 3], {})["CUDA_VISIBLE_DEVICES"] == "1,3"
    assert gpu_env("0, 2", {})["CUDA_VISIBLE_DEVICES"] == "0,2"
    assert gpu_env("GPU-8f2a", {"PATH": "/bin"}) == {
        "PATH": "/bin",
        "CUDA_VISIBLE_DEVICES": "GPU-8f2a",
    }
    assert gpu_env(None) is None
