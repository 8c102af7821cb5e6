"""``carbonledger serving`` as users run it: a process beside a (fake) engine, ended by its
duration, by SIGTERM or by Ctrl-C, with its totals; bad input is one line and exit 2."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from carbonledger.ledger import open_ledger
from carbonledger.testing import FakeEngine


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "carbonledger", "serving", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=os.environ.copy(),
    )


@pytest.fixture
def busy_engine(engines: Callable[..., FakeEngine]) -> Iterator[FakeEngine]:
    """A vLLM that counts 40 output and 160 input tokens every 50 ms."""
    engine = engines("vllm", models=("llama",))
    stop = threading.Event()

    def work() -> None:
        while not stop.wait(0.05):
            engine.serve(
                input_tokens=160, output_tokens=40, requests=1, prefill_s=0.01, decode_s=0.04
            )

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    yield engine
    stop.set()
    thread.join()


def test_a_timed_run_prints_its_totals_as_json(busy_engine: FakeEngine, tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.sqlite")
    done = _cli(
        "--engine", "vllm", "--metrics-url", busy_engine.url, "--interval", "0.25",
        "--duration", "1.5", "--json", "--ledger", ledger, "--grid", "300",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    totals = json.loads(done.stdout.strip().splitlines()[-1])
    assert totals["status"] == "completed" and totals["engine"] == "vllm"
    assert totals["intervals"] >= 5
    assert totals["output_tokens"] > 0 and totals["input_tokens"] == 4 * totals["output_tokens"]
    j_out = totals["j_per_output_token"]
    assert j_out["low"] <= j_out["value"] <= j_out["high"]
    assert j_out["value"] * totals["output_tokens"] == pytest.approx(totals["busy_energy_j"])
    parts = ("busy_energy_j", "idle_energy_j", "unattributed_energy_j")
    assert sum(totals[p] for p in parts) == pytest.approx(totals["energy_j"])
    assert totals["co2e_g"] == pytest.approx(totals["energy_j"] * 300 / 3.6e6)
    assert totals["models"]["llama"]["output_tokens"] == totals["output_tokens"]
    cpu = totals["sidecar_cpu"]  # its own cost, measured after two intervals of warm-up
    assert 0 < cpu["cpu_s"] <= cpu["wall_s"] * 2 and 0 < cpu["share_of_a_core_pct"] < 200
    assert "busy" in done.stderr and "J/out" in done.stderr  # a line per interval
    with open_ledger(ledger) as led:
        windows = led.windows(totals["run_id"])
        assert sum(w.metrics.get("output_tokens", 0) for w in windows) == totals["output_tokens"]
        assert led.summary(totals["run_id"]).status == "completed"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_ends_cleanly_with_the_totals(
    busy_engine: FakeEngine, tmp_path: Path, sig: signal.Signals
) -> None:
    ledger = str(tmp_path / "l.sqlite")
    proc = subprocess.Popen(
        [sys.executable, "-m", "carbonledger", "serving", "--engine", "vllm", "--metrics-url",
         busy_engine.url, "--interval", "0.2", "--json", "--ledger", ledger],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        seen = 0
        deadline = time.monotonic() + 30
        while seen < 3 and time.monotonic() < deadline:  # three intervals, then the signal
            if "interval-" in proc.stderr.readline():
                seen += 1
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    totals = json.loads(out.strip().splitlines()[-1])
    assert totals["status"] == "interrupted" and totals["output_tokens"] > 0
    with open_ledger(ledger) as led:
        assert led.summary(totals["run_id"]).status == "interrupted"
        assert len(led.windows(totals["run_id"])) == totals["intervals"]


def test_the_prometheus_endpoint_of_a_running_sidecar(busy_engine: FakeEngine) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "carbonledger", "serving", "--engine", "vllm", "--metrics-url",
         busy_engine.url, "--interval", "0.2", "--no-ledger", "--listen", "127.0.0.1:0",
         "--quiet", "--country", "SE"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = ""
        while "serving Prometheus metrics at" not in line:
            line = proc.stderr.readline()
            assert line, "the sidecar ended before serving its metrics"
        url = line.rsplit(" ", 1)[1].strip()
        import urllib.request

        text = ""
        deadline = time.monotonic() + 20
        while "carbonledger_serving_joules_per_output_token " not in text:
            assert time.monotonic() < deadline, text
            time.sleep(0.2)
            text = urllib.request.urlopen(url, timeout=5).read().decode()
        assert 'carbonledger_serving_output_tokens_total{engine="vllm",model="llama"}' in text
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--engine", "triton", "--metrics-url", "http://h:1/metrics"], "unknown engine"),
        (["--engine", "vllm", "--metrics-url", "h:1/metrics"], "must look like http://"),
        (["--engine", "vllm"], "give the engine's --metrics-url"),
        (["--engine", "vllm", "--metrics-url", "http://h/m", "--listen", "h:x"], "HOST:PORT"),
        (["--engine", "vllm", "--proxy", "http://127.0.0.1:1"], "--proxy needs --listen"),
        (["--engine", "vllm", "--metrics-url", "http://h/m", "--interval", "0"], "--interval"),
        (["--engine", "vllm", "--metrics-url", "http://h/m", "--duration", "-1"], "--duration"),
        (
            ["--engine", "vllm", "--metrics-url", "http://h/m", "--scrape-timeout", "30"],
            "at most the interval",
        ),
        (
            ["--engine", "vllm", "--metrics-url", "http://h/m", "--rate-window", "-1"],
            "the rate window (--rate-window) must be",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = _cli(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_the_proxy_mode_charges_requests_and_ends_with_the_totals(
    engines: Callable[..., FakeEngine],
) -> None:
    """``--proxy``: the sidecar reads UPSTREAM/metrics, the proxy answers on --listen, and
    SIGTERM ends both with the proxy's count in the totals."""
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, PlainTextResponse, Response
    from starlette.routing import Route

    from carbonledger.integrations.serving.proxy import ProxyServer

    page = engines("vllm")  # its text is the upstream's /metrics page

    async def completions(request: Request) -> Response:
        page.serve(input_tokens=20, output_tokens=10, requests=1)
        usage = {"prompt_tokens": 20, "completion_tokens": 10, "total_tokens": 30}
        return JSONResponse({"id": "c", "choices": [{"text": "x"}], "usage": usage})

    async def metrics(request: Request) -> Response:
        return PlainTextResponse(page.text())

    upstream = ProxyServer(
        Starlette(
            routes=[
                Route("/v1/completions", completions, methods=["POST"]),
                Route("/metrics", metrics),
            ]
        )
    ).start()
    proc = subprocess.Popen(
        [sys.executable, "-m", "carbonledger", "serving", "--engine", "vllm", "--proxy",
         upstream.url, "--listen", "127.0.0.1:0", "--interval", "0.2", "--no-ledger",
         "--json", "--quiet", "--country", "SE"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        line = ""
        while "listening at" not in line:
            line = proc.stderr.readline()
            assert line, "the proxy ended before listening"
        url = line.rsplit(" ", 1)[1].strip()
        answers = []
        for _ in range(6):
            answers.append(httpx.post(url + "/v1/completions", json={"prompt": "p"}).json())
            time.sleep(0.15)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        upstream.stop()
    assert proc.returncode == 0, err
    totals = json.loads(out.strip().splitlines()[-1])
    assert totals["proxy"]["requests"] == 6
    assert totals["output_tokens"] == 60 and totals["input_tokens"] == 120
    charged = [a["usage"]["energy_j"] for a in answers if a["usage"]["energy_j"] is not None]
    assert charged and totals["proxy"]["energy_j"] == pytest.approx(sum(charged))
