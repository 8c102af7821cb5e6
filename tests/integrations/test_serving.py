"""Energy per request and per token: the sharing rule, checked against a device whose
energy we control (a fake sensor drawing a set power on a fake clock)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import carbonledger as cl
from carbonledger.errors import InputError, StateError
from carbonledger.integrations.serving import Distribution, RequestMeter
from carbonledger.ledger import open_ledger
from carbonledger.testing import FakeClock

from .conftest import fake_sensors


def _tracker(clock: FakeClock, power_w: float = 100.0, ledger: str | bool = False) -> cl.Tracker:
    return cl.Tracker(
        sensors=fake_sensors(power_w, clock),
        clock=clock,
        ledger=ledger,
        grid_g_per_kwh=400,
        pue=1.0,
        handle_signals=False,
    ).start()


def test_overlapping_requests_share_by_token_rate(clock: FakeClock) -> None:
    tracker = _tracker(clock)
    meter = RequestMeter(tracker, clock=clock)
    a = meter.begin(input_tokens=10)  # t=0
    clock.advance(1)
    b = meter.begin()  # t=1
    clock.advance(2)
    meter.end(a, output_tokens=30)  # t=3: A had 40 tokens over 3 s
    assert meter.records == ()  # [1, 3] is shared with B, which is still running
    clock.advance(1)
    b.end(output_tokens=10)  # t=4: B had 10 tokens over 3 s
    by_id = {r.request_id: r for r in meter.records}
    # [0,1] 100 J to A alone; [1,3] 200 J split 40/3 : 10/3; [3,4] 100 J to B alone
    assert by_id[a.request_id].energy_j == pytest.approx(100 + 160)
    assert by_id[b.request_id].energy_j == pytest.approx(40 + 100)
    stats = meter.stats()
    assert stats.energy_j == pytest.approx(tracker.energy_j()) == pytest.approx(400)
    assert stats.energy_per_output_token_j == pytest.approx(400 / 40)
    assert stats.idle_energy_j == 0
    tracker.stop()


def test_prefill_and_decode_marked_by_the_caller(clock: FakeClock) -> None:
    tracker = _tracker(clock)
    meter = RequestMeter(tracker, clock=clock)
    with meter.request(input_tokens=100, phase="prefill") as req:
        clock.advance(1)
        req.phase("decode")
        clock.advance(4)
        req.output_tokens = 40
    (record,) = meter.records
    assert record.prefill_energy_j == pytest.approx(100)
    assert record.decode_energy_j == pytest.approx(400)
    stats = meter.stats()
    assert stats.prefill_energy_per_input_token_j == pytest.approx(1.0)
    assert stats.decode_energy_per_output_token_j == pytest.approx(10.0)
    assert stats.per_output_token_j is not None
    assert stats.per_output_token_j.p50 == pytest.approx(500 / 40)
    tracker.stop()


def test_concurrent_phases_weigh_their_own_tokens(clock: FakeClock) -> None:
    """A's prefill (20 input tokens over 2 s) overlaps B's decode (10 output tokens over 2 s)."""
    tracker = _tracker(clock)
    meter = RequestMeter(tracker, clock=clock)
    a = meter.begin(20, phase="prefill")  # t=0
    clock.advance(1)
    b = meter.begin(0, phase="decode")  # t=1
    clock.advance(1)
    a.end(output_tokens=0)  # t=2
    clock.advance(1)
    b.end(output_tokens=10)  # t=3
    by_id = {r.request_id: r for r in meter.records}
    # [1,2]: A processes 20*1/2 = 10 tokens, B 10*1/2 = 5 -> 2/3 and 1/3 of 100 J
    assert by_id[a.request_id].energy_j == pytest.approx(100 + 200 / 3)
    assert by_id[b.request_id].energy_j == pytest.approx(100 / 3 + 100)
    assert by_id[b.request_id].decode_energy_j == pytest.approx(100 / 3 + 100)
    tracker.stop()


def test_no_tokens_split_equally_and_idle_time_is_nobodys(clock: FakeClock) -> None:
    tracker = _tracker(clock, power_w=10.0)
    meter = RequestMeter(tracker, clock=clock)
    a, b = meter.begin(), meter.begin()
    clock.advance(2)
    a.end()
    b.end()
    clock.advance(3)  # 30 J while nothing runs
    with meter.request():
        clock.advance(1)
    energies = sorted(r.energy_j for r in meter.records)
    assert energies == pytest.approx([10, 10, 10])
    stats = meter.stats()
    assert stats.idle_energy_j == pytest.approx(30)
    assert stats.energy_per_request_with_idle_j == pytest.approx(60 / 3)
    assert stats.energy_per_output_token_j is None  # no output tokens: no ratio invented
    tracker.stop()


def test_percentiles_and_metrics_reach_the_run_summary(clock: FakeClock, tmp_path: Path) -> None:
    tracker = _tracker(clock, power_w=1.0, ledger=str(tmp_path / "l.sqlite"))
    meter = RequestMeter(tracker, clock=clock)
    for seconds in range(1, 11):  # requests of 1 .. 10 J, 2 output tokens each
        with meter.request(input_tokens=1) as req:
            clock.advance(seconds)
            req.output_tokens = 2
    stats = meter.log_to_tracker()
    assert stats.per_request_j == Distribution(10, 5.5, 5.5, pytest.approx(9.1))
    metrics = tracker.summary().extra["metrics"]
    assert metrics["requests/energy_per_request_j_p50"] == pytest.approx(5.5)
    assert metrics["requests/energy_per_request_j_p90"] == pytest.approx(9.1)
    assert metrics["requests/energy_per_output_token_j"] == pytest.approx(55 / 20)
    assert metrics["requests/count"] == 10
    summary = tracker.stop()
    assert summary.extra["metrics"]["requests/count"] == 10
    led = open_ledger(str(tmp_path / "l.sqlite"))
    try:
        meta = led.run_record(summary.run_id).meta
    finally:
        led.close()
    assert meta["requests"]["per_request_j"]["p90"] == pytest.approx(9.1)
    assert meta["metrics"]["requests/energy_per_request_j_p50"] == pytest.approx(5.5)


def test_many_threads_account_every_joule() -> None:
    """Real threads and the real clock: shares add up to the device's energy."""
    tracker = cl.Tracker(sensors=fake_sensors(50.0), ledger=False, handle_signals=False).start()
    meter = RequestMeter(tracker)
    barrier = threading.Barrier(4)

    def serve(n: int) -> None:
        barrier.wait()
        for i in range(20):
            with meter.request(input_tokens=n + 1) as req:
                req.phase("prefill")
                req.phase("decode")
                req.output_tokens = i + 1

    threads = [threading.Thread(target=serve, args=(n,)) for n in range(4)]
    before_j = tracker.energy_j()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = meter.stats()
    assert stats.requests == 80
    after_j = tracker.energy_j()
    assert stats.energy_j + stats.idle_energy_j <= after_j - before_j + 1e-9
    assert stats.energy_j > 0
    tracker.stop()


def test_bad_input_says_what_was_wrong(clock: FakeClock) -> None:
    tracker = _tracker(clock)
    meter = RequestMeter(tracker, clock=clock)
    with pytest.raises(InputError, match="input_tokens"):
        meter.begin(input_tokens=-1)
    req = meter.begin()
    with pytest.raises(InputError, match="prefill"):
        req.phase("warmup")
    with pytest.raises(InputError, match="output_tokens"):
        req.end(output_tokens=1.5)  # type: ignore[arg-type]
    req.end()
    with pytest.raises(StateError, match="already ended"):
        req.end()
    tracker.stop()
