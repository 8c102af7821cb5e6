"""The YAML spec and ``carbonledger estimate``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carbonledger.cli.main import build_app
from carbonledger.errors import InputError
from carbonledger.predict import load_spec, parse_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "estimates").glob("*.yaml"))
ISSUE_ARGS = [
    "estimate",
    "--params",
    "7e9",
    "--tokens",
    "2e12",
    "--accelerator",
    "A100-80GB",
    "--devices",
    "1024",
    "--pue",
    "1.1",
    "--grid",
    "385",
]
JSON_KEYS = {
    "device_hours",
    "days",
    "energy_mwh",
    "operational_tco2e",
    "operational_tco2e_low",
    "operational_tco2e_high",
    "embodied_tco2e",
    "total_tco2e",
    "assumptions",
}

GOOD = """\
model:
  params: 7e9
training:
  tokens: 2e12
hardware:
  accelerator: A100-80GB
  devices: 1024
datacenter:
  pue: 1.1
  grid_g_per_kwh: 385
"""


def invoke(args: list[str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(build_app(), args)
    return result.exit_code, result.stdout, result.stderr


def last_json(stdout: str) -> dict[str, object]:
    doc = json.loads(stdout.strip().splitlines()[-1])
    assert isinstance(doc, dict)
    return doc


def test_examples_exist_and_run() -> None:
    assert len(EXAMPLES) >= 3
    for path in EXAMPLES:
        spec = load_spec(path)
        est, inf = spec.training(), spec.inference()
        assert est is not None or inf is not None, path
        code, out, err = invoke(["estimate", str(path), "--json"])
        assert code == 0, (path, err)
        doc = last_json(out)
        if est is not None:
            assert set(doc) >= JSON_KEYS
        if inf is not None:
            assert "inference" in doc


def test_spec_equals_the_options() -> None:
    spec = parse_spec(GOOD)
    est = spec.training()
    assert est is not None
    code, out, _ = invoke([*ISSUE_ARGS, "--json"])
    assert code == 0
    assert last_json(out)["operational_tco2e"] == pytest.approx(est.co2e_t)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace("  params: 7e9", "  paramz: 7e9"),
            r"line 2 \(model.paramz\).*did you mean 'params'",
        ),
        (GOOD.replace("  params: 7e9", "  params: [7e9"), r"line 3, column \d+: malformed YAML"),
        (GOOD.replace("tokens: 2e12", "tokens: lots"), r"line 4 \(training.tokens\).*number"),
        (
            GOOD.replace("tokens: 2e12", "tokens: 0.5"),
            r"line 4 \(training.tokens\): tokens must be >= 1",
        ),
        (GOOD.replace("devices: 1024", "devices: 0"), r"line 7 \(hardware.devices\)"),
        (GOOD.replace("A100-80GB", "A1000"), r"line 6 \(hardware.accelerator\).*did you mean"),
        (GOOD + "  zone: FR\n", "either zone or grid_g_per_kwh"),
        (GOOD.replace("  grid_g_per_kwh: 385\n", ""), "give datacenter.grid_g_per_kwh"),
        (GOOD.replace("model:\n  params: 7e9\n", ""), "give the model size"),
        (GOOD + "extra: 1\n", "unknown key 'extra'"),
        (
            GOOD.replace("  params: 7e9", "  params: 7e9\n  active_params: 8e9"),
            r"line 3 \(model.active_params\).*cannot exceed",
        ),
        ("", "the spec is empty"),
        ("- a\n- b\n", "must be a mapping"),
    ],
)
def test_bad_specs_name_the_line(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_spec(text, "s.yaml").training()


def test_zone_resolves_through_the_carbon_tables() -> None:
    spec = parse_spec(GOOD.replace("  grid_g_per_kwh: 385\n", "  zone: FR\n"))
    est = spec.training()
    assert est is not None
    from carbonledger.carbon import intensity

    assert est.grid_g_per_kwh == intensity("FR").intensity_g_per_kwh
    assert any("France" in a for a in est.assumptions)


def test_cli_json_has_the_documented_keys() -> None:
    code, out, err = invoke([*ISSUE_ARGS, "--json"])
    assert code == 0, err
    doc = last_json(out)
    assert set(doc) >= JSON_KEYS
    assert doc["operational_tco2e_low"] < doc["operational_tco2e"] < doc["operational_tco2e_high"]
    assert isinstance(doc["assumptions"], list) and doc["assumptions"]


def test_cli_measured_facts_and_moe() -> None:
    code, out, _ = invoke(
        [*ISSUE_ARGS, "--device-hours", "184320", "--avg-power-w", "400", "--json"]
    )
    assert code == 0
    doc = last_json(out)
    assert doc["device_hours"] == 184320
    assert doc["operational_tco2e_low"] == doc["operational_tco2e_high"]
    code, out, _ = invoke([*ISSUE_ARGS, "--moe-active-params", "2e9", "--mfu", "0.4", "--json"])
    assert code == 0
    assert last_json(out)["active_params"] == 2e9


def test_cli_human_output() -> None:
    code, out, _ = invoke(ISSUE_ARGS)
    assert code == 0
    assert "operational CO2e" in out and "80%" in out and "Assumptions:" in out


def test_cli_compare_regions_and_accelerators() -> None:
    code, out, err = invoke(
        [
            *ISSUE_ARGS,
            "--compare-regions",
            "--top",
            "3",
            "--compare-accelerators",
            "H100,TPUv4",
            "--json",
        ]
    )
    assert code == 0, err
    doc = last_json(out)
    regions = doc["compare_regions"]
    assert isinstance(regions, list)
    kinds = [r["kind"] for r in regions]
    assert kinds.count("country") == 3 and kinds.count("cloud") == 3
    assert all(r["operational_tco2e"] < doc["operational_tco2e"] for r in regions)
    others = doc["compare_accelerators"]
    assert [o["accelerator"] for o in others] == ["H100-SXM5-80GB", "TPUv4"]
    code, out, _ = invoke([*ISSUE_ARGS, "--compare-regions", "--compare-accelerators", "H100"])
    assert code == 0
    assert "elsewhere" in out and "other accelerators" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--devices", "0"], "devices"),
        (["--devices", "-8"], "devices"),
        (["--params", "-7e9"], "params"),
        (["--tokens", "0"], "tokens"),
        (["--accelerator", "A1000"], "unknown accelerator"),
        (["--moe-active-params", "8e9"], "cannot exceed"),
        (["--pue", "0.5"], "pue"),
        (["--mfu", "3"], "mfu"),
        (["--compare-accelerators", "H100,nope"], "unknown accelerator"),
    ],
)
def test_cli_bad_input_exits_2(args: list[str], message: str) -> None:
    argv = list(ISSUE_ARGS)
    for i in range(0, len(args), 2):
        if args[i] in argv:
            argv[argv.index(args[i]) + 1] = args[i + 1]
        else:
            argv += args[i : i + 2]
    code, _, err = invoke(argv)
    assert code == 2
    assert message in err and "error:" in err


def test_cli_missing_inputs_exit_2(tmp_path: Path) -> None:
    code, _, err = invoke(["estimate"])
    assert code == 2 and "SPEC.yaml" in err
    code, _, err = invoke(["estimate", "--params", "7e9"])
    assert code == 2 and "--tokens" in err
    code, _, err = invoke(ISSUE_ARGS[:-2])
    assert code == 2 and "--grid" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("model:\n  params: [7e9\ntraining:\n")
    code, _, err = invoke(["estimate", str(bad)])
    assert code == 2 and "line 3" in err
    code, _, err = invoke(["estimate", str(tmp_path / "missing.yaml")])
    assert code == 2 and "not found" in err
    code, _, err = invoke(["estimate", str(EXAMPLES[0]), "--params", "7e9"])
    assert code == 2 and "not both" in err


def test_predict_import_stays_light() -> None:
    code = (
        "import sys, carbonledger.predict as p\n"
        "p.training(params=7e9, tokens=2e12, accelerator='A100', devices=8, grid_g_per_kwh=1)\n"
        "print(','.join(m for m in ('yaml','numpy','scipy','typer','rich') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
