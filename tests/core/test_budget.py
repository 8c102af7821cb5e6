"""Carbon budgets in the tracker: warn once, or stop at a window boundary; the ledger
keeps the budget and what happened."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import carbonledger as cl
from carbonledger.errors import InputError
from carbonledger.ledger import open_ledger
from carbonledger.models import Reading, SensorInfo
from carbonledger.reduce import BudgetExceeded, BudgetStatus, BudgetWarning

KWH_J = 3.6e6


class RampSensor:
    """A GPU counter that gains 1 kWh at every read (a fake at the hardware edge)."""

    def __init__(self) -> None:
        self.info = SensorInfo(
            component="gpu", device="gpu:0", method="fake-counter", measured=True, uid="GPU-r"
        )
        self._reads = 0
        self._lock = threading.Lock()

    def read(self) -> Reading:
        with self._lock:
            self._reads += 1
            return Reading(time_s=0.0, energy_j=(self._reads - 1) * KWH_J)

    def close(self) -> None:
        pass


def tracker(**kwargs: object) -> cl.Tracker:
    return cl.Tracker(
        grid_g_per_kwh=1000,
        sensors=[RampSensor()],
        interval_s=3600,
        **kwargs,  # type: ignore[arg-type]
    )


def test_warn_once_with_the_forecast_and_its_interval(tmp_path: Path) -> None:
    seen: list[BudgetStatus] = []
    path = str(tmp_path / "l.sqlite")
    with pytest.warns(BudgetWarning, match=r"forecast of the whole run .* \(80% interval") as rec:
        with tracker(
            ledger=path, expected_epochs=100, budget_kg=20, on_budget_exceeded=seen.append
        ) as run:
            for i in range(4):
                with run.window(f"epoch-{i}"):
                    pass
    assert len(rec) == 1 and len(seen) == 1  # once, not at every window
    assert seen[0].basis == "forecast of the whole run" and seen[0].forecast_co2e_g > 20e3
    assert not run.budget_exceeded  # "warn" never asks to stop
    led = open_ledger(path)
    try:
        meta = led.run_record(run.run_id).meta
    finally:
        led.close()
    assert meta["budget"]["budget_kg"] == 20 and meta["budget"]["exceeded"] is True
    assert meta["budget"]["action"] == "warn" and meta["budget"]["co2e_low_kg"] is not None


def test_stop_raises_at_the_window_boundary_and_flags_callbacks(tmp_path: Path) -> None:
    path = str(tmp_path / "l.sqlite")
    done = []
    with pytest.warns(BudgetWarning), pytest.raises(BudgetExceeded) as info:
        with tracker(ledger=path, expected_epochs=100, budget_kg=20, on_budget="stop") as run:
            for i in range(10):
                with run.window(f"epoch-{i}"):
                    pass
                done.append(i)
    assert done == [] and run.budget_exceeded  # raised at the end of the first epoch
    assert info.value.status.action == "stop" and info.value.exit_code == 3
    led = open_ledger(path)
    try:
        record = led.run_record(run.run_id)
    finally:
        led.close()
    assert record.meta["budget"]["action"] == "stop" and record.meta["budget"]["exceeded"]
    assert run.summary().status == "interrupted"


def test_measured_so_far_counts_without_a_forecast() -> None:
    with pytest.warns(BudgetWarning, match="measured so far"):
        with tracker(ledger=False, budget_kg=0.5) as run:
            with run.window("all"):
                pass


def test_under_budget_says_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "l.sqlite")
    with tracker(ledger=path, expected_epochs=2, budget_kg=1e6, on_budget="stop") as run:
        for i in range(2):
            with run.window(f"epoch-{i}"):
                pass
    assert not run.budget_exceeded
    led = open_ledger(path)
    try:
        budget = led.run_record(run.run_id).meta["budget"]
    finally:
        led.close()
    assert budget == {"budget_kg": 1e6, "exceeded": False, "action": "stop"}


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"budget_kg": 0}, "budget_kg must be > 0"),
        ({"budget_kg": float("nan")}, "budget_kg must be > 0"),
        ({"budget_kg": "5"}, "budget_kg must be a number"),
        ({"budget_kg": 5, "on_budget": "explode"}, "on_budget must be 'warn' or 'stop'"),
    ],
)
def test_bad_budget_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        cl.Tracker(ledger=False, **kwargs)  # type: ignore[arg-type]


def test_check_budget_without_windows_extrapolates_to_the_expected_duration() -> None:
    with tracker(ledger=False, budget_kg=1e6, on_budget="stop") as run:
        assert run.check_budget() is None  # ~1 kg so far, far under 1000 t
        with pytest.warns(BudgetWarning, match="extrapolated to 1e\\+12 s"):
            status = run.check_budget(expected_duration_s=1e12)
        assert status is not None and status.action == "stop" and run.budget_exceeded
        assert run.check_budget(expected_duration_s=1e12) is None  # once


def test_no_budget_no_check() -> None:
    with tracker(ledger=False) as run:
        assert run.check_budget(expected_duration_s=1e12) is None and not run.budget_exceeded


def test_a_window_left_open_at_stop_cannot_make_stop_raise() -> None:
    """stop() closes windows still open; a budget exceeded at that moment is recorded, not
    raised out of stop()."""
    run = tracker(ledger=False, budget_kg=0.001, on_budget="stop")
    run.start()
    run.begin_window("epoch-1")
    with pytest.warns(BudgetWarning):
        summary = run.stop()
    assert summary.windows and summary.windows[0].path == "epoch-1"
    assert run.budget_exceeded
