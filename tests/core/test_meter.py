"""Meter and sampler: windows from counter differences, nesting, errors never raised into user code."""

from __future__ import annotations

import math
import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carbonledger.errors import InputError, SensorError, StateError
from carbonledger.events import Event, SamplesAdded
from carbonledger.meter import Meter, Sampler
from carbonledger.models import Reading, SensorInfo


class Clock:
    """An injected monotonic clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CounterAtRate:
    """Hardware edge: a counter advancing at a constant power on the injected clock."""

    def __init__(self, clock: Clock, power_w: float, device: str = "cpu:package-0") -> None:
        self.clock = clock
        self.power_w = power_w
        self.origin = clock()
        self.fail = False
        self._info = SensorInfo(component="cpu", device=device, method="rapl", measured=True)

    @property
    def info(self) -> SensorInfo:
        return self._info

    def read(self) -> Reading:
        if self.fail:
            raise SensorError("energy_uj: Input/output error")
        return Reading(time_s=self.clock(), energy_j=(self.clock() - self.origin) * self.power_w)

    def close(self) -> None:
        pass


class Estimate(CounterAtRate):
    def __init__(self, clock: Clock, power_w: float) -> None:
        super().__init__(clock, power_w, device="ram")
        self._info = SensorInfo(component="ram", device="ram", method="ram-model", measured=False)

    def read(self) -> Reading:
        e = (self.clock() - self.origin) * self.power_w
        return Reading(time_s=self.clock(), energy_j=e, low_j=0.5 * e, high_j=2 * e)


def test_ten_ms_window_is_exact_to_one_percent() -> None:
    clock = Clock()
    meter = Meter([CounterAtRate(clock, 123.4)], clock=clock)
    meter.begin_window("tiny")
    clock.now += 0.010
    w = meter.end_window("tiny")
    (c,) = w.components
    assert c.energy_j == pytest.approx(1.234, rel=0.01)
    assert c.power_w == pytest.approx(123.4, rel=0.01)
    assert w.duration_s == pytest.approx(0.010)
    assert c.measured and c.method == "rapl" and c.low_j is None


def test_nested_windows_have_paths_and_add_up() -> None:
    clock = Clock()
    meter = Meter([CounterAtRate(clock, 10.0)], clock=clock)
    meter.begin_window("epoch-1")
    clock.now += 1
    meter.begin_window("step-1")
    clock.now += 2
    inner = meter.end_window("step-1")
    clock.now += 3
    outer = meter.end_window("epoch-1")
    assert inner.path == "epoch-1/step-1"
    assert outer.path == "epoch-1"
    assert inner.energy_j == pytest.approx(20.0)
    assert outer.energy_j == pytest.approx(60.0)


class ReadAdvances(CounterAtRate):
    """A counter that moves 1 J between any two reads (time passes while one reads)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__(clock, 0.0)
        self.reads = 0

    def read(self) -> Reading:
        self.reads += 1
        return Reading(time_s=self.clock(), energy_j=float(self.reads))


def test_next_window_leaves_no_energy_between_two_intervals() -> None:
    clock = Clock()
    sensor = ReadAdvances(clock)
    meter = Meter([sensor], clock=clock)
    meter.begin_window("interval-1")  # read 1
    first = meter.next_window("interval-1", "interval-2")  # read 2, begins interval-2 at it
    second = meter.next_window("interval-2", "interval-3")  # read 3
    third = meter.end_window("interval-3")  # read 4
    assert sensor.reads == 4  # one read per boundary, not two
    assert [w.energy_j for w in (first, second, third)] == [1.0, 1.0, 1.0]
    assert first.energy_j + second.energy_j + third.energy_j == 4.0 - 1.0  # all of it
    # the same with end + begin loses the joule read between the two calls
    meter.begin_window("a")  # read 5
    ended = meter.end_window("a")  # read 6
    meter.begin_window("b")  # read 7
    assert ended.energy_j == 1.0 and meter.end_window("b").energy_j == 1.0  # 6..7 is lost


def test_next_window_misuse_keeps_the_open_window() -> None:
    clock = Clock()
    meter = Meter([CounterAtRate(clock, 1.0)], clock=clock)
    meter.begin_window("outer")
    meter.begin_window("inner")
    with pytest.raises(StateError, match="already open"):
        meter.next_window("inner", "outer")
    assert meter.open_windows == ("outer", "inner")
    with pytest.raises(StateError, match="never begun"):
        meter.next_window("nope", "x")
    with pytest.raises(InputError, match="no '/'"):
        meter.next_window("inner", "a/b")
    clock.now += 2
    nxt = meter.next_window("inner", "inner-2")
    assert nxt.path == "outer/inner" and nxt.energy_j == pytest.approx(2.0)
    assert meter.open_windows == ("outer", "inner-2")
    assert meter.end_window("inner-2").path == "outer/inner-2"


def test_estimate_range_from_cumulative_bounds() -> None:
    clock = Clock()
    meter = Meter([Estimate(clock, 4.0)], clock=clock)
    meter.begin_window("w")
    clock.now += 10
    (c,) = meter.end_window("w").components
    assert (c.low_j, c.energy_j, c.high_j) == pytest.approx((20.0, 40.0, 80.0))
    assert not c.measured
    assert c.to_dict()["low_j"] == pytest.approx(20.0)


def test_window_misuse_is_a_clear_error() -> None:
    clock = Clock()
    meter = Meter([CounterAtRate(clock, 1.0)], clock=clock)
    with pytest.raises(StateError, match="never begun"):
        meter.end_window("epoch-9")
    meter.begin_window("a")
    with pytest.raises(StateError, match="already open"):
        meter.begin_window("a")
    with pytest.raises(InputError):
        meter.begin_window("")
    with pytest.raises(InputError):
        meter.begin_window("a/b")


def test_duplicate_devices_rejected() -> None:
    clock = Clock()
    with pytest.raises(InputError, match="same device"):
        Meter([CounterAtRate(clock, 1.0), CounterAtRate(clock, 2.0)], clock=clock)


def test_failed_read_keeps_last_good_value_and_is_recorded() -> None:
    clock = Clock()
    sensor = CounterAtRate(clock, 5.0)
    meter = Meter([sensor], clock=clock)
    meter.begin_window("w")
    clock.now += 2
    meter.read_all()  # last good: 10 J
    sensor.fail = True
    clock.now += 2
    w = meter.end_window("w")
    assert w.energy_j == pytest.approx(10.0)
    assert any("read failed" in e for e in meter.errors)
    sensor.fail = False
    meter.read_all()
    sensor.fail = True
    meter.read_all()
    assert any("(x2)" in e for e in meter.errors)


@given(st.lists(st.floats(min_value=0, max_value=1e4), min_size=1, max_size=30))
def test_window_energy_is_sum_of_increments(steps: list[float]) -> None:
    clock = Clock()
    meter = Meter([CounterAtRate(clock, 3.0)], clock=clock)
    meter.begin_window("w")
    for s in steps:
        clock.now += s
        meter.read_all()
    assert meter.end_window("w").energy_j == pytest.approx(3.0 * sum(steps), rel=1e-9, abs=1e-6)


def test_sampler_failure_is_recorded_not_raised() -> None:
    clock = Clock()
    meter = Meter([CounterAtRate(clock, 1.0)], clock=clock)
    calls: list[int] = []

    def broken(events: list[Event]) -> None:
        calls.append(1)
        raise RuntimeError("disk full")

    sampler = Sampler(meter, 0.01, broken)
    sampler.tick()
    assert calls and any("disk full" in e for e in meter.errors)


def test_sampler_thread_ticks_and_stops() -> None:
    clock = Clock()
    meter = Meter([CounterAtRate(clock, 1.0)], clock=clock)
    seen = threading.Event()
    got: list[list[Event]] = []

    def sink(events: list[Event]) -> None:
        got.append(events)
        if len(got) >= 3:
            seen.set()

    meter.start()
    sampler = Sampler(meter, 0.005, sink)
    sampler.start()
    assert seen.wait(10)
    sampler.stop()
    n = len(got)
    assert n >= 3
    (event,) = got[0]
    assert isinstance(event, SamplesAdded)
    assert [s.device for s in event.samples] == ["cpu:package-0"]


def test_a_tick_turns_readings_into_one_samples_event() -> None:
    clock = Clock()
    meter = Meter([CounterAtRate(clock, 2.0)], clock=clock, wall_clock=lambda: 1000.0)
    meter.start()
    clock.now += 1.5
    (event,) = meter.tick()
    assert isinstance(event, SamplesAdded)
    (sample,) = event.samples
    assert sample.time_unix_s == 1000.0 and sample.energy_j == pytest.approx(3.0)


def test_a_non_finite_reading_is_an_error_never_a_sample() -> None:
    clock = Clock()

    class Broken(CounterAtRate):
        def read(self) -> Reading:
            r = super().read()
            return Reading(r.time_s, float("nan"))

    meter = Meter([Broken(clock, 1.0)], clock=clock)
    meter.start()
    clock.now += 1.0
    (event,) = meter.tick()
    assert isinstance(event, SamplesAdded)
    assert all(math.isfinite(s.energy_j) for s in event.samples)
    assert any("non-finite" in e for e in meter.errors)


@pytest.mark.parametrize("bad", [0, -1.0])
def test_sampler_rejects_bad_interval(bad: float) -> None:
    clock = Clock()
    meter = Meter([CounterAtRate(clock, 1.0)], clock=clock)
    with pytest.raises(InputError, match="> 0"):
        Sampler(meter, bad, lambda events: None)
