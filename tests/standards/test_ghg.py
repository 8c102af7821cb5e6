"""GHG Protocol Scope 2 (location- and market-based) and Scope 3 (embodied) for a project or
a period, with the ESRS E1-5 and E1-6 datapoints; JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from carbonledger.cli.main import main

from .conftest import Tracked


def _summaries(tracked: Tracked) -> dict[str, Any]:
    from carbonledger.ledger import open_ledger

    led = open_ledger(tracked.ledger, read_only=True)
    try:
        return {r: led.summary(r) for r in (tracked.fr, tracked.aws, tracked.de)}
    finally:
        led.close()


def _ghg(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["report", *args, "--format", "ghg", "--json"]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert isinstance(data, dict)
    return data


def test_market_based_is_never_the_location_figure(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    s = _summaries(tracked)
    report = _ghg(capsys, "--project", "vision", "-l", str(tracked.ledger))
    total = report["totals"]
    assert total["runs"] == 3 and total["own_hardware_runs"] == 2 and total["cloud_runs"] == 1
    own = [s[tracked.fr], s[tracked.de]]
    location = sum(x.co2e_g for x in own) / 1e6
    assert total["scope2_location_tco2e"] == pytest.approx(location)
    # the cloud run's electricity is the provider's Scope 2: the customer's Scope 3, cat. 1
    assert total["scope3_category1_cloud_electricity_tco2e"] == pytest.approx(
        s[tracked.aws].co2e_g / 1e6
    )
    # the DE run has neither a contractual factor nor a residual mix: no market total at all
    assert total["scope2_market_tco2e"] is None
    missing = total["scope2_market_not_available"]
    assert missing["run_ids"] == [tracked.de]
    assert missing["market_tco2e_of_the_other_runs"] == 0.0  # the FR run's 0 g/kWh contract
    runs = {r["run_id"]: r for r in report["runs"]}
    assert runs[tracked.fr]["market_based_tco2e"] == 0.0
    assert "contractual" in runs[tracked.fr]["market_basis"]
    assert runs[tracked.de]["market_basis"].startswith("not available")
    assert report["esrs"]["E1-6"]["gross_scope2_market_based_tco2e"] is None
    assert report["esrs"]["E1-6"]["gross_scope2_location_based_tco2e"] == pytest.approx(location)
    facility_mwh = sum(x.energy_kwh * x.pue for x in own) / 1e3
    assert report["esrs"]["E1-5"]["energy_consumption_mwh"] == pytest.approx(facility_mwh)
    assert "Scope 2 Guidance" in report["methods"]
    assert report["record"]["verified"] is True and report["record"]["scope"] == "ledger"


def test_a_residual_mix_table_completes_the_market_figure(
    tracked: Tracked, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s = _summaries(tracked)
    table = tmp_path / "residual.csv"
    table.write_text("zone,intensity_g_per_kwh,year,source\nDE,600,2024,a test table\n")
    report = _ghg(capsys, "--project", "vision", "-l", str(tracked.ledger), "--residual-mix",
                  str(table))  # fmt: skip
    de = s[tracked.de]
    runs = {r["run_id"]: r for r in report["runs"]}
    assert runs[tracked.de]["market_based_tco2e"] == pytest.approx(
        de.energy_kwh * de.pue * 600 / 1e6
    )
    assert (
        "residual mix of DE: 600 gCO2e/kWh (a test table, 2024)" in runs[tracked.de]["market_basis"]
    )
    assert runs[tracked.fr]["market_based_tco2e"] == 0.0  # its contract wins over any table
    total = report["totals"]
    assert total["scope2_market_tco2e"] == pytest.approx(de.energy_kwh * de.pue * 600 / 1e6)
    assert total["scope2_market_tco2e"] != pytest.approx(total["scope2_location_tco2e"])
    bad = tmp_path / "bad.csv"
    bad.write_text("zone,intensity_g_per_kwh,year,source\nDE,6000,2024,x\n")
    code = main(["report", "-p", "vision", "-l", str(tracked.ledger), "-f", "ghg",
                 "--residual-mix", str(bad)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "0 to 2000" in err and len(err.strip().splitlines()) == 1


def test_by_month_by_site_and_scope3(tracked: Tracked, capsys: pytest.CaptureFixture[str]) -> None:
    s = _summaries(tracked)
    report = _ghg(capsys, "-p", "vision", "-l", str(tracked.ledger))
    months = {m["month"]: m for m in report["by_month"]}
    assert len(months) == 2  # the DE run started 40 days before the others
    assert sum(m["runs"] for m in months.values()) == 3
    sites = {x["site"]: x for x in report["by_site"]}
    assert set(sites) == {"FR", "DE", "aws:eu-west-3"}
    assert sites["DE"]["scope2_location_tco2e"] == pytest.approx(s[tracked.de].co2e_g / 1e6)
    total = report["totals"]
    cloud = s[tracked.aws].embodied_co2e_g or 0.0
    own = (s[tracked.fr].embodied_co2e_g or 0.0) + (s[tracked.de].embodied_co2e_g or 0.0)
    assert total["scope3_category1_embodied_tco2e"] == pytest.approx(cloud / 1e6)
    assert total["scope3_category2_embodied_tco2e"] == pytest.approx(own / 1e6)
    assert own > 0 and cloud > 0
    # the DE run has no WUE: no water total, the others' litres named as such
    assert total["water_l"] is None and total["water_not_available_runs"] == 1
    assert total["water_l_of_the_other_runs"] == pytest.approx(
        sum(x.water_l for x in s.values() if x.water_l is not None)
    )


def test_a_category_without_every_embodied_figure_has_no_total() -> None:
    from carbonledger.accounting import CarbonContext, EmbodiedCarbon, RunFacts, account
    from carbonledger.models import ComponentEnergy
    from carbonledger.report.standards.ghg import ghg_report

    cpu = ComponentEnergy("cpu", "cpu", "rapl", True, 3.6e6, 3600.0)
    context = CarbonContext("FR", "argument", 50.0, "table", 1.0, "argument")
    runs = [
        account(RunFacts(f"r{i}", "p", "e", "completed", 1.7e9 + i, 3600.0), (cpu,), context,
                embodied=EmbodiedCarbon(10.0) if i == 0 else None, extra={"meta": {}})
        for i in range(2)
    ]  # fmt: skip
    total = ghg_report(runs, None, selection={}).to_dict()["totals"]
    assert total["scope3_category2_embodied_tco2e"] is None
    assert total["scope3_embodied_not_available_runs"] == 1
    assert total["scope3_embodied_tco2e_of_the_other_runs"] == pytest.approx(10.0 / 1e6)
    assert total["scope3_category1_embodied_tco2e"] == 0.0  # no cloud run: nothing to report


def test_a_period_and_an_experiment(tracked: Tracked, capsys: pytest.CaptureFixture[str]) -> None:
    from datetime import datetime, timezone

    s = _summaries(tracked)
    day = datetime.fromtimestamp(s[tracked.de].started_unix_s, tz=timezone.utc).date().isoformat()
    report = _ghg(capsys, "--since", day, "--until", day, "-l", str(tracked.ledger))
    assert [r["run_id"] for r in report["runs"]] == [tracked.de]
    assert report["selection"]["since"] == day
    report = _ghg(capsys, "-p", "vision", "-e", "base", "-l", str(tracked.ledger))
    assert sorted(r["run_id"] for r in report["runs"]) == sorted([tracked.fr, tracked.aws])
    code = main(["report", "-p", "nobody", "-l", str(tracked.ledger), "-f", "ghg"])
    assert code == 2 and "no runs for project 'nobody'" in capsys.readouterr().err
    code = main(["report", tracked.fr, "-l", str(tracked.ledger), "-f", "ghg"])
    assert code == 2 and "not a RUN" in capsys.readouterr().err
    code = main(["report", "--since", "last week", "-l", str(tracked.ledger), "-f", "ghg"])
    assert code == 2 and "--since takes a date" in capsys.readouterr().err


def test_csv(tracked: Tracked, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ghg.csv"
    assert main(["report", "-p", "vision", "-l", str(tracked.ledger), "-f", "ghg-csv",
                 "-o", str(out)]) == 0  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    kinds = [r["breakdown"] for r in rows]
    assert kinds.count("total") == 1 and kinds.count("run") == 3 and kinds.count("month") == 2
    total = rows[0]
    assert total["scope2_market_tco2e"] == "not available"
    assert float(total["scope2_location_tco2e"]) > 0
    head = _ghg(capsys, "-p", "vision", "-l", str(tracked.ledger))["record"]["ledger_head"]
    assert all(r["ledger_head"] == head and r["verified"] == "true" for r in rows)
