"""The sidecar against a fake engine (a local HTTP server with the engine's real metric names)
and a device whose power the test sets: what it reports for a known workload, against the
truth the test programmed, and what it does when the engine misbehaves."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from carbonledger.errors import InputError
from carbonledger.integrations.serving import ServingSidecar
from carbonledger.ledger import open_ledger
from carbonledger.ledger.keys import load_or_create_signing_key, public_key_pem
from carbonledger.testing import FakeClock, FakeEngine

from .conftest import make_tracker

#: 1 kWh is 3.6 MJ; the trackers here draw on a 400 g/kWh grid with PUE 1
G_PER_J = 400 / 3.6e6


#: the sidecars a test made, closed after it (a sidecar keeps its scrape connection open)
_MADE: list[ServingSidecar] = []


@pytest.fixture(autouse=True)
def _close_sidecars() -> Iterator[None]:
    yield
    while _MADE:
        _MADE.pop().close()


def _sidecar(
    engine: FakeEngine, clock: FakeClock, power_w: float = 200.0, **kw: object
) -> ServingSidecar:
    ledger = kw.pop("ledger", False)
    measured = kw.pop("measured", True)
    tracker = make_tracker(clock, power_w, ledger=ledger, measured=measured)  # type: ignore[arg-type]
    kw.setdefault("interval_s", 10.0)
    sidecar = ServingSidecar(engine.engine, engine.url, tracker, clock=clock, **kw).start()  # type: ignore[arg-type]
    _MADE.append(sidecar)
    return sidecar


def test_known_vllm_workload_gives_the_programmed_figures(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    """200 W for 10 s (2000 J) while the engine counts 4000 input and 1000 output tokens, 10
    requests, 5 s of prefill and 15 s of decode: every figure follows by hand."""
    engine = engines("vllm", models=("llama",))
    sidecar = _sidecar(engine, clock)
    clock.advance(10)
    engine.serve(input_tokens=4000, output_tokens=1000, requests=10, prefill_s=5, decode_s=15)
    report = sidecar.step()
    assert report.state == "busy" and report.scrape_ok
    assert report.energy.energy_j == pytest.approx(2000)
    span = report.span
    assert span is not None
    assert span.j_per_output_token == pytest.approx((2.0, 2.0, 2.0))
    assert span.j_per_input_token is not None and span.j_per_input_token.value == 0.5
    assert span.j_per_request is not None and span.j_per_request.value == pytest.approx(200)
    # 5 / (5 + 15) of the energy in prefill: 500 J over 4000 input tokens
    assert span.prefill_j_per_input_token is not None
    assert span.prefill_j_per_input_token.value == pytest.approx(0.125)
    assert span.decode_j_per_output_token is not None
    assert span.decode_j_per_output_token.value == pytest.approx(1.5)
    per_1k = span.co2e_g_per_1k_output_tokens
    assert per_1k is not None and per_1k.value == pytest.approx(2000 * G_PER_J)
    assert span.models["llama"].energy.energy_j == pytest.approx(2000)

    clock.advance(10)  # 10 s more: nothing counted, nothing running
    idle = sidecar.step()
    assert idle.state == "idle" and idle.span is None
    assert idle.idle_power_w == pytest.approx(200)

    clock.advance(5)
    engine.serve(input_tokens=1000, output_tokens=1000, requests=5, prefill_s=1, decode_s=4)
    sidecar.step()
    totals = sidecar.close().to_dict()
    assert totals["output_tokens"] == 2000 and totals["input_tokens"] == 5000
    assert totals["requests"] == 15
    assert totals["energy_j"] == pytest.approx(5000)
    assert totals["busy_energy_j"] == pytest.approx(3000)
    assert totals["idle_energy_j"] == pytest.approx(2000)
    assert totals["idle_power_w"] == pytest.approx(200)
    assert totals["unattributed_energy_j"] == pytest.approx(0, abs=1e-9)
    assert totals["j_per_output_token"]["value"] == pytest.approx(3000 / 2000)
    assert totals["j_per_request"]["value"] == pytest.approx(3000 / 15)
    assert totals["j_per_output_token_with_idle"] == pytest.approx(5000 / 2000)
    # prefill: 500 J + 1000 J x 1/5 over 5000 input tokens; decode: 1500 + 800 over 2000
    assert totals["prefill_j_per_input_token"]["value"] == pytest.approx(700 / 5000)
    assert totals["decode_j_per_output_token"]["value"] == pytest.approx(2300 / 2000)
    assert totals["co2e_g"] == pytest.approx(5000 * G_PER_J)
    assert totals["co2e_g_per_1k_output_tokens"]["value"] == pytest.approx(3000 * G_PER_J / 2)
    assert totals["models"]["llama"]["output_tokens"] == 2000
    assert totals["status"] == "completed"


def test_an_engine_restart_never_counts_negative_tokens(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("vllm")
    sidecar = _sidecar(engine, clock)
    engine.serve(input_tokens=900, output_tokens=700, requests=7)
    clock.advance(10)
    assert sidecar.step().amounts.output_tokens == 700
    engine.restart()  # counters back to zero, then 300 more tokens before the next scrape
    engine.serve(input_tokens=100, output_tokens=300, requests=3)
    clock.advance(10)
    report = sidecar.step()
    assert report.restarted
    assert report.amounts.output_tokens == 300 and report.amounts.input_tokens == 100
    assert report.amounts.requests == 3
    assert report.span is not None and report.span.j_per_output_token is not None
    assert report.span.j_per_output_token.value == pytest.approx(2000 / 300)
    totals = sidecar.close().to_dict()
    assert totals["output_tokens"] == 1000 and totals["engine_restarts"] == 1


def test_a_restart_that_outgrew_the_old_count_is_still_a_restart(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    """After a restart the counter already exceeds its old value: the process start time
    (and the counters' _created) tell, so the amount is the new value, not the difference."""
    engine = engines("sglang")
    sidecar = _sidecar(engine, clock)
    engine.serve(output_tokens=100, requests=1)
    clock.advance(10)
    sidecar.step()
    engine.restart()
    engine.serve(output_tokens=250, requests=2)
    clock.advance(10)
    report = sidecar.step()
    assert report.restarted and report.amounts.output_tokens == 250


def test_tgi_counters_going_down_are_a_reset(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    """TGI exposes no process start time: a counter lower than before is a reset."""
    engine = engines("tgi", models=("mistral",))
    sidecar = _sidecar(engine, clock, model="mistral")
    engine.serve(input_tokens=500, output_tokens=400, requests=4, prefill_s=1, decode_s=3)
    clock.advance(10)
    first = sidecar.step()
    assert first.amounts.output_tokens == 400 and first.amounts.prefill_s == 1
    engine.restart()
    engine.serve(input_tokens=50, output_tokens=40, requests=1)
    clock.advance(10)
    second = sidecar.step()
    assert second.amounts.output_tokens == 40 and len(second.resets) >= 3
    assert not second.restarted  # no start time to compare: reset series, counted apart
    totals = sidecar.close().to_dict()
    assert totals["output_tokens"] == 440 and totals["counter_resets"] >= 3
    assert set(totals["models"]) == {"mistral"}


def test_a_missing_series_is_counted_when_it_returns(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("vllm")
    sidecar = _sidecar(engine, clock)
    engine.hide("vllm:generation_tokens")
    engine.serve(input_tokens=100, output_tokens=50, requests=1, prefill_s=1, decode_s=1)
    clock.advance(10)
    gap = sidecar.step()
    assert gap.amounts.output_tokens == 0 and gap.amounts.input_tokens == 100
    assert any("vllm:generation_tokens_total" in m for m in gap.missing)
    engine.show()
    engine.serve(output_tokens=30)
    clock.advance(10)
    back = sidecar.step()
    assert back.amounts.output_tokens == 80  # the 50 of the gap and the 30 since
    assert back.missing == ()


def test_without_phase_times_there_is_no_prefill_decode_split(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("vllm", phase_times=False)
    sidecar = _sidecar(engine, clock)
    engine.serve(input_tokens=300, output_tokens=100, requests=2)
    clock.advance(10)
    span = sidecar.step().span
    assert span is not None and span.rates is not None
    assert span.rates.split == "per-token"
    assert span.prefill_j_per_input_token is None
    assert span.rates.input_j.value == pytest.approx(2000 / 400)
    totals = sidecar.close().to_dict()
    assert totals["prefill_j_per_input_token"] is None


def test_a_stalled_scrape_keeps_its_deadline_and_the_interval_its_energy(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("vllm")
    sidecar = _sidecar(engine, clock, scrape_timeout_s=0.3)
    engine.serve(input_tokens=100, output_tokens=100, requests=1)
    engine.stall(5.0)
    clock.advance(10)
    t0 = time.monotonic()
    failed = sidecar.step()
    assert time.monotonic() - t0 < 2.0  # one deadline (0.3 s), not the engine's 5 s
    assert failed.state == "no-data" and not failed.scrape_ok
    assert "no complete answer within 0.3 s" in failed.scrape_error
    engine.stall(0)
    clock.advance(10)
    report = sidecar.step()
    # the next scrape's counters cover both intervals, and so does the energy
    assert report.state == "busy" and report.amounts.output_tokens == 100
    assert report.span is not None and report.span.energy.energy_j == pytest.approx(4000)
    assert report.span.duration_s == pytest.approx(20)
    assert sidecar.close().to_dict()["scrapes_failed"] == 1


def test_an_http_error_is_a_failed_scrape(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("vllm")
    sidecar = _sidecar(engine, clock)
    engine.fail(503)
    clock.advance(10)
    report = sidecar.step()
    assert not report.scrape_ok and "HTTP 503" in report.scrape_error


def test_idle_only_never_divides_by_zero(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("sglang")
    sidecar = _sidecar(engine, clock, power_w=50.0)
    for _ in range(3):
        clock.advance(10)
        assert sidecar.step().state == "idle"
    totals = sidecar.close().to_dict()
    assert totals["idle_energy_j"] == pytest.approx(1500)
    assert totals["idle_power_w"] == pytest.approx(50)
    for key in ("j_per_output_token", "j_per_input_token", "j_per_request"):
        assert totals[key] is None
    assert totals["j_per_output_token_with_idle"] is None
    assert totals["co2e_g_per_1k_output_tokens"] is None


def test_running_requests_counted_at_their_end_carry_their_energy(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    """SGLang counts a request's tokens when it finishes: an interval with requests running
    and nothing counted is not idle; its energy goes to the interval that counts them."""
    engine = engines("sglang")
    sidecar = _sidecar(engine, clock)
    engine.set_running(4)
    clock.advance(10)
    assert sidecar.step().state == "waiting"
    engine.set_running(0)
    engine.serve(input_tokens=800, output_tokens=400, requests=4)
    clock.advance(10)
    report = sidecar.step()
    assert report.state == "busy" and report.span is not None
    assert report.span.energy.energy_j == pytest.approx(4000)
    assert report.span.j_per_output_token is not None
    assert report.span.j_per_output_token.value == pytest.approx(10)
    totals = sidecar.close().to_dict()
    assert totals["idle_energy_j"] == 0


def test_requests_that_end_uncounted_are_busy_energy_without_tokens(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("sglang")
    sidecar = _sidecar(engine, clock)
    engine.set_running(2)
    clock.advance(10)
    sidecar.step()
    engine.set_running(0)  # aborted: nothing counted
    clock.advance(10)
    assert sidecar.step().state == "waiting"  # they were running when this interval began
    clock.advance(10)
    assert sidecar.step().state == "idle"
    totals = sidecar.close().to_dict()
    assert totals["uncounted_energy_j"] == pytest.approx(4000)
    assert totals["idle_energy_j"] == pytest.approx(2000)
    assert totals["busy_energy_j"] == pytest.approx(4000)
    assert totals["j_per_output_token"] is None


def test_several_models_share_by_their_tokens(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("vllm", models=("small", "large"))
    sidecar = _sidecar(engine, clock)
    engine.serve("small", input_tokens=1000, output_tokens=200, requests=4, prefill_s=1)
    engine.serve("large", input_tokens=3000, output_tokens=800, requests=6, prefill_s=4)
    engine.serve("large", decode_s=15)
    clock.advance(10)
    span = sidecar.step().span
    assert span is not None and span.rates is not None
    # prefill 5 s of 20: 500 J over 4000 input tokens; decode 1500 J over 1000 output tokens
    small, large = span.models["small"], span.models["large"]
    assert small.energy.energy_j == pytest.approx(1000 * 0.125 + 200 * 1.5)
    assert large.energy.energy_j == pytest.approx(3000 * 0.125 + 800 * 1.5)
    assert small.energy.energy_j + large.energy.energy_j == pytest.approx(2000)
    totals = sidecar.close().to_dict()
    assert totals["models"]["small"]["requests"] == 4
    assert totals["models"]["large"]["j_per_output_token"] == pytest.approx(1575 / 800)


def test_estimated_energy_carries_its_range(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("vllm")
    sidecar = _sidecar(engine, clock, measured=False)  # a model: +-25 %
    engine.serve(input_tokens=100, output_tokens=100, requests=1)
    clock.advance(10)
    span = sidecar.step().span
    assert span is not None and span.j_per_output_token is not None
    assert span.j_per_output_token == pytest.approx((20.0, 15.0, 25.0))
    assert span.co2e_low_g < span.co2e_g < span.co2e_high_g
    totals = sidecar.close().to_dict()
    assert totals["j_per_output_token"] == pytest.approx({"value": 20, "low": 15, "high": 25})
    assert totals["measured_share"] == 0


def test_the_proxy_charge_pools_the_recent_spans_and_spans_their_range(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("vllm", phase_times=False)
    sidecar = _sidecar(engine, clock)  # rate window: six 10 s intervals
    assert sidecar.rate_window_s == 60
    assert sidecar.charge(10, 10, clock(), clock()) is None  # no span closed yet
    started = clock()
    engine.serve(input_tokens=1000, output_tokens=1000, requests=1)
    clock.advance(10)
    sidecar.step()  # 2000 J / 2000 tokens: 1 J per token
    engine.serve(input_tokens=500, output_tokens=500, requests=1)
    clock.advance(10)
    sidecar.step()  # 2 J per token
    charge = sidecar.charge(30, 10, started, clock())
    assert charge is not None
    assert charge.energy_j == pytest.approx(40 * 4000 / 3000)  # both spans pooled
    assert (charge.low_j, charge.high_j) == pytest.approx((40 * 1.0, 40 * 2.0))
    assert charge.co2e_g == pytest.approx(charge.energy_j * G_PER_J)
    assert charge.measured and charge.split == "per-token"
    assert "latest 2 span(s) pooled" in charge.method
    for _ in range(7):  # seven more spans of 1 J per token push the first two out of the window
        engine.serve(input_tokens=1000, output_tokens=1000, requests=1)
        clock.advance(10)
        sidecar.step()
    late = sidecar.charge(30, 10, clock(), clock())
    assert late is not None and late.energy_j == pytest.approx(40)
    assert (late.low_j, late.high_j) == pytest.approx((40, 40))
    # a request that ran over the old spans still takes them in
    long = sidecar.charge(30, 10, started, clock())
    assert long is not None and long.high_j == pytest.approx(80)
    assert 40 < long.energy_j < 80
    proxy = sidecar.close().to_dict()["proxy"]
    assert proxy == {
        "requests": 4,
        "input_tokens": 100,
        "output_tokens": 40,
        "energy_j": pytest.approx(charge.energy_j + late.energy_j + long.energy_j),
        "uncharged_requests": 1,
    }


def test_a_zero_rate_window_charges_at_the_latest_span_alone(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("vllm", phase_times=False)
    sidecar = _sidecar(engine, clock, rate_window_s=0)
    for tokens in (1000, 500):  # 1 J, then 2 J per token
        engine.serve(input_tokens=tokens, output_tokens=tokens, requests=1)
        clock.advance(10)
        sidecar.step()
    charge = sidecar.charge(30, 10, clock(), clock())
    assert charge is not None and charge.energy_j == pytest.approx(80)
    sidecar.close()
    for bad in (-1, float("nan"), float("inf"), "6", True):
        with pytest.raises(InputError, match="rate window"):
            _sidecar(engine, clock, rate_window_s=bad)


@pytest.mark.parametrize("window_s, within", [(None, 0.05), (0.0, None)])
def test_charges_add_up_to_the_busy_energy_when_the_token_count_varies(
    engines: Callable[..., FakeEngine],
    clock: FakeClock,
    window_s: float | None,
    within: float | None,
) -> None:
    """Constant power, spans of 100 and 300 tokens in turn, every request through the proxy
    and charged when it ends (before its span closes). At the latest span's rates alone the
    charges overshoot by about two thirds (each span's tokens at the previous span's energy per
    token: 100 x 2000/300 + 300 x 2000/100 over two spans of 2000 J); the pooled rates of the
    rate window come within a few per cent."""
    engine = engines("vllm", phase_times=False)
    sidecar = _sidecar(engine, clock, rate_window_s=window_s)
    engine.serve(input_tokens=0, output_tokens=200, requests=1)
    clock.advance(10)
    sidecar.step()  # the first span: nothing to charge at before it
    charged = 0.0
    for k in range(40):
        tokens = 100 if k % 2 else 300
        for _ in range(tokens // 50):  # requests of 50 tokens, each charged as it ends
            started = clock()
            engine.serve(input_tokens=0, output_tokens=50, requests=1)
            clock.advance(10 / (tokens // 50))
            c = sidecar.charge(0, 50, started, clock() - 1e-9)
            assert c is not None
            charged += c.energy_j
        sidecar.step()
    totals = sidecar.close().to_dict()
    busy_j = totals["busy_energy_j"] - 2000  # less the first span's (charged to no request)
    error = charged / busy_j - 1
    if within is not None:
        assert abs(error) < within
    else:
        assert error > 0.6  # two thirds but for the first span, charged at the warm-up's rates


def test_windows_carry_the_tokens_through_the_signed_write_path(
    engines: Callable[..., FakeEngine], clock: FakeClock, tmp_path: Path
) -> None:
    target = str(tmp_path / "ledger.sqlite")
    engine = engines("vllm", models=("llama", "mistral"))
    sidecar = _sidecar(engine, clock, ledger=target)
    for out in (100, 0, 300):
        engine.serve("llama", input_tokens=2 * out, output_tokens=out, requests=out // 100)
        clock.advance(10)
        sidecar.step()
    totals = sidecar.close()
    run_id = totals.summary.run_id
    pin = tmp_path / "me.pub"
    pin.write_text(public_key_pem(load_or_create_signing_key().public_hex))
    with open_ledger(target) as led:
        windows = led.windows(run_id)
        # the last one is what close() measured after the last step (nothing here)
        assert [w.name for w in windows] == [f"interval-{i}" for i in (1, 2, 3, 4)]
        assert [w.metrics["output_tokens"] for w in windows] == [100, 0, 300, 0]
        assert windows[0].metrics["model/llama/input_tokens"] == 200
        assert windows[0].metrics["model/mistral/output_tokens"] == 0
        assert windows[2].energy_j == pytest.approx(2000)
        assert led.verify([str(pin)]).ok
        assert led.run_record(run_id).meta["serving"]["engine"] == "vllm"
    con = sqlite3.connect(target)  # an attacker raises a window's token count
    with con:
        con.execute("UPDATE windows SET metrics = replace(metrics, '300', '3000')")
    con.close()
    with open_ledger(target, read_only=True) as led:
        report = led.verify([str(pin)])
    assert not report.ok


def test_bad_arguments_say_what_to_give(clock: FakeClock) -> None:
    tracker = make_tracker(clock)
    with pytest.raises(InputError, match="unknown engine 'triton'"):
        ServingSidecar("triton", "http://127.0.0.1:1/metrics", tracker)
    with pytest.raises(InputError, match="must look like http://"):
        ServingSidecar("vllm", "127.0.0.1:8000/metrics", tracker)
    with pytest.raises(InputError, match="at most the interval"):
        ServingSidecar("vllm", "http://h/metrics", tracker, interval_s=1, scrape_timeout_s=5)
    with pytest.raises(InputError, match="interval_s must be between"):
        ServingSidecar("vllm", "http://h/metrics", tracker, interval_s=0)


def test_the_engines_gpus_are_the_ones_measured(clock: FakeClock) -> None:
    """``--gpus`` (the engine's CUDA_VISIBLE_DEVICES) limits NVML to those GPUs, by index or
    by UUID; the host's CPU and RAM are measured beside them."""
    from carbonledger.integrations.serving.engines import engine_env
    from carbonledger.sensors.registry import discover
    from carbonledger.testing import FakeGpu, FakeNvml

    def gpus_seen(gpus: str | None) -> list[str]:
        nvml = FakeNvml(
            [FakeGpu(uuid=f"GPU-{c * 8}-0000", power_mw=300_000) for c in "abcd"], clock=clock
        )
        env = engine_env(gpus, {"HIP_VISIBLE_DEVICES": "0"})
        found = discover(scope="machine", env=env, hardware={"nvidia": nvml}, clock=clock)
        components = {s.info.component for s in found.sensors}
        assert {"cpu", "ram"} <= components
        assert "HIP_VISIBLE_DEVICES" not in env or gpus is None
        return sorted(s.info.uid for s in found.sensors if s.info.component == "gpu")

    assert gpus_seen("1,3") == ["GPU-bbbbbbbb-0000", "GPU-dddddddd-0000"]
    assert gpus_seen("GPU-cccc") == ["GPU-cccccccc-0000"]
    assert len(gpus_seen(None)) == 4


def test_prometheus_client_engines_send_only_the_samples_read(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    """vLLM and SGLang serve their page with prometheus_client, which sends only the samples
    named by ``?name[]=``: a page of a real engine's size shrinks to the few lines read. A
    server that refuses the query (400) is scraped without it from then on."""
    engine = engines("vllm", padding=True)
    full = len(engine.text().encode())
    sidecar = _sidecar(engine, clock)
    engine.serve(input_tokens=10, output_tokens=10, requests=1)
    clock.advance(10)
    assert sidecar.step().amounts.output_tokens == 10
    assert "name%5B%5D=vllm%3Ageneration_tokens_total" in engine.last_path
    assert full > 30_000 and engine.last_bytes < full / 10
    engine.refuse_queries()
    engine.serve(output_tokens=5)
    clock.advance(10)
    report = sidecar.step()
    assert report.scrape_ok and report.amounts.output_tokens == 5
    assert engine.last_path == "/metrics"


def test_tgi_is_asked_for_its_whole_page(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("tgi", models=("m",))
    sidecar = _sidecar(engine, clock)
    clock.advance(10)
    sidecar.step()
    assert engine.last_path == "/metrics"
