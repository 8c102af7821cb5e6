"""Impact Framework manifests: run by the Framework's own CLI (if-run, npm package
@grnsft/if) when node is here, and output manifests imported back as estimated runs."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from carbonledger.cli.main import main

from .conftest import Tracked

IF_PACKAGE = "@grnsft/if@1.1.0"


@pytest.fixture(scope="session")
def if_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Framework's ``if-run``, installed once from the npm registry into pytest's cache
    folder (kept between sessions; a session folder without the cache plugin); the tests that
    need it skip, saying why, without node."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not installed: the Impact Framework cannot run here")
    cache = getattr(request.config, "cache", None)
    folder = (
        Path(cache.mkdir("impact-framework-1.1.0"))
        if cache is not None
        else tmp_path_factory.mktemp("impact-framework")
    )
    binary = folder / "node_modules" / ".bin" / "if-run"
    if not binary.exists():
        try:
            done = subprocess.run(
                [npm, "install", "--prefix", str(folder), IF_PACKAGE, "--no-audit", "--no-fund"],
                capture_output=True, text=True, timeout=300, check=False,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            pytest.skip(f"npm install {IF_PACKAGE} took more than 300 s")
        if done.returncode != 0 or not binary.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            pytest.skip(f"npm install {IF_PACKAGE} failed: {tail[0]}")
    return binary


def _run_framework(if_run: Path, manifest: Path) -> dict[str, Any]:
    out = manifest.parent / "out"
    done = subprocess.run(
        [str(if_run), "-m", str(manifest), "-o", str(out)],
        capture_output=True, text=True, timeout=120, check=False, cwd=manifest.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    data = yaml.safe_load((manifest.parent / "out.yaml").read_text())
    assert isinstance(data, dict) and data["execution"]["status"] == "success"
    return data


def _show(ledger: Path, run: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["show", run, "--ledger", str(ledger), "--json"]) == 0
    data = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert isinstance(data, dict)
    return data


def _manifest(tracked: Tracked, run: str, folder: Path, *extra: str) -> Path:
    path = folder / "manifest.yml"
    args = ["report", run, "-l", str(tracked.ledger), "-f", "impact-framework", "-o", str(path)]
    assert main([*args, *extra]) == 0
    return path


def test_the_framework_computes_the_runs_co2e(
    tracked: Tracked, if_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shown = _show(tracked.ledger, tracked.fr, capsys)
    manifest = _manifest(tracked, tracked.fr, tmp_path, "--bucket-s", "1")
    out = _run_framework(if_run, manifest)
    child = out["tree"]["children"][f"run-{tracked.fr}"]
    assert len(child["outputs"]) >= 2  # one observation per second of a ~1.2 s run
    total = out["tree"]["aggregated"]
    embodied_g = shown["embodied_co2e_kg"] * 1e3
    assert embodied_g > 0  # an H100 and the server (machine scope)
    assert total["carbon-operational"] == pytest.approx(shown["co2e_g"], rel=1e-9)
    assert total["carbon"] == pytest.approx(shown["co2e_g"] + embodied_g, rel=1e-9)
    assert total["energy"] == pytest.approx(shown["energy_kwh"] * shown["pue"], rel=1e-9)
    # ... and back: the Framework's outputs recorded as an estimated run of the same CO2e
    ledger = tmp_path / "imported.sqlite"
    assert main(["import", "impact-framework", str(tmp_path / "out.yaml"), "-l", str(ledger),
                 "--json"]) == 0  # fmt: skip
    imported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["imported"]
    assert len(imported) == 1
    back = _show(ledger, imported[0], capsys)
    assert back["co2e_g"] == pytest.approx(shown["co2e_g"], rel=1e-9)
    assert back["energy_kwh"] == pytest.approx(shown["energy_kwh"], rel=1e-9)
    assert back["embodied_co2e_kg"] == pytest.approx(shown["embodied_co2e_kg"], rel=1e-9)
    assert back["pue"] == pytest.approx(1.2)
    assert back["measured_share"] == 0.0  # estimated: computed by the Framework
    assert {c["component"] for c in back["components"]} == {"cpu", "gpu", "ram"}
    assert main(["verify", str(ledger)]) == 0
    capsys.readouterr()
    assert main(["import", "impact-framework", str(tmp_path / "out.yaml"), "-l", str(ledger),
                 "--json"]) == 0  # fmt: skip
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again == {"imported": [], "skipped": imported}


def test_a_run_without_embodied_carbon(
    tracked: Tracked, if_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The default bucket, and the carbon of a run with no embodied figure: its operational
    carbon alone (the Framework's Copy plugin), said so in the manifest."""
    from carbonledger.ledger import open_ledger

    led = open_ledger(tracked.ledger, read_only=True)
    try:
        summary = led.summary(tracked.de)
    finally:
        led.close()
    manifest = _manifest(tracked, tracked.de, tmp_path)
    doc = yaml.safe_load(manifest.read_text())
    if summary.embodied_co2e_g is None:
        assert "no embodied carbon recorded" in doc["description"]
    out = _run_framework(if_run, manifest)
    expected = summary.co2e_g + (summary.embodied_co2e_g or 0.0)
    assert out["tree"]["aggregated"]["carbon"] == pytest.approx(expected, rel=1e-9)


def test_the_buckets_add_up_to_the_run(
    tracked: Tracked, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the Framework: the observations' energies, durations and embodied shares add
    up to the run's, each bucket within one clock hour."""
    shown = _show(tracked.ledger, tracked.fr, capsys)
    doc = yaml.safe_load(_manifest(tracked, tracked.fr, tmp_path, "--bucket-s", "1").read_text())
    inputs = doc["tree"]["children"][f"run-{tracked.fr}"]["inputs"]
    by = {c["component"]: 0.0 for c in shown["components"]}
    for c in shown["components"]:
        by[c["component"]] += c["energy_kwh"]
    names = {"cpu": "cpu/energy", "gpu": "gpu/energy", "ram": "memory/energy"}
    for component, kwh in by.items():
        assert sum(o[names[component]] for o in inputs) == pytest.approx(kwh, rel=1e-9)
    assert sum(o["duration"] for o in inputs) == pytest.approx(shown["duration_s"], rel=1e-6)
    assert sum(o["carbon-embodied"] for o in inputs) == pytest.approx(
        shown["embodied_co2e_kg"] * 1e3, rel=1e-9
    )
    assert all(o["grid/carbon-intensity"] == shown["intensity_g_per_kwh"] for o in inputs)
    assert doc["tree"]["children"][f"run-{tracked.fr}"]["pipeline"]["compute"][-1] == "total-carbon"
    assert all(p["path"] == "builtin" for p in doc["initialize"]["plugins"].values())
    assert "ledger head" in doc["description"]
    code = main(["report", tracked.fr, "-l", str(tracked.ledger), "-f", "impact-framework",
                 "--bucket-s", "7"])  # fmt: skip
    assert code == 2 and "divides an hour" in capsys.readouterr().err


def test_hourly_intensities_go_to_their_buckets() -> None:
    """A run whose record has hourly intensities: each bucket gets its own hour's."""
    from carbonledger.accounting import CarbonContext, HourlyIntensity, RunFacts, account
    from carbonledger.models import ComponentEnergy, Sample
    from carbonledger.report.data import RunReport
    from carbonledger.report.standards.impact import impact_manifest

    start = 1_700_000_000.0 - 1_700_000_000.0 % 3600 + 3000  # 10 min before an hour's end
    hours = ((int(start // 3600 * 3600), 100.0), (int(start // 3600 * 3600) + 3600, 300.0))
    hourly = HourlyIntensity(200.0, "test provider", None, hours)
    cpu = ComponentEnergy("cpu", "cpu", "rapl", True, 1200.0 * 36, 1200.0)
    facts = RunFacts("r1", "p", "e", "completed", start, 1200.0)
    context = CarbonContext("FR", "argument", 50.0, "table", 1.0, "argument")
    summary = account(facts, (cpu,), context, hourly=hourly, extra={"meta": {}})
    samples = tuple(Sample(start + t, "cpu", "cpu", 36.0 * t) for t in range(60, 1201, 60))
    report = RunReport(summary, samples, {"hourly": hourly.to_dict()})
    inputs = impact_manifest(report, version="test", bucket_s=300)["tree"]["children"]["run-r1"][
        "inputs"
    ]
    assert len(inputs) == 4
    assert [o["grid/carbon-intensity"] for o in inputs] == [100.0, 100.0, 300.0, 300.0]
    framework_g = sum(o["cpu/energy"] * o["pue"] * o["grid/carbon-intensity"] for o in inputs)
    assert framework_g == pytest.approx(1200 * 36 / 3.6e6 * 200.0)  # the hours' weighted mean


OUTPUT = """name: a team's inference service
tree:
  children:
    eu:
      children:
        server-1:
          inputs: []
          outputs:
            - timestamp: '2025-03-01T00:00:00.000Z'
              duration: 3600
              energy: 0.5
              grid/carbon-intensity: 100
              carbon-operational: 50
            - timestamp: '2025-03-01T01:00:00.000Z'
              duration: 3600
              energy: 1.5
              grid/carbon-intensity: 300
              carbon-operational: 450
"""


def test_an_output_of_other_pipelines_is_imported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A manifest carbonledger did not write: the Framework's usual energy (kWh) and
    carbon-operational; the energy is one part that cannot be split, with no PUE given."""
    out = tmp_path / "out.yaml"
    out.write_text(OUTPUT)
    ledger = tmp_path / "l.sqlite"
    assert main(["import", "impact-framework", str(out), "-l", str(ledger), "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["imported"][0]
    shown = _show(ledger, run_id, capsys)
    assert shown["co2e_g"] == pytest.approx(500.0)
    assert shown["energy_kwh"] == pytest.approx(2.0)
    assert shown["intensity_g_per_kwh"] == pytest.approx(250.0)
    assert shown["duration_s"] == pytest.approx(7200.0)
    assert [c["component"] for c in shown["components"]] == ["soc"]
    assert shown["pue"] == 1.0 and "not in the manifest" in shown["pue_source"]
    assert shown["location_source"] == "default"  # nobody said where: unknown, not guessed
    assert shown["embodied_co2e_kg"] is None
    assert shown["experiment"] == "a team's inference service"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (OUTPUT.replace("outputs:", "other:"), "has no computed outputs"),
        (OUTPUT.replace("energy: 0.5", "energy: -1"), "must be a finite number >= 0"),
        (
            OUTPUT.replace("duration: 3600\n              energy: 0.5", "energy: 0.5"),
            "needs a duration",
        ),
        ("name: x\n", "not an Impact Framework manifest"),
        ("tree: [", "not valid YAML"),
    ],
)
def test_bad_output_manifests_are_one_line_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    out = tmp_path / "out.yaml"
    out.write_text(text)
    code = main(["import", "impact-framework", str(out), "-l", str(tmp_path / "l.sqlite")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
