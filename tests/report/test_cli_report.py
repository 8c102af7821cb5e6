"""The report commands end to end on a real ledger file: report (md, latex, html),
compare, regions, metric, --version; the reading commands never write."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

from carbonledger.cli.main import main


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from carbonledger._version import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"carbonledger {__version__}"


def test_paper_statement_md_and_latex(
    ledger_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _digest(ledger_path)
    assert main(["report", "aaaa1111base0001", "--ledger", str(ledger_path), "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "| Energy (IT) | 1.05 kJ, 95.2% measured |" in md
    assert "| PUE | 1.2 (argument) |" in md
    assert "| Record | signatures consistent but not anchored" in md and "carbonledger " in md
    assert "in a signed ledger (not anchored: no trusted key was given)" in md
    assert "cpu: measured (rapl); ram: estimated (ram-model)" in md
    assert main(["report", "aaaa1111base0001", "-l", str(ledger_path), "-f", "latex"]) == 0
    tex = capsys.readouterr().out
    assert "\\begin{tabular}{ll}" in tex and "95.2\\% measured" in tex
    assert _digest(ledger_path) == before  # reading never writes


def test_the_statement_is_ready_to_paste() -> None:
    """Hardware named by component and model (memory has no model to name), and the PUE's
    source without advice on how to set it."""
    from carbonledger.accounting import CarbonContext, RunFacts, account
    from carbonledger.models import ComponentEnergy
    from carbonledger.report.paper import paper_statement

    comps = (
        ComponentEnergy("cpu", "cpu:package-0", "rapl", True, 100.0, 10.0, model="Intel(R) Xeon(R) Gold 6248"),
        ComponentEnergy("gpu", "gpu:0", "nvml", True, 900.0, 10.0, model="NVIDIA H100 80GB HBM3"),
        ComponentEnergy("gpu", "gpu:1", "nvml", True, 900.0, 10.0, model="NVIDIA H100 80GB HBM3"),
        ComponentEnergy("ram", "ram", "ram-model", False, 10.0, 10.0, 8.0, 12.0),
    )  # fmt: skip
    context = CarbonContext(
        "FR", "argument", 50.0, "table", 1.0,
        "assumed 1.0: not measured (not on a known cloud); pass pue= or set CARBONLEDGER_PUE "
        "to your facility's figure (industry average 1.56, Uptime Institute 2024)",
    )  # fmt: skip
    facts = RunFacts("r", "p", "e", "completed", 1.7e9, 10.0, "process", ("h",))
    md = paper_statement(account(facts, comps, context), "md")
    assert (
        "| Hardware | GPU: 2 x NVIDIA H100 80GB HBM3; CPU: Intel(R) Xeon(R) Gold 6248; RAM |" in md
    )
    assert "on 2 x NVIDIA H100 80GB HBM3 (GPU), Intel(R) Xeon(R) Gold 6248 (CPU) and memory" in md
    assert "| PUE | 1 (assumed 1.0: not measured (not on a known cloud)) |" in md
    assert "pass pue=" not in md and "CARBONLEDGER_PUE" not in md


def test_html_report_is_self_contained(
    ledger_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run.html"
    assert main(["report", "aaaa1111base0001", "-l", str(ledger_path), "--html", str(out)]) == 0
    text = out.read_text()
    # no script is loaded from anywhere (plotly.js itself only names a CDN for geo maps)
    assert re.findall(r"<script[^>]*\bsrc=", text) == []
    assert "Plotly.newPlot" in text and "plotly.js" in text  # the library itself is inline
    for chart in ("chart-power", "chart-energy", "chart-co2e", "chart-windows"):
        assert f'id="{chart}"' in text
    assert "verified" in text and "Our World in Data, test figure, 2023" in text
    project = tmp_path / "project.html"
    assert (
        main(["report", "--project", "vision", "-l", str(ledger_path), "--html", str(project)]) == 0
    )
    assert "chart-over_time" in project.read_text()


def test_report_needs_an_output(ledger_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "-l", str(ledger_path)]) == 2
    assert "--html FILE" in capsys.readouterr().err
    assert main(["report", "nope", "-l", str(ledger_path), "--json"]) == 2


def test_compare_two_sides_json(ledger_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["compare", "--a", "aaaa1111base0001", "--a", "aaaa1111base0002",
            "--b", "bbbb2222", "-l", str(ledger_path), "--json"]  # fmt: skip
    assert main(args) == 0
    data = _json(capsys)
    assert isinstance(data, dict)
    energy = data["deltas"][0]
    assert energy["a"] == pytest.approx(1070.0) and energy["b"] == pytest.approx(850.0)
    assert energy["delta_pct"] == pytest.approx(-20.56, abs=0.01)
    assert energy["exceeds_spread"] is None  # one run on side B


def test_metric_is_written_then_compared(
    ledger_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["metric", "aaaa1111base0001", "accuracy", "0.90", "-l", str(ledger_path)]) == 0
    assert main(["metric", "bbbb2222", "accuracy", "0.93", "-l", str(ledger_path)]) == 0
    assert main(["metric", "bbbb2222", "accuracy", "high", "-l", str(ledger_path)]) == 2
    capsys.readouterr()
    assert main(["compare", "aaaa1111base0001", "bbbb2222", "-l", str(ledger_path)]) == 0
    out = capsys.readouterr().out
    assert "metric:accuracy" in out and "+3.33%" in out
    assert "energy_j" in out and "-19.0%" in out


def test_regions_of_a_run_and_of_kwh(ledger_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["regions", "aaaa1111base0001", "-l", str(ledger_path), "--top", "3", "--json"]) == 0
    )
    data = _json(capsys)
    assert isinstance(data, dict) and len(data["options"]) == 3
    assert data["reference_g_per_kwh"] == 50.0 and data["pue"] == 1.2
    assert main(["regions", "--kwh", "100", "--cloud", "aws", "--only-cloud", "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("aws:") == 2 and "saving against the world average" in out
    assert main(["regions", "--kwh", "1", "--cloud", "nimbus"]) == 2
