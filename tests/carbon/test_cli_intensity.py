"""``carbonledger intensity``: one zone, every zone, JSON, errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from carbonledger.cli.main import build_app

KEYS = {
    "code",
    "name",
    "kind",
    "intensity_g_per_kwh",
    "year",
    "source",
    "licence",
    "basis",
    "provider",
    "grid_zone",
    "cfe_share",
}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_one_zone_human(runner: CliRunner) -> None:
    result = runner.invoke(build_app(), ["intensity", "FR"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    for word in ("FR (France)", "country", "intensity_g_per_kwh", "year", "Ember", "CC-BY-4.0"):
        assert word in out


def test_cloud_zone_human_shows_the_grid_zone(runner: CliRunner) -> None:
    result = runner.invoke(build_app(), ["intensity", "gcp:europe-west1"])
    assert result.exit_code == 0
    assert "grid_zone" in result.stdout and "BE" in result.stdout
    assert "carbon-free share" in result.stdout


def test_one_zone_json(runner: CliRunner) -> None:
    result = runner.invoke(build_app(), ["intensity", "aws:eu-west-3", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert set(data) == KEYS
    assert data["code"] == "aws:eu-west-3" and data["grid_zone"] == "FR"
    assert data["provider"] == "aws" and data["kind"] == "cloud"


def test_list_json(runner: CliRunner) -> None:
    result = runner.invoke(build_app(), ["intensity", "--list", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert isinstance(data, list) and len(data) > 580
    assert all(set(d) == KEYS for d in data)
    kinds = {d["kind"] for d in data}
    assert kinds == {"country", "subregion", "cloud"}


def test_list_by_kind(runner: CliRunner) -> None:
    result = runner.invoke(build_app(), ["intensity", "--list", "--kind", "cloud", "--json"])
    assert result.exit_code == 0
    assert {d["kind"] for d in json.loads(result.stdout)} == {"cloud"}
    plain = runner.invoke(build_app(), ["intensity", "--list", "--kind", "subregion"])
    assert plain.exit_code == 0 and "US-CAL-CISO" in plain.stdout


def test_unknown_zone_exits_2_with_suggestions(runner: CliRunner) -> None:
    result = runner.invoke(build_app(), ["intensity", "Frnace"])
    assert result.exit_code == 2
    assert "did you mean" in result.stderr and "France" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [["intensity"], ["intensity", "FR", "--list"], ["intensity", "FR", "--kind", "cloud"]],
)
def test_usage_errors_exit_2(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(build_app(), args)
    assert result.exit_code == 2 and "error:" in result.stderr


def test_unknown_kind_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(build_app(), ["intensity", "--list", "--kind", "planet"])
    assert result.exit_code == 2 and "country, subregion, cloud" in result.stderr


def test_rich_table_on_a_terminal(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    from carbonledger.carbon import list_zones
    from carbonledger.cli import intensity as cli

    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    cli._print_table(list_zones("cloud")[:3])
    out = capsys.readouterr().out
    assert "g/kWh" in out and "aws:" in out and "3 zones" in out
