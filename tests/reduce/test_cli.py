"""``carbonledger when`` and ``carbonledger where``: JSON, text, bad input (exit 2)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carbonledger.cli.main import build_app


@pytest.fixture(autouse=True)
def no_token(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CARBONLEDGER_ELECTRICITYMAPS_TOKEN", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_when_with_a_forecast_file(tmp_path: Path) -> None:
    hour = int(time.time() // 3600) * 3600
    values = [300, 300, 300, 90, 90, 300, 300, 300, 300, 300]
    rows = [{"timestamp": hour + i * 3600, "intensity_g_per_kwh": v} for i, v in enumerate(values)]
    path = tmp_path / "f.json"
    path.write_text(json.dumps(rows))
    code, out, _ = run(
        "when", "--duration", "2h", "--within", "6h", "--zone", "GB", "--forecast", str(path),
        "--kwh", "10", "--json",
    )  # fmt: skip
    assert code == 0
    plan = json.loads(out.strip().splitlines()[-1])
    assert plan["start_unix_s"] == hour + 3 * 3600
    assert plan["intensity_at_start_g_per_kwh"] == pytest.approx(90)
    assert plan["co2e_at_start_g"] == pytest.approx(900)
    assert plan["source"].startswith("file") and plan["forecast_age_s"] is not None
    code, out, _ = run(
        "when", "--duration", "2h", "--within", "6h", "--region", "aws:eu-west-2",
        "--forecast", str(path),
    )  # fmt: skip
    assert code == 0 and "starting at" in out and "forecast: file" in out


def test_when_without_a_forecast_starts_now_and_says_why() -> None:
    code, out, _ = run("when", "--duration", "6h", "--zone", "FR")
    assert code == 0
    assert out.startswith("starting now: no forecast for zone FR")
    assert "CARBONLEDGER_ELECTRICITYMAPS_TOKEN" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["when", "--duration", "6h"], "give --zone"),
        (["when", "--duration", "soon", "--zone", "GB"], "is not a duration"),
        (["when", "--duration", "6h", "--zone", "Atlantis"], "Atlantis"),
        (["where", "--kwh", "1", "--cloud", "oracle"], "unknown cloud"),
        (["where", "--kwh", "1", "--estimate", "x.yaml"], "not --kwh and --estimate"),
    ],
)
def test_bad_input_exits_2(args: list[str], message: str) -> None:
    code, _, err = run(*args)
    assert code == 2 and message in err


def test_where_near_json() -> None:
    code, out, _ = run(
        "where", "--kwh", "50", "--near", "aws:eu-west-2", "--cloud", "aws,gcp", "--json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["energy_kwh"] == 50 and len(data["regions"]) == 10
    regions = data["regions"]
    assert all(r["geography"] == "Europe" and r["provider"] in ("aws", "gcp") for r in regions)
    assert [r["co2e_g"] for r in regions] == sorted(r["co2e_g"] for r in regions)
    assert {"intensity_source", "intensity_year", "cfe_share", "pue", "pue_source"} <= set(
        regions[0]
    )


def test_where_text_per_kwh() -> None:
    code, out, _ = run("where", "--top", "3")
    assert code == 0 and out.startswith("job: 1.00 kWh IT energy (per kWh")
    assert len(out.strip().splitlines()) == 5


def test_where_with_an_estimate() -> None:
    spec = Path(__file__).resolve().parents[2] / "examples" / "estimates" / "dense-7b-a100.yaml"
    code, out, _ = run("where", "--estimate", str(spec), "--top", "2", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["energy_basis"].startswith("estimated from") and data["energy_kwh"] > 1000
    first = data["regions"][0]
    assert first["co2e_low_g"] < first["co2e_g"] < first["co2e_high_g"]


@pytest.mark.parametrize(
    ("typed", "choice"),
    [
        ("s", "now"),
        ("", "now"),
        ("yes", "now"),
        ("q", "quit"),
        ("later", "quit"),
        (EOFError, "quit"),
    ],
)
def test_ctrl_c_while_waiting_asks_on_the_terminal(
    monkeypatch: pytest.MonkeyPatch, typed: object, choice: str
) -> None:
    """The prompt lives in the command line (reduce returns the plan and waits)."""
    from carbonledger.cli._run_plan import ask_start_or_quit

    def terminal(prompt: str) -> str:
        assert "start now [s] or quit [q]?" in prompt
        if isinstance(typed, type):
            raise typed
        return str(typed)

    monkeypatch.setattr("builtins.input", terminal)
    assert ask_start_or_quit() == choice
