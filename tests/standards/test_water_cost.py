"""Water (litres, from a WUE given or published per cloud provider) and the electricity's
cost (a price given per kWh, or per zone in the config): kept in the run's record with their
sources, computed by the accounting, in show, run, every export and report."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from carbonledger.cli.main import main
from carbonledger.errors import InputError

from .conftest import Tracked


def _summary(ledger: Path, run: str) -> Any:
    from carbonledger.ledger import open_ledger

    led = open_ledger(ledger, read_only=True)
    try:
        return led.summary(run)
    finally:
        led.close()


def test_given_wue_and_price(tracked: Tracked) -> None:
    s = _summary(tracked.ledger, tracked.fr)
    assert s.wue_l_per_kwh == 1.8
    assert s.water_l == pytest.approx(1.8 * s.energy_kwh)  # IT energy: WUE is per IT kWh
    assert s.water_source == "given (environment CARBONLEDGER_WUE_L_PER_KWH)"
    assert s.electricity_cost == pytest.approx(0.25 * s.energy_kwh * 1.2)  # facility energy
    assert (s.currency, s.price_per_kwh) == ("EUR", 0.25)
    assert "CARBONLEDGER_PRICE_PER_KWH" in s.cost_source


def test_a_cloud_providers_published_wue(tracked: Tracked) -> None:
    from carbonledger.carbon import provider_wue

    s = _summary(tracked.ledger, tracked.aws)
    published = provider_wue("aws")
    assert published is not None
    assert s.wue_l_per_kwh == published[0]
    assert s.water_l == pytest.approx(published[0] * s.energy_kwh)
    assert s.water_source.startswith("aws fleet-average WUE (Amazon")
    assert s.electricity_cost is None and s.currency == ""  # no price given: no cost
    de = _summary(tracked.ledger, tracked.de)  # on no cloud, nothing given: unknown, not 0
    assert de.water_l is None and de.wue_l_per_kwh is None and de.water_source == ""


def test_show_and_exports(
    tracked: Tracked, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = _summary(tracked.ledger, tracked.fr)
    assert main(["show", tracked.fr, "--ledger", str(tracked.ledger)]) == 0
    out = capsys.readouterr().out
    assert "water " in out and "(WUE 1.80 L/kWh, given (environment" in out
    assert "electricity cost" in out and "at 0.250 EUR/kWh of facility energy" in out
    assert main(["show", tracked.de, "--ledger", str(tracked.ledger)]) == 0
    out = capsys.readouterr().out
    assert "water" not in out and "electricity cost" not in out
    target = tmp_path / "runs.csv"
    assert main(["export", "--csv", str(target), "--ledger", str(tracked.ledger)]) == 0
    rows = {r["run_id"]: r for r in csv.DictReader(io.StringIO(target.read_text()))}
    fr, de = rows[tracked.fr], rows[tracked.de]
    assert float(fr["water_consumed"]) == pytest.approx(s.water_l)
    assert float(fr["wue"]) == 1.8 and fr["currency"] == "EUR"
    assert float(fr["electricity_cost"]) == pytest.approx(s.electricity_cost)
    assert de["water_consumed"] == "" and de["electricity_cost"] == ""


def test_every_report_format_gives_the_water(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    s = _summary(tracked.ledger, tracked.fr)
    assert main(["report", tracked.fr, "-l", str(tracked.ledger), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["summary"]
    assert summary["water_l"] == pytest.approx(s.water_l)
    assert summary["electricity_cost"] == pytest.approx(s.electricity_cost)
    assert main(["report", tracked.fr, "-l", str(tracked.ledger), "-f", "boamps"]) == 0
    boamps = json.loads(capsys.readouterr().out)
    assert boamps["carbonledger"]["sources"]["water_l"] == pytest.approx(s.water_l)
    assert main(["report", tracked.fr, "-l", str(tracked.ledger), "-f", "md"]) == 0
    assert "| Water (on site) | " in capsys.readouterr().out
    assert main(["report", "-p", "vision", "-l", str(tracked.ledger), "-f", "ghg", "--json"]) == 0
    ghg = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ghg["totals"]["water_not_available_runs"] == 1  # the DE run


def test_the_html_report_and_the_dashboards_run_page(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    """The run page's body (the HTML report's and the dashboard's) names water and cost with
    their sources."""
    pytest.importorskip("plotly")
    from carbonledger.ledger import open_ledger
    from carbonledger.report.data import gather
    from carbonledger.report.html import run_body

    led = open_ledger(tracked.ledger, read_only=True)
    try:
        body = run_body(gather(led, tracked.fr, with_samples=False))
    finally:
        led.close()
    assert "Water (on site)" in body and "CARBONLEDGER_WUE_L_PER_KWH" in body
    assert "Electricity cost" in body and "EUR" in body


def test_prices_per_zone_in_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A price per zone in carbonledger.toml: the run's zone (else its country) picks it."""
    import carbonledger as cl
    from carbonledger.models import SensorInfo
    from carbonledger.testing import FakeClock, FakeSensor

    monkeypatch.chdir(tmp_path)
    (tmp_path / "carbonledger.toml").write_text(
        'currency = "GBP"\nwue_l_per_kwh = 0.5\n\n[prices]\nGB = 0.30\nFR = 0.2\n'
    )
    results = {}
    for country in ("GB", "DE"):
        clock = FakeClock(100.0)
        cpu = FakeSensor(SensorInfo("cpu", "cpu", "rapl", True), 36.0, clock)
        with cl.Tracker("p", country=country, sensors=[cpu], ledger=False, clock=clock) as run:
            clock.advance(100)
        results[country] = run.summary()
    gb, de = results["GB"], results["DE"]
    assert gb.price_per_kwh == 0.30 and gb.currency == "GBP"
    assert gb.cost_source.startswith("given for GB (config file ")
    assert gb.electricity_cost == pytest.approx(0.30 * gb.energy_kwh * gb.pue)
    assert de.electricity_cost is None  # no price for DE
    assert de.water_l == pytest.approx(0.5 * de.energy_kwh) and "config file" in de.water_source


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("WUE_L_PER_KWH", "-1", "must be a number >= 0"),
        ("PRICE_PER_KWH", "cheap", "must be a number"),
        ("CURRENCY", "euro", "ISO 4217"),
        ("PRICES", "FR", "ZONE=PRICE"),
        ("PRICES", "FR=-2", "a price per kWh"),
    ],
)
def test_bad_settings_are_input_errors(name: str, value: str, message: str) -> None:
    import carbonledger as cl

    with pytest.raises(InputError, match=message):
        cl.Tracker("p", env={f"CARBONLEDGER_{name}": value}, ledger=False)


def test_carbonledger_run_options(tmp_path: Path) -> None:
    """``carbonledger run --wue --price-per-kwh --currency``: the run's JSON has its water and
    cost; a bad currency is one line and exit 2."""
    ledger = tmp_path / "l.sqlite"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path),
           "XDG_DATA_HOME": str(tmp_path), "CARBONLEDGER_NO_CLOUD_PROBE": "1",
           "PYTHONPATH": ":".join(sys.path)}  # fmt: skip
    base = [sys.executable, "-m", "carbonledger", "run", "--ledger", str(ledger), "--country",
            "FR", "--json", "--quiet"]  # fmt: skip
    done = subprocess.run(
        [*base, "--wue", "1.1", "--price-per-kwh", "0.4", "--currency", "usd", "--",
         sys.executable, "-c", "pass"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout.strip().splitlines()[-1])
    assert data["wue_l_per_kwh"] == 1.1 and data["currency"] == "USD"
    assert data["water_l"] == pytest.approx(1.1 * data["energy_kwh"])
    assert data["electricity_cost"] == pytest.approx(0.4 * data["energy_kwh"] * data["pue"])
    bad = subprocess.run(
        [*base, "--currency", "dollars", "--", sys.executable, "-c", "pass"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "ISO 4217" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_the_accounting_functions() -> None:
    from carbonledger.accounting import (
        CarbonContext,
        RunFacts,
        account,
        electricity_cost,
        water_l,
    )
    from carbonledger.models import ComponentEnergy

    assert water_l(3.6e6, 1.8) == pytest.approx(1.8)
    assert electricity_cost(3.6e6, pue=1.5, price_per_kwh=0.2) == pytest.approx(0.3)
    cpu = ComponentEnergy("cpu", "cpu", "rapl", True, 7.2e6, 3600.0)
    facts = RunFacts("r", "p", "e", "completed", 1.7e9, 3600.0)
    context = CarbonContext("FR", "argument", 50.0, "table", 1.5, "argument")
    stored = {"water": {"wue_l_per_kwh": 0.3, "source": "given"},
              "electricity_price": {"per_kwh": 0.1, "currency": "EUR", "source": "given"}}  # fmt: skip
    s = account(facts, (cpu,), context, extra={"meta": stored})  # as the ledger reads a run
    assert s.water_l == pytest.approx(0.6) and s.electricity_cost == pytest.approx(0.3)
    bare = account(facts, (cpu,), context, extra={"meta": {}})
    assert bare.water_l is None and bare.electricity_cost is None


def test_tracker_arguments_give_wue_and_a_price_per_zone(tmp_path: Path) -> None:
    """The Tracker's own keywords, recorded as given by argument; a price per zone picks the
    run's zone; a negative WUE is refused with what to do."""
    import carbonledger as cl
    from carbonledger.models import SensorInfo
    from carbonledger.testing import FakeClock, FakeSensor

    ledger = tmp_path / "l.sqlite"
    clock = FakeClock(100.0)
    cpu = FakeSensor(SensorInfo("cpu", "cpu:package-0", "rapl", True), 50.0, clock)
    with cl.Tracker(
        "p", country="FR", pue=1.5, ledger=str(ledger), sensors=[cpu], clock=clock,
        wue_l_per_kwh=0.5, prices={"FR": 0.2, "DE": 0.4}, currency="EUR",
    ) as run:  # fmt: skip
        clock.advance(10.0)
    s = _summary(ledger, run.run_id)
    assert s.water_source == "given (argument)" and s.wue_l_per_kwh == 0.5
    assert s.water_l == pytest.approx(0.5 * s.energy_kwh)
    assert s.price_per_kwh == 0.2 and s.currency == "EUR"
    assert s.electricity_cost == pytest.approx(0.2 * s.energy_kwh * 1.5)
    with pytest.raises(InputError, match="wue_l_per_kwh"):
        cl.Tracker("p", country="FR", ledger=False, wue_l_per_kwh=-1.0)
