"""End to end on the CPU: a small real model (a GPT-2 built from a config) behind an
OpenAI-compatible FastAPI app exporting vLLM's metrics, the sidecar scraping it every 0.25 s,
and clients going through the proxy. The device is a fake 100 W GPU on the real clock (the
hardware edge), so every joule is known: the sidecar's busy energy, and each request's charge
against it."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

pytest.importorskip("transformers")
pytest.importorskip("fastapi")

from carbonledger.integrations.serving import ServingSidecar
from carbonledger.integrations.serving.exporter import serving_registry
from carbonledger.integrations.serving.proxy import ProxyServer, create_app

from .conftest import make_tracker
from .gpt2_server import build_app

INTERVAL_S = 0.25


@pytest.fixture(scope="module")
def engine() -> Iterator[ProxyServer]:
    server = ProxyServer(build_app()).start(timeout_s=60)
    yield server
    server.stop()


@pytest.fixture
def stack(engine: ProxyServer) -> Iterator[dict[str, Any]]:
    """The sidecar (its loop in a thread, as the CLI runs it) and the proxy in front."""
    sidecar = ServingSidecar(
        "vllm",
        engine.url + "/metrics",
        make_tracker(time.monotonic, 100.0),
        interval_s=INTERVAL_S,
        scrape_timeout_s=0.1,
    ).start()
    stop = threading.Event()
    loop = threading.Thread(target=sidecar.run, args=(stop,), daemon=True)
    loop.start()
    proxy = ProxyServer(
        create_app(engine.url, sidecar, timeout_s=30, registry=serving_registry(sidecar))
    ).start()

    def finish() -> dict[str, Any]:
        """Stop taking requests, stop the loop, close the last interval: the totals."""
        proxy.stop()
        stop.set()
        loop.join(10)
        return sidecar.close().to_dict()

    try:
        yield {"sidecar": sidecar, "proxy": proxy, "engine": engine, "finish": finish}
    finally:
        finish()


def _stream(url: str, body: dict[str, Any]) -> list[dict[str, Any] | str]:
    events: list[dict[str, Any] | str] = []
    with httpx.stream("POST", url, json=body, timeout=30) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                data = line[len("data: ") :]
                events.append(data if data == "[DONE]" else json.loads(data))
    return events


@pytest.fixture
def stalls() -> Iterator[None]:
    """Every 0.5 s the process holds the interpreter for 0.2 s (a garbage collection, a
    noisy neighbour): the engine, the proxy and the sidecar stall together, and some spans
    count few tokens for their energy. Charged at such a span's rates alone, the next
    requests took up to 77 % more than the busy energy; at the pooled rates, within 13 % in
    eleven runs (docs/serving.md)."""
    stop = threading.Event()

    def stall() -> None:
        while not stop.wait(0.5):
            until = time.monotonic() + 0.2
            while time.monotonic() < until:
                pass

    thread = threading.Thread(target=stall, daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(5)


def test_requests_through_the_proxy_to_a_real_model(stack: dict[str, Any], stalls: None) -> None:
    sidecar: ServingSidecar = stack["sidecar"]
    proxy, engine = stack["proxy"].url, stack["engine"].url
    body = {"model": "tiny-gpt2", "prompt": "the energy of one token", "max_tokens": 24}

    deadline = time.monotonic() + 30
    uncharged: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    while sidecar.snapshot()[1] is None:  # until an interval counted tokens
        assert time.monotonic() < deadline
        answers.append(httpx.post(proxy + "/v1/completions", json=body, timeout=30).json())
        usage = answers[-1]["usage"]
        if usage["energy_j"] is None:  # nothing to charge at yet
            assert "nothing to charge at" in usage["energy_details"]["reason"]
            uncharged.append(usage)

    charged: list[dict[str, Any]] = []
    end = time.monotonic() + 4.0
    i = 0
    while time.monotonic() < end:  # 4 s of mixed traffic, all of it through the proxy
        i += 1
        prompt = f"request {i}: " + "x" * (i % 7) * 5
        if i % 3 == 0:
            events = _stream(
                proxy + "/v1/completions",
                {
                    **body,
                    "prompt": prompt,
                    "stream": True,
                    "stream_options": {"include_usage": True},
                },
            )
            assert events[-1] == "[DONE]"
            content = [e for e in events[:-1] if isinstance(e, dict) and e["choices"]]
            assert len(content) == body["max_tokens"]  # every token, one chunk each
            usage = events[-2]["usage"]  # type: ignore[index]
        elif i % 3 == 1:
            chat = {"model": "tiny-gpt2", "messages": [{"role": "user", "content": prompt}]}
            answer = httpx.post(proxy + "/v1/chat/completions", json=chat, timeout=30).json()
            usage = answer["usage"]
        else:
            answer = httpx.post(
                proxy + "/v1/completions", json={**body, "prompt": prompt}, timeout=30
            ).json()
            usage = answer["usage"]
        assert usage["energy_j"] is not None and usage["energy_j"] > 0
        d = usage["energy_details"]
        assert d["low_j"] <= usage["energy_j"] <= d["high_j"] and d["measured"] is True
        assert usage["co2e_g"] == pytest.approx(usage["energy_j"] * 400 / 3.6e6)
        charged.append(usage)
    time.sleep(3 * INTERVAL_S)  # the last tokens reach a scrape
    totals = stack["finish"]()

    # every token the engine counted came through the proxy, and the other way round
    proxy_totals = totals["proxy"]
    assert proxy_totals["output_tokens"] == totals["output_tokens"]
    assert proxy_totals["input_tokens"] == totals["input_tokens"]
    assert proxy_totals["uncharged_requests"] == len(uncharged)
    # the busy energy is the fake GPU's 100 W over the busy intervals
    assert totals["busy_energy_j"] == pytest.approx(100 * totals["busy_duration_s"], rel=0.02)
    # the charges add up to the busy energy they were taken from, within the error of
    # charging each request at the pooled rates of the recent spans instead of those of the
    # spans its tokens were counted in (docs/serving.md); the few uncharged warm-up requests
    # at the run's rates
    rate_in = totals["prefill_j_per_input_token"] or totals["j_per_input_token"]
    rate_out = totals["decode_j_per_output_token"] or totals["j_per_output_token"]
    uncharged_j = sum(
        u["prompt_tokens"] * rate_in["value"] + u["completion_tokens"] * rate_out["value"]
        for u in uncharged
    )
    charged_j = proxy_totals["energy_j"]
    error = (charged_j + uncharged_j - totals["busy_energy_j"]) / totals["busy_energy_j"]
    print(
        f"\nproxy end to end: {len(charged)} charged and {len(uncharged)} uncharged requests, "
        f"{charged_j:.1f} J charged + {uncharged_j:.1f} J uncharged vs busy "
        f"{totals['busy_energy_j']:.1f} J ({error:+.1%}); "
        f"{totals['j_per_output_token']['value']:.4f} J/output token, "
        f"{totals['intervals']} intervals"
    )
    # the honest range holds the truth: each charge's low and high take the pooled spans'
    # rates one by one (the uncharged at the run's rates, as above)
    low_j = sum(u["energy_details"]["low_j"] for u in charged) + uncharged_j
    high_j = sum(u["energy_details"]["high_j"] for u in charged) + uncharged_j
    print(f"the charges' range: {low_j:.1f} J to {high_j:.1f} J")
    assert low_j <= totals["busy_energy_j"] <= high_j
    # and the central figure is near it: within 0.1-13 % in quiet runs (docs/serving.md);
    # inside the whole test suite a stall followed by a burst of requests has given +98 %
    # (the burst charged at the rates the stall inflated, a documented limit): the bound
    # catches a rule that charges several times the energy, or none of it
    assert abs(error) < 1.5
    # outside the proxy's window: the same model answers the same text to a direct call
    direct = httpx.post(engine + "/v1/completions", json=body, timeout=30).json()
    assert answers and all(a["choices"] == direct["choices"] for a in answers)
