"""The Tracker composes meter, carbon accounting and ledger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import carbonledger as cl
from carbonledger.errors import InputError, StateError
from carbonledger.ledger import open_ledger

sys.path.insert(0, str(Path(__file__).parent))
from fakes import StepSensor


def sensors() -> list[StepSensor]:
    return [
        StepSensor("cpu", "cpu:package-0", 3600.0, host_wide=True),
        StepSensor("ram", "ram", 360.0, measured=False),
        StepSensor("gpu", "gpu:0", 36000.0, uid="GPU-aaaa"),
    ]


def test_summary_energy_and_co2e(tmp_path: Path) -> None:
    ledger_path = tmp_path / "l.sqlite"
    with cl.Tracker(
        "p", "e", grid_g_per_kwh=500, pue=1.2, sensors=sensors(), ledger=str(ledger_path)
    ) as run:
        with run.window("epoch-1"):
            pass
    s = run.summary()
    assert s.status == "completed"
    assert s.energy_j == pytest.approx(3600 + 360 + 36000)
    assert s.energy_kwh == pytest.approx(39960 / 3.6e6)
    assert s.co2e_g == pytest.approx(39960 / 3.6e6 * 1.2 * 500)
    assert s.pue_source == "argument"
    ram = next(c for c in s.components if c.component == "ram")
    assert (
        not ram.measured
        and ram.low_j == pytest.approx(288.0)
        and ram.high_j == pytest.approx(432.0)
    )
    assert s.co2e_low_g < s.co2e_g < s.co2e_high_g
    # the ledger holds the same totals
    led = open_ledger(str(ledger_path))
    try:
        stored = led.summary(s.run_id)
    finally:
        led.close()
    assert stored.status == "completed"
    assert stored.energy_j == pytest.approx(s.energy_j)
    assert [w.name for w in stored.windows] == ["epoch-1"]


def test_country_sets_intensity_from_tables() -> None:
    with cl.Tracker(country="FR", sensors=sensors(), ledger=False) as run:
        pass
    s = run.summary()
    fr = cl.carbon.intensity("FR")
    assert s.location == "FR" and s.location_source == "argument"
    assert s.intensity_g_per_kwh == pytest.approx(fr.intensity_g_per_kwh)
    assert str(fr.year) in s.intensity_source


def test_unknown_location_is_reported_not_guessed() -> None:
    with cl.Tracker(sensors=sensors(), ledger=False) as run:
        pass
    s = run.summary()
    assert s.location_source == "default"
    assert s.intensity_g_per_kwh == pytest.approx(cl.carbon.world_average().intensity_g_per_kwh)
    assert any("location unknown" in n for n in s.extra["notes"])


def test_market_based_reported_beside_location_based() -> None:
    with cl.Tracker(
        grid_g_per_kwh=400, market_g_per_kwh=50, sensors=sensors(), ledger=False
    ) as run:
        pass
    s = run.summary()
    assert s.market_co2e_g == pytest.approx(s.energy_kwh * 50)
    assert s.co2e_g == pytest.approx(s.energy_kwh * 400)


def test_lifecycle_errors() -> None:
    t = cl.Tracker(grid_g_per_kwh=1, sensors=sensors(), ledger=False)
    with pytest.raises(StateError, match="before start"):
        t.stop()
    with pytest.raises(StateError):
        t.begin_window("x")
    t.start()
    with pytest.raises(StateError, match="already"):
        t.start()
    with pytest.raises(StateError, match="never begun"):
        t.end_window("nope")
    t.stop()
    assert t.stop() is t.summary()  # idempotent


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"interval_s": 0}, "interval_s"),
        ({"interval_s": -2}, "interval_s"),
        ({"interval_s": float("inf")}, "between 0.01 s and 86400 s"),
        ({"interval_s": float("nan")}, "between 0.01 s and 86400 s"),
        ({"interval_s": 1e-9}, "between 0.01 s and 86400 s"),
        ({"interval_s": 86401}, "between 0.01 s and 86400 s"),
        ({"project": "x" * 201}, "at most 200"),
        ({"project": ""}, "project must not be empty"),
        ({"tags": {"k" * 300: "v"}}, "at most 200"),
        ({"cpu_watts": -5}, "cpu_watts"),
        ({"scope": "galaxy"}, "scope"),
        ({"grid_g_per_kwh": -1}, "grid_g_per_kwh"),
        ({"expected_epochs": 0}, "expected_epochs"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(InputError, match=match):
        cl.Tracker(ledger=False, **kwargs)  # type: ignore[arg-type]


def test_env_and_config_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "carbonledger.toml").write_text('project = "from-file"\ncountry = "DE"\n')
    with cl.Tracker(sensors=sensors(), ledger=False) as run:
        pass
    assert run.summary().project == "from-file" and run.summary().location == "DE"
    monkeypatch.setenv("CARBONLEDGER_PROJECT", "from-env")
    with cl.Tracker(sensors=sensors(), ledger=False) as run:
        pass
    assert run.summary().project == "from-env"
    with cl.Tracker("from-arg", sensors=sensors(), ledger=False) as run:
        pass
    assert run.summary().project == "from-arg"
    (tmp_path / "carbonledger.toml").write_text("pue = 'high'\n")
    with pytest.raises(InputError, match="pue"):
        cl.Tracker(ledger=False)


def test_exception_marks_run_failed(tmp_path: Path) -> None:
    ledger_path = str(tmp_path / "l.sqlite")
    t = cl.Tracker(grid_g_per_kwh=1, sensors=sensors(), ledger=ledger_path)
    with pytest.raises(ZeroDivisionError), t:
        1 / 0  # noqa: B018
    assert t.summary().status == "failed"
    led = open_ledger(ledger_path)
    try:
        assert led.summary(t.run_id).status == "failed"
    finally:
        led.close()


def test_decorator_records_each_call() -> None:
    @cl.track("svm", grid_g_per_kwh=100, sensors=None, ledger=False, gpu=False)
    def fit(n: int) -> int:
        return sum(range(n))

    assert fit(1000) == 499500
    s = fit.last_summary  # type: ignore[attr-defined]
    assert s.project == "svm" and s.status == "completed"
    assert {c.component for c in s.components} >= {"cpu", "ram"}


def test_real_discovery_on_this_machine_is_labelled() -> None:
    """No RAPL (fake empty powercap root), no GPU: CPU and RAM are estimated, with ranges."""
    with cl.Tracker(grid_g_per_kwh=100, ledger=False, gpu=False, interval_s=0.05) as run:
        sum(i * i for i in range(300_000))
    s = run.summary()
    cpu = next(c for c in s.components if c.component == "cpu")
    assert cpu.method in ("tdp-model", "vcpu-model") and not cpu.measured  # bare metal, VM
    assert cpu.energy_j > 0 and cpu.low_j is not None and cpu.low_j <= cpu.energy_j <= cpu.high_j  # type: ignore[operator]


def test_forecast_after_each_epoch(tmp_path: Path) -> None:
    ledger_path = str(tmp_path / "l.sqlite")
    with cl.Tracker(
        grid_g_per_kwh=300, sensors=sensors(), ledger=ledger_path, expected_epochs=10
    ) as run:
        for i in range(3):
            with run.window(f"epoch-{i}"):
                pass
            assert run.forecast is not None
            assert run.forecast["windows_done"] == i + 1
    assert run.forecast is not None and run.forecast["windows_total"] == 10
    led = open_ledger(ledger_path)
    try:
        assert led.run_record(run.run_id).meta["forecast"]["windows_done"] == 3
    finally:
        led.close()


WORKER = textwrap.dedent(
    """
    import os, sys, json, pathlib, time
    sys.path.insert(0, {fakes_dir!r})
    from fakes import StepSensor
    import carbonledger as cl

    host = os.environ["FAKE_HOST"]
    energies = {{"h1": 1000.0, "h2": 2000.0}}
    base = energies[host]
    sensors = [
        StepSensor("cpu", "cpu:package-0", base, host_wide=True),
        StepSensor("ram", "ram", base / 10, host_wide=True, measured=False),
        StepSensor("gpu", "gpu:0", base * 3, uid=host + "-GPU-0"),
        StepSensor("gpu", "gpu:1", base * 5, uid=host + "-GPU-1"),
    ]
    with cl.Tracker("dist", grid_g_per_kwh=100, sensors=sensors, ledger=sys.argv[1],
                    host=host, handle_signals=False) as run:
        # barrier: all four ranks are running at once (as in a real job)
        barrier = pathlib.Path(sys.argv[2])
        (barrier / os.environ["RANK"]).write_text("up")
        deadline = time.monotonic() + 60
        while len(list(barrier.iterdir())) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    print(json.dumps({{"kept": [s.device for s in run.sensors]}}))
    """
)


def test_two_hosts_two_ranks_count_each_device_once(tmp_path: Path) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(fakes_dir=str(Path(__file__).parent)))
    ledger_path = str(tmp_path / "shared.sqlite")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = []
    for host in ("h1", "h2"):
        for local_rank in (0, 1):
            env = dict(os.environ)
            env.update(
                FAKE_HOST=host,
                LOCAL_RANK=str(local_rank),
                RANK=str(local_rank + (2 if host == "h2" else 0)),
                TORCHELASTIC_RUN_ID="job-42",
            )
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(script), ledger_path, str(barrier)],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
    outputs = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        outputs.append(json.loads(out.strip().splitlines()[-1])["kept"])
    led = open_ledger(ledger_path)
    try:
        s = led.summary("torchrun-job-42")
    finally:
        led.close()
    # distinct devices: per host cpu + ram + 2 GPUs  =  base * (1 + 0.1 + 3 + 5)
    expected = 1000 * 9.1 + 2000 * 9.1
    assert s.energy_j == pytest.approx(expected)
    assert sorted(s.hosts) == ["h1", "h2"]
    assert s.status == "completed"
    # each rank kept exactly one GPU, and one rank per host kept the host-wide devices
    assert all(sum(d.startswith("gpu") for d in kept) == 1 for kept in outputs)
    assert sum("cpu:package-0" in kept for kept in outputs) == 2


def test_location_source_says_where_it_came_from(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "carbonledger.toml").write_text('country = "DE"\n')
    with cl.Tracker(sensors=sensors(), ledger=False) as run:
        pass
    assert (run.summary().location, run.summary().location_source) == ("DE", "config")
    monkeypatch.setenv("CARBONLEDGER_COUNTRY", "SE")
    with cl.Tracker(sensors=sensors(), ledger=False) as run:
        pass
    assert (run.summary().location, run.summary().location_source) == ("SE", "environment")
    with cl.Tracker(country="FR", sensors=sensors(), ledger=False) as run:
        pass
    assert (run.summary().location, run.summary().location_source) == ("FR", "argument")


def test_live_run_in_ledger_keeps_estimate_ranges(tmp_path: Path) -> None:
    ledger_path = str(tmp_path / "l.sqlite")
    run = cl.Tracker(grid_g_per_kwh=100, sensors=sensors(), ledger=ledger_path).start()
    try:
        run.flush()
        led = open_ledger(ledger_path)
        try:
            live = led.summary(run.run_id)
        finally:
            led.close()
        assert live.status == "running"
        ram = next(c for c in live.components if c.component == "ram")
        assert not ram.measured
        assert (ram.low_j, ram.energy_j, ram.high_j) == pytest.approx((288.0, 360.0, 432.0))
    finally:
        run.stop()


def test_hourly_intensity_from_a_file(tmp_path: Path) -> None:
    import time as _time

    hour = int(_time.time() // 3600) * 3600
    path = tmp_path / "hourly.csv"
    rows = [f"{h},{v}" for h, v in ((hour - 3600, 900.0), (hour, 120.0), (hour + 3600, 130.0))]
    path.write_text("timestamp,intensity_g_per_kwh\n" + "\n".join(rows) + "\n")
    provider = cl.carbon.FileIntensityProvider(path)
    ledger_path = str(tmp_path / "l.sqlite")
    with cl.Tracker(
        country="DE", sensors=sensors(), ledger=ledger_path, intensity_provider=provider
    ) as run:
        run.flush()
    s = run.summary()
    led = open_ledger(ledger_path)
    try:
        stored = led.summary(run.run_id)
    finally:
        led.close()
    # the ledger reports the same hourly-weighted figure as the tracker
    assert stored.intensity_g_per_kwh == pytest.approx(s.intensity_g_per_kwh)
    assert stored.co2e_g == pytest.approx(s.co2e_g)
    assert stored.intensity_source == s.intensity_source
    # all energy fell in this hour or the next: the effective intensity is that of those
    # hours, not Germany's yearly figure
    assert 120.0 <= s.intensity_g_per_kwh <= 130.0
    assert s.intensity_source.startswith("hourly")
    assert s.co2e_g == pytest.approx(s.energy_kwh * s.intensity_g_per_kwh)
    # the figure of each hour used is kept, for the report's hourly chart
    hours = stored.extra["meta"]["hourly"]["hours"]
    assert hours and all(p["intensity_g_per_kwh"] in (120.0, 130.0) for p in hours)


def test_start_records_a_zero_sample_per_device(tmp_path: Path) -> None:
    """The time series begins at 0 J at the start, before the sampler's first tick."""
    import sqlite3

    ledger_path = str(tmp_path / "l.sqlite")
    run = cl.Tracker(grid_g_per_kwh=100, sensors=sensors(), ledger=ledger_path, interval_s=60)
    run.start()
    try:
        with sqlite3.connect(ledger_path) as db:
            rows = db.execute(
                "SELECT device, energy_j, time_unix_s FROM samples_view WHERE run_id = ?",
                (run.run_id,),
            ).fetchall()
        assert sorted(d for d, _, _ in rows) == ["cpu:package-0", "gpu:0", "ram"]
        assert {e for _, e, _ in rows} == {0.0}
        assert {t for _, _, t in rows} == {run.summary().started_unix_s}
    finally:
        run.stop()


def test_metrics_are_kept_beside_the_footprint(tmp_path: Path) -> None:
    ledger_path = str(tmp_path / "l.sqlite")
    with cl.Tracker(grid_g_per_kwh=100, sensors=sensors(), ledger=ledger_path) as run:
        run.log_metric("accuracy", 0.91)
        run.log_metric("accuracy", 0.93)  # the latest value wins
        run.log_metric("tokens", 1200)
        with pytest.raises(InputError, match="finite"):
            run.log_metric("loss", float("nan"))
        with pytest.raises(InputError, match="number"):
            run.log_metric("loss", "low")  # type: ignore[arg-type]
        assert run.energy_j() >= 0
    assert run.summary().extra["metrics"] == {"accuracy": 0.93, "tokens": 1200.0}
    with open_ledger(ledger_path) as ledger:
        stored = ledger.summary(run.run_id)
    assert stored.extra["meta"]["metrics"] == {"accuracy": 0.93, "tokens": 1200.0}
    with pytest.raises(StateError):
        run.log_metric("late", 1.0)


def test_update_meta_keeps_facts_and_refuses_our_own_keys(tmp_path: Path) -> None:
    ledger_path = str(tmp_path / "l.sqlite")
    with cl.Tracker(grid_g_per_kwh=100, sensors=sensors(), ledger=ledger_path) as run:
        run.update_meta({"dataset": "imagenet-1k", "seed": 3})
        with pytest.raises(InputError, match="carbonledger's own"):
            run.update_meta({"metrics": {}})
        with pytest.raises(InputError, match="JSON-able"):
            run.update_meta({"bad": float("inf")})
    with open_ledger(ledger_path) as ledger:
        meta = ledger.summary(run.run_id).extra["meta"]
    assert meta["dataset"] == "imagenet-1k" and meta["seed"] == 3
    with pytest.raises(StateError):
        run.update_meta({"late": 1})


def test_next_window_records_back_to_back_windows_with_their_metrics(tmp_path: Path) -> None:
    ledger_path = tmp_path / "l.sqlite"
    with cl.Tracker("p", grid_g_per_kwh=500, sensors=sensors(), ledger=str(ledger_path)) as run:
        run.begin_window("interval-1")
        first = run.next_window("interval-1", "interval-2", metrics={"tokens": 10})
        second = run.next_window("interval-2", "interval-3", metrics={"tokens": 20})
        run.end_window("interval-3")
        with pytest.raises(StateError, match="never begun"):
            run.next_window("interval-1", "interval-9")
    assert first.co2e_g == pytest.approx(first.energy_j / 3.6e6 * 500 * run.summary().pue)
    with open_ledger(str(ledger_path), read_only=True) as led:
        stored = led.summary(run.summary().run_id)
    names = [w.name for w in stored.windows]
    assert names == ["interval-1", "interval-2", "interval-3"]
    by_name = {w.name: w for w in stored.windows}
    assert by_name["interval-1"].metrics == {"tokens": 10.0}
    assert by_name["interval-2"].metrics == {"tokens": 20.0}
    assert by_name["interval-2"].energy_j == pytest.approx(second.energy_j)
    # each window starts where the one before it ended
    one, two = by_name["interval-1"], by_name["interval-2"]
    assert two.started_unix_s == pytest.approx(one.started_unix_s + one.duration_s, abs=0.05)
