"""Carbon budgets in the tracker: warn once, or stop at a window boundary; the ledger
keeps the budget and what happened."""

from __future__ import annotations

import logging
import threading
import warnings
from pathlib import Path

import pytest

import carbonledger as cl
from carbonledger.errors import InputError
from carbonledger.ledger import open_ledger
from carbonledger.models import Reading, SensorInfo
from carbonledger.reduce import BudgetExceeded, BudgetStatus

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


def budget_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "carbon budget" in r.getMessage()]


def test_warn_once_with_the_forecast_and_its_interval(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[BudgetStatus] = []
    path = str(tmp_path / "l.sqlite")
    with (
        warnings.catch_warnings(),
        caplog.at_level(logging.INFO, logger="carbonledger"),
    ):
        warnings.simplefilter("error")  # said once, through the logger: never a Python warning
        with tracker(
            ledger=path, expected_epochs=100, budget_kg=20, on_budget_exceeded=seen.append
        ) as run:
            for i in range(4):
                with run.window(f"epoch-{i}"):
                    pass
    exceeded = [m for m in budget_lines(caplog) if "exceeded:" in m]
    assert len(exceeded) == 1 and len(seen) == 1  # once, not at every window
    assert "forecast of the whole run 100 kg (80% interval 38.8 – 161 kg)" in exceeded[0]
    assert "e+" not in exceeded[0] and "kgCO2e" not in exceeded[0]  # no raw exponents
    (end,) = [m for m in budget_lines(caplog) if "the run used" in m]
    used_kg = run.summary().co2e_g / 1e3  # 9 kWh at 1 kg/kWh: within, though forecast over
    assert used_kg == 9.0
    assert "within its carbon budget: the run used 9.00 kg of 20.0 kg CO2e (45.0%)" in end
    assert "forecast exceeded it" in end
    assert seen[0].basis == "forecast of the whole run" and seen[0].forecast_co2e_g > 20e3
    assert not run.budget_exceeded  # "warn" never asks to stop
    led = open_ledger(path)
    try:
        meta = led.run_record(run.run_id).meta
    finally:
        led.close()
    assert meta["budget"]["budget_kg"] == 20 and meta["budget"]["exceeded"] is True
    assert meta["budget"]["action"] == "warn" and meta["budget"]["co2e_low_kg"] is not None
    assert meta["budget"]["outcome"] == "within" and meta["budget"]["final_co2e_kg"] == 9.0


def test_stop_raises_at_the_window_boundary_and_flags_callbacks(tmp_path: Path) -> None:
    path = str(tmp_path / "l.sqlite")
    done = []
    with pytest.raises(BudgetExceeded) as info:
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
    assert record.meta["budget"]["outcome"] == "stopped"
    assert run.summary().status == "interrupted"
    assert run.summary().extra["status_reason"] == "budget"
    with open_ledger(path) as led:
        stored = led.summary(run.run_id)
    assert stored.status == "interrupted" and stored.extra["status_reason"] == "budget"


def test_a_budget_stop_caught_by_the_loop_is_still_recorded_interrupted(tmp_path: Path) -> None:
    """docs/reduce.md's own example catches BudgetExceeded and leaves the `with` block
    normally: the run is still recorded as stopped by its budget, not completed."""
    path = str(tmp_path / "l.sqlite")
    with tracker(ledger=path, expected_epochs=100, budget_kg=20, on_budget="stop") as run:
        try:
            for i in range(10):
                with run.window(f"epoch-{i}"):
                    pass
        except BudgetExceeded:
            pass
    with open_ledger(path) as led:
        stored = led.summary(run.run_id)
    assert stored.status == "interrupted" and stored.extra["status_reason"] == "budget"


def test_co2e_so_far_counts_without_a_forecast(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="carbonledger"):
        with tracker(ledger=False, budget_kg=0.5) as run:
            with run.window("all"):
                pass
    (line,) = [m for m in budget_lines(caplog) if "exceeded:" in m]
    assert "CO2e so far 1.00 kg after 1 window(s); continuing" in line
    assert "measured" not in line  # said of an estimate as much as of a measurement


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
    assert budget == {
        "budget_kg": 1e6, "exceeded": False, "action": "stop", "outcome": "within",
        "final_co2e_kg": run.summary().co2e_g / 1e3,
    }  # fmt: skip


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


def test_check_budget_without_windows_extrapolates_to_the_expected_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with tracker(ledger=False, budget_kg=1e6, on_budget="stop") as run:
        assert run.check_budget() is None  # ~1 kg so far, far under 1000 t
        with caplog.at_level(logging.WARNING, logger="carbonledger"):
            status = run.check_budget(expected_duration_s=1e12)
        assert status is not None and status.action == "stop" and run.budget_exceeded
        (line,) = budget_lines(caplog)
        assert "extrapolated to 1e+12 s" in line and line.endswith("; stopping")  # no windows
        assert "window" not in line
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
    summary = run.stop()
    assert summary.windows and summary.windows[0].path == "epoch-1"
    assert run.budget_exceeded
