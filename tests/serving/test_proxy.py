"""The OpenAI-compatible proxy against a local upstream written for the test (an ASGI app that
answers like an engine's OpenAI server, fast, slowly or not at all), charging through a
sidecar whose rates the test knows: 2000 J over 2000 tokens, 1 J per token."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from carbonledger.integrations.serving import ServingSidecar
from carbonledger.integrations.serving.exporter import serving_registry
from carbonledger.integrations.serving.proxy import ProxyServer, create_app
from carbonledger.testing import FakeClock, FakeEngine

from .conftest import make_tracker

SECRET_IN = "violet-harbour-7731"  # in a prompt: must never reach a log or a file
SECRET_OUT = "amber-lantern-4410"  # in a completion: the same


def _completion(prompt: str) -> dict[str, Any]:
    return {
        "id": "cmpl-1",
        "object": "text_completion",
        "model": "m",
        "choices": [{"index": 0, "text": f"echo {SECRET_OUT}", "finish_reason": "length"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42},
    }


def _chunks(n: int, usage: bool) -> list[bytes]:
    out = [
        b"data: "
        + json.dumps({"id": "c", "choices": [{"index": 0, "text": f"t{i} {SECRET_OUT}"}]}).encode()
        + b"\n\n"
        for i in range(n)
    ]
    if usage:
        tail = {"id": "c", "choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": n}}
        out.append(b"data: " + json.dumps(tail).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return out


def upstream_app() -> Starlette:
    """An engine's OpenAI server, as far as the proxy can tell. The prompt says how to
    behave: ``slow`` answers after 5 s, ``stall`` stops a stream after two chunks."""

    async def completions(request: Request) -> Response:
        body = await request.json()
        prompt = str(body.get("prompt", ""))
        if "slow" in prompt:
            await asyncio.sleep(5)
        if not body.get("stream"):
            return JSONResponse(_completion(prompt))
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        chunks = _chunks(5, usage)

        async def gen() -> AsyncIterator[bytes]:
            for i, chunk in enumerate(chunks):
                if "stall" in prompt and i == 2:
                    await asyncio.sleep(5)
                await asyncio.sleep(0.1)
                yield chunk

        return StreamingResponse(gen(), media_type="text/event-stream")

    async def models(request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "m", "object": "model"}]})

    return Starlette(
        routes=[
            Route("/v1/completions", completions, methods=["POST"]),
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/v1/models", models, methods=["GET"]),
        ]
    )


@pytest.fixture
def upstream() -> Iterator[ProxyServer]:
    server = ProxyServer(upstream_app()).start()
    yield server
    server.stop()


@pytest.fixture
def sidecar(
    engines: Callable[..., FakeEngine], clock: FakeClock, tmp_path: Path
) -> Iterator[ServingSidecar]:
    """A sidecar whose one span charged 1 J per token (2000 J, 2000 tokens, no phase times),
    recording into a ledger under the test's folder."""
    engine = engines("vllm", phase_times=False)
    tracker = make_tracker(clock, 200.0, ledger=str(tmp_path / "ledger.sqlite"))
    side = ServingSidecar("vllm", engine.url, tracker, interval_s=10, clock=clock).start()
    engine.serve(input_tokens=1000, output_tokens=1000, requests=10)
    clock.advance(10)
    side.step()
    yield side
    side.close()


def _proxy(upstream: ProxyServer, sidecar: ServingSidecar | None, **kw: Any) -> ProxyServer:
    registry = serving_registry(sidecar) if sidecar is not None else None
    return ProxyServer(create_app(upstream.url, sidecar, registry=registry, **kw)).start()


@pytest.fixture
def proxy(upstream: ProxyServer, sidecar: ServingSidecar) -> Iterator[ProxyServer]:
    server = _proxy(upstream, sidecar, timeout_s=5)
    yield server
    server.stop()


def test_a_completion_gets_its_energy_in_usage(upstream: ProxyServer, proxy: ProxyServer) -> None:
    body = {"model": "m", "prompt": f"hello {SECRET_IN}", "max_tokens": 30}
    direct = httpx.post(upstream.url + "/v1/completions", json=body).json()
    answer = httpx.post(proxy.url + "/v1/completions", json=body)
    assert answer.status_code == 200
    got = answer.json()
    usage = got.pop("usage")
    assert got == {k: v for k, v in direct.items() if k != "usage"}  # the rest unchanged
    assert usage["prompt_tokens"] == 12 and usage["completion_tokens"] == 30
    assert usage["energy_j"] == pytest.approx(42.0)  # 42 tokens at 1 J
    assert usage["co2e_g"] == pytest.approx(42.0 * 400 / 3.6e6)
    details = usage["energy_details"]
    assert details["measured"] is True and details["split"] == "per-token"
    assert details["low_j"] == details["high_j"] == pytest.approx(42.0)


def test_chat_completions_are_charged_too(proxy: ProxyServer) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    usage = httpx.post(proxy.url + "/v1/chat/completions", json=body).json()["usage"]
    assert usage["energy_j"] == pytest.approx(42.0)


def test_a_stream_passes_chunk_by_chunk_and_its_usage_chunk_is_charged(
    upstream: ProxyServer, proxy: ProxyServer
) -> None:
    body = {
        "model": "m",
        "prompt": "x",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    events: list[tuple[float, bytes]] = []
    t0 = time.monotonic()
    with httpx.stream("POST", proxy.url + "/v1/completions", json=body, timeout=10) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        buffer = b""
        for chunk in r.iter_bytes():
            buffer += chunk
            while b"\n\n" in buffer:
                event, buffer = buffer.split(b"\n\n", 1)
                events.append((time.monotonic() - t0, event + b"\n\n"))
    expected = _chunks(5, usage=True)
    assert [e for _, e in events[:5]] == expected[:5]  # content chunks byte for byte
    assert events[-1][1] == b"data: [DONE]\n\n"
    usage_chunk = json.loads(events[5][1][len(b"data: ") :])
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["energy_j"] == pytest.approx(12.0)  # 7 + 5 tokens
    # the upstream waits 0.1 s before each chunk: the first arrives long before the last
    assert events[0][0] < events[-1][0] - 0.3


def test_a_stream_that_asked_no_usage_is_passed_unchanged(
    upstream: ProxyServer, proxy: ProxyServer
) -> None:
    body = {"model": "m", "prompt": "x", "stream": True}
    direct = httpx.post(upstream.url + "/v1/completions", json=body, timeout=10).content
    through = httpx.post(proxy.url + "/v1/completions", json=body, timeout=10).content
    assert through == direct == b"".join(_chunks(5, usage=False))


def test_before_any_interval_closed_the_energy_is_null(
    upstream: ProxyServer, engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("vllm")
    side = ServingSidecar("vllm", engine.url, make_tracker(clock), clock=clock).start()
    server = _proxy(upstream, side)
    try:
        usage = httpx.post(server.url + "/v1/completions", json={"prompt": "x"}).json()["usage"]
    finally:
        server.stop()
    assert usage["energy_j"] is None and usage["co2e_g"] is None
    assert "nothing to charge at" in usage["energy_details"]["reason"]
    totals = side.close().to_dict()
    assert totals["proxy"]["uncharged_requests"] == 1 and totals["proxy"]["requests"] == 1


def test_a_slow_upstream_is_cut_at_the_deadline_and_holds_nobody_else(
    upstream: ProxyServer, sidecar: ServingSidecar
) -> None:
    server = _proxy(upstream, sidecar, timeout_s=0.5)
    slow: dict[str, Any] = {}

    def call_slow() -> None:
        t0 = time.monotonic()
        r = httpx.post(server.url + "/v1/completions", json={"prompt": "slow"}, timeout=10)
        slow.update(status=r.status_code, body=r.json(), seconds=time.monotonic() - t0)

    try:
        thread = threading.Thread(target=call_slow)
        thread.start()
        time.sleep(0.1)
        t0 = time.monotonic()
        fast = httpx.post(server.url + "/v1/completions", json={"prompt": "quick"}, timeout=10)
        fast_s = time.monotonic() - t0
        thread.join(10)
    finally:
        server.stop()
    # answered while the slow one waits (its upstream answers after 5 s)
    assert fast.status_code == 200 and fast_s < 1.5
    assert slow["status"] == 504 and 0.45 < slow["seconds"] < 3.0
    assert "did not answer within 0.5 s" in slow["body"]["error"]["message"]


def test_a_stream_that_stalls_ends_with_an_error_event_at_the_deadline(
    upstream: ProxyServer, sidecar: ServingSidecar
) -> None:
    server = _proxy(upstream, sidecar, timeout_s=1.0)
    body = {"prompt": "stall", "stream": True, "stream_options": {"include_usage": True}}
    try:
        t0 = time.monotonic()
        content = httpx.post(server.url + "/v1/completions", json=body, timeout=10).content
        seconds = time.monotonic() - t0
    finally:
        server.stop()
    events = [e for e in content.split(b"\n\n") if e]
    assert events[:2] == [c.rstrip(b"\n") for c in _chunks(5, usage=True)[:2]]
    error = json.loads(events[-1][len(b"data: ") :])["error"]
    assert error["type"] == "timeout" and seconds < 2.5


def test_an_upstream_that_is_down_is_a_502(sidecar: ServingSidecar) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = ProxyServer(create_app(f"http://127.0.0.1:{port}", sidecar, timeout_s=2)).start()
    try:
        r = httpx.post(server.url + "/v1/completions", json={"prompt": "x"})
    finally:
        server.stop()
    assert r.status_code == 502 and r.json()["error"]["type"] == "upstream_error"


def test_other_paths_pass_and_metrics_are_served(upstream: ProxyServer, proxy: ProxyServer) -> None:
    models = httpx.get(proxy.url + "/v1/models")
    assert models.json() == httpx.get(upstream.url + "/v1/models").json()
    metrics = httpx.get(proxy.url + "/metrics").text
    assert 'carbonledger_serving_joules_per_output_token{engine="vllm"} 2.0' in metrics
    assert httpx.get(proxy.url + "/healthz").text == "ok\n"


def test_bodies_are_never_logged_or_stored(
    upstream: ProxyServer,
    proxy: ProxyServer,
    sidecar: ServingSidecar,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    for logger in ("carbonledger", "uvicorn", "uvicorn.error", "httpx", "httpcore"):
        logging.getLogger(logger).setLevel(logging.DEBUG)
    prompt = f"tell me about {SECRET_IN}"
    plain = httpx.post(proxy.url + "/v1/completions", json={"prompt": prompt}).json()
    assert SECRET_OUT in plain["choices"][0]["text"]
    stream = {"prompt": prompt, "stream": True, "stream_options": {"include_usage": True}}
    assert SECRET_OUT.encode() in httpx.post(proxy.url + "/v1/completions", json=stream).content
    sidecar.tracker.flush()  # the run's records are in the ledger now
    out, err = capfd.readouterr()
    for secret in (SECRET_IN, SECRET_OUT):
        assert secret not in caplog.text and secret not in out and secret not in err
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
