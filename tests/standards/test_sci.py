"""The Software Carbon Intensity: (E x I + M) per R, each term with its source."""

from __future__ import annotations

import json
from typing import Any

import pytest

from carbonledger.cli.main import main

from .conftest import Tracked


def _sci(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["report", *args, "--format", "sci", "--json"]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert isinstance(data, dict)
    return data


def _shown(tracked: Tracked, run: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["show", run, "--ledger", str(tracked.ledger), "--json"]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert isinstance(data, dict)
    return data


def test_each_term_and_its_source(tracked: Tracked, capsys: pytest.CaptureFixture[str]) -> None:
    shown = _shown(tracked, tracked.fr, capsys)
    sci = _sci(capsys, tracked.fr, "-l", str(tracked.ledger), "--functional-unit", "1000 requests")
    e, i, m, r = (sci["terms"][k] for k in "EIMR")
    assert e["value"] == pytest.approx(shown["energy_kwh"] * 1.2)
    assert "x PUE 1.2" in e["source"] and "rapl" in e["source"]
    assert i["value"] == pytest.approx(shown["intensity_g_per_kwh"])
    assert i["source"].startswith("location-based: Our World in Data")
    assert m["value"] == pytest.approx(shown["embodied_co2e_kg"] * 1e3)
    assert r["value"] == pytest.approx(5.0)  # 5,000 requests (the run's metric) per 1,000
    assert "metric 'requests'" in r["source"]
    expected = (e["value"] * i["value"] + m["value"]) / r["value"]
    assert sci["sci_g_per_unit"] == pytest.approx(expected)
    assert sci["operational_g_per_unit"] == pytest.approx(shown["co2e_g"] / 5.0)
    assert sci["record"]["verified"] is True and sci["record"]["ledger_head"]
    assert main(["report", tracked.fr, "-l", str(tracked.ledger), "-f", "sci",
                 "--functional-unit", "1000 requests"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "per 1000 requests" in text and "E    " in text and "ledger head" in text


def test_a_given_count_and_a_missing_one(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    sci = _sci(capsys, tracked.aws, "-l", str(tracked.ledger), "--functional-unit", "token",
               "--count", "2000")  # fmt: skip
    assert sci["terms"]["R"]["value"] == 2000.0 and "given" in sci["terms"]["R"]["source"]
    code = main(["report", tracked.aws, "-l", str(tracked.ledger), "-f", "sci",
                 "--functional-unit", "images"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "no metric 'images'" in err and len(err.strip().splitlines()) == 1
    # the command the error advises works as written (N: the count)
    advised = err.split("record it with '")[1].split("'")[0]
    assert advised.startswith("carbonledger metric ") and advised.endswith(" images N")
    words = advised.replace(" N", " 640").split()[1:]
    assert main([*words, "-l", str(tracked.ledger)]) == 0
    capsys.readouterr()
    sci = _sci(capsys, tracked.aws, "-l", str(tracked.ledger), "--functional-unit", "images")
    assert sci["terms"]["R"]["value"] == 640.0 and "metric 'images'" in sci["terms"]["R"]["source"]
    code = main(["report", tracked.aws, "-l", str(tracked.ledger), "-f", "sci"])
    assert code == 2 and "--functional-unit" in capsys.readouterr().err
    code = main(["report", tracked.aws, "-l", str(tracked.ledger), "-f", "sci",
                 "--functional-unit", "0 users", "--count", "3"])  # fmt: skip
    assert code == 2 and "more than 0" in capsys.readouterr().err


def test_unknown_embodied_carbon_is_marked_not_zeroed() -> None:
    from carbonledger.accounting import CarbonContext, RunFacts, account
    from carbonledger.models import ComponentEnergy
    from carbonledger.report.standards.sci import parse_functional_unit, sci, sci_text

    cpu = ComponentEnergy("cpu", "cpu", "rapl", True, 3.6e6, 3600.0)
    summary = account(
        RunFacts("r", "p", "e", "completed", 1.7e9, 3600.0),
        (cpu,),
        CarbonContext("FR", "argument", 50.0, "table", 1.5, "argument"),
    )
    result = sci(summary, parse_functional_unit("10 epochs"), None, count=20)
    assert result.m.value is None and "not known" in result.m.source
    assert result.sci_g is None
    assert result.operational_g == pytest.approx(1.0 * 1.5 * 50.0 / 2)
    assert "not available (M unknown)" in sci_text(result)
