"""When to start: integrated over the job's hours, with fallbacks, waiting and Ctrl-C."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonledger.carbon.providers.chooser import forecast_provider
from carbonledger.carbon.providers.file import FileIntensityProvider
from carbonledger.errors import InputError
from carbonledger.reduce.scheduling import (
    mean_intensity,
    parse_duration_s,
    plan_start,
    realised_saving,
    wait_for_start,
)

H = 3600
T0 = 1_714_564_800  # 2024-05-01T12:00:00Z


def forecast_file(tmp_path: Path, values: list[float], start: int = T0) -> FileIntensityProvider:
    path = tmp_path / "forecast.csv"
    rows = [f"{start + i * H},{v}" for i, v in enumerate(values)]
    path.write_text("timestamp,intensity_g_per_kwh\n" + "\n".join(rows) + "\n")
    return FileIntensityProvider(path)


def test_mean_intensity_weights_partial_hours() -> None:
    hours = {T0: 100.0, T0 + H: 300.0}
    # half an hour in each hour, then a quarter in the first and three quarters in the second
    assert mean_intensity(hours, T0 + 1800, 3600) == pytest.approx(200.0)
    assert mean_intensity(hours, T0 + 2700, 3600) == pytest.approx(0.25 * 100 + 0.75 * 300)
    assert mean_intensity(hours, T0 + H, 2 * H) is None  # an hour missing


def test_the_best_block_not_the_best_single_hour(tmp_path: Path) -> None:
    # one very clean hour among dirty ones (start 2), and a moderately clean 3 h block (6-8)
    values = [300, 300, 10, 400, 400, 300, 120, 120, 120, 300, 300, 300]
    provider = forecast_file(tmp_path, values)
    plan = plan_start("GB", 3 * H, 8 * H, provider, energy_kwh=10, pue=1.2, now_unix_s=T0)
    assert plan.start_unix_s == T0 + 6 * H and not plan.fallback_used
    assert plan.intensity_now_g_per_kwh == pytest.approx((300 + 300 + 10) / 3)
    assert plan.intensity_at_start_g_per_kwh == pytest.approx(120)
    assert plan.co2e_at_start_g == pytest.approx(10 * 1.2 * 120)
    assert plan.co2e_now_g == pytest.approx(10 * 1.2 * 610 / 3)
    assert plan.saving_fraction == pytest.approx(1 - 120 / (610 / 3))
    assert "starting at 2024-05-01T18:00:00Z" in plan.explain()
    record = plan.to_dict()
    assert record["source"].startswith("file") and record["candidates"] == 9


def test_now_is_a_candidate_between_hour_boundaries(tmp_path: Path) -> None:
    provider = forecast_file(tmp_path, [50, 400, 400, 400])
    now = T0 + 1200
    plan = plan_start("GB", H / 2, 2 * H, provider, now_unix_s=now)
    assert plan.start_unix_s == now and plan.delay_s == 0
    assert plan.explain().startswith("starting now: no start in the next 2 h")


def test_a_forecast_that_does_not_cover_the_job_falls_back(tmp_path: Path) -> None:
    provider = forecast_file(tmp_path, [100, 100])
    plan = plan_start("GB", 6 * H, 4 * H, provider, now_unix_s=T0)
    assert plan.fallback_used and plan.start_unix_s == T0
    assert "does not cover a 6 h job from now" in plan.fallback_reason
    assert plan_start("FR", H, H, None, now_unix_s=T0).fallback_reason.startswith("no forecast")


@pytest.mark.parametrize(
    ("duration", "within", "match"),
    [(0, H, "duration must be > 0"), (H, -1, "within must be >= 0"), (H, 8 * 86400, "7 days")],
)
def test_bad_spans(duration: float, within: float, match: str) -> None:
    with pytest.raises(InputError, match=match):
        plan_start("GB", duration, within, None, now_unix_s=T0)


def test_parse_duration() -> None:
    assert parse_duration_s("6h") == 6 * H
    assert parse_duration_s("90m") == 5400
    assert parse_duration_s("1.5d") == 1.5 * 86400
    assert parse_duration_s("3600") == 3600
    with pytest.raises(InputError, match=r"e\.g\. 6h"):
        parse_duration_s("six hours")


class FakeClock:
    def __init__(self, now: float, interrupt_at: float | None = None) -> None:
        self.now, self.interrupt_at, self.slept = now, interrupt_at, 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        if self.interrupt_at is not None and self.now + s >= self.interrupt_at:
            self.now = self.interrupt_at
            raise KeyboardInterrupt
        self.now += s
        self.slept += s


def _delayed_plan(tmp_path: Path) -> object:
    provider = forecast_file(tmp_path, [400, 400, 50, 50, 400, 400])
    return plan_start("GB", 2 * H, 4 * H, provider, energy_kwh=1, now_unix_s=T0)


def _never_asked() -> str:
    raise AssertionError("nothing interrupted the wait: the user must not be asked")


def test_wait_until_the_chosen_start(tmp_path: Path) -> None:
    plan = _delayed_plan(tmp_path)
    clock = FakeClock(T0)
    started, record = wait_for_start(plan, choose=_never_asked, sleep=clock.sleep, clock=clock)  # type: ignore[arg-type]
    assert started == T0 + 2 * H and clock.slept == 2 * H
    assert record["choice"] == "waited" and record["start"] == "2024-05-01T14:00:00Z"
    assert plan.explain().startswith("starting at 2024-05-01T14:00:00Z (in 2.0 h)")  # type: ignore[attr-defined]


@pytest.mark.parametrize(("answer", "choice"), [("now", "now"), ("quit", "quit")])
def test_ctrl_c_starts_now_or_quits(tmp_path: Path, answer: str, choice: str) -> None:
    plan = _delayed_plan(tmp_path)
    clock = FakeClock(T0, interrupt_at=T0 + 600)
    started, record = wait_for_start(
        plan,  # type: ignore[arg-type]
        choose=lambda: answer,
        sleep=clock.sleep,
        clock=clock,
    )
    assert record["choice"] == choice
    assert started == (T0 + 600 if choice == "now" else None)


def test_realised_saving_from_actual_hours(tmp_path: Path) -> None:
    plan = _delayed_plan(tmp_path)
    actual = forecast_file(tmp_path, [500, 300, 40, 60, 400, 400])  # what the grid really did
    out = realised_saving(
        plan.to_dict(),  # type: ignore[attr-defined]
        actual,
        started_unix_s=T0 + 2 * H,
        duration_s=2 * H,
        energy_kwh=1,
        pue=1.0,
    )
    assert out["intensity_if_now_g_per_kwh"] == pytest.approx(400)
    assert out["intensity_ran_g_per_kwh"] == pytest.approx(50)
    assert out["realised_saving_g"] == pytest.approx(350)
    assert out["expected_saving_g"] == pytest.approx(350)


def test_provider_choice(tmp_path: Path) -> None:
    uk, why = forecast_provider("GB", env={"XDG_CACHE_HOME": str(tmp_path)})
    assert type(uk).__name__ == "UKCarbonIntensityProvider" and "GB" in why
    none, why = forecast_provider("FR", env={})
    assert none is None and "CARBONLEDGER_ELECTRICITYMAPS_TOKEN" in why
    em, _ = forecast_provider("FR", env={"CARBONLEDGER_ELECTRICITYMAPS_TOKEN": "t"})
    assert type(em).__name__ == "ElectricityMapsProvider"


def test_plan_for_a_place_for_the_run_command(tmp_path: Path) -> None:
    from carbonledger.reduce.scheduling import plan_for_place, schedule_tags

    hour = int(__import__("time").time() // H) * H
    path = tmp_path / "f.csv"
    rows = "\n".join(f"{hour + i * H},{v}" for i, v in enumerate([50, 50, 50, 400, 400, 400]))
    path.write_text("timestamp,intensity_g_per_kwh\n" + rows + "\n")
    plan = plan_for_place("aws:eu-west-2", 2 * H, H, energy_kwh=2, forecast_file=str(path))
    assert plan.zone == "GB" and plan.pue > 1  # the cloud's grid and PUE
    assert plan.explain().startswith("starting now: no start in the next 2 h")
    started, record = wait_for_start(plan, choose=_never_asked)
    assert started is not None and record["choice"] == "immediate"
    tags = schedule_tags(record)
    assert tags["schedule.choice"] == "immediate" and tags["schedule.source"].startswith("file")
    nowhere = plan_for_place(None, 2 * H, H, env={})
    started, record = wait_for_start(nowhere, choose=_never_asked)
    assert started is not None and record["fallback_used"]
    assert schedule_tags(record)["schedule.reason"] == "no --country/--region to forecast for"
    # a zone no provider serves: start now, and the plan says how to get a forecast
    fr = plan_for_place("FR", 2 * H, H, env={})
    assert fr.fallback_used and "CARBONLEDGER_ELECTRICITYMAPS_TOKEN" in fr.fallback_reason


def test_reduce_does_no_terminal_io() -> None:
    """Printing and asking belong to the command line: reduce returns the decision data."""
    import ast

    reduce_dir = Path(__file__).resolve().parents[2] / "src" / "carbonledger" / "reduce"
    for path in sorted(reduce_dir.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        called = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert not called & {"input", "print"}, path.name


def test_job_from_a_prediction_spec() -> None:
    from carbonledger.predict import load_spec
    from carbonledger.reduce.scheduling import job_from_estimate

    spec = Path(__file__).resolve().parents[2] / "examples" / "estimates" / "dense-7b-a100.yaml"
    duration_s, kwh = job_from_estimate(str(spec))
    e = load_spec(spec).training()
    assert e is not None
    assert duration_s == pytest.approx(e.device_hours / e.devices * 3600)
    assert kwh == pytest.approx(e.energy_mwh * 1000 / e.pue) and kwh > 0


def test_the_worked_example_of_docs_reduce(tmp_path: Path) -> None:
    """docs/reduce.md's numbers: 4 h, 40 kWh, AWS PUE 1.135, from 09:20 UTC."""
    start = 1_796_202_000  # 2026-12-02T09:00:00Z
    values = [210, 190, 170, 160, 150, 170, 220, 260, 280, 250, 200, 150, 110, 90, 80, 85]
    provider = forecast_file(tmp_path, [*values, 90, 100, 120], start=start)
    plan = plan_start(
        "GB", 4 * H, 12 * H, provider, energy_kwh=40, pue=1.135, now_unix_s=start + 1200
    )
    assert plan.start_unix_s == start + 12 * H  # 21:00Z
    assert plan.intensity_now_g_per_kwh == pytest.approx(177.5)
    assert plan.intensity_at_start_g_per_kwh == pytest.approx(91.25)
    assert plan.co2e_at_start_g == pytest.approx(4142.75)
    assert plan.co2e_now_g == pytest.approx(8058.5)
    doc = (Path(__file__).resolve().parents[2] / "docs" / "reduce.md").read_text()
    assert plan.explain().split("; forecast:")[0] in doc
