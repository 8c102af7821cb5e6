"""BoAmps reports, checked by Boavizta's own JSON schemas (draft-04, kept in tests/data)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from carbonledger.cli.main import main

from .conftest import Tracked

SCHEMAS = Path(__file__).resolve().parents[1] / "data" / "boamps"
BASE_URI = "https://raw.githubusercontent.com/Boavizta/BoAmps/main/model/"


def validator() -> Any:
    """A draft-04 validator of report_schema.json whose references to its sibling schemas
    resolve from the files here (no network)."""
    from jsonschema import Draft4Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    resources = []
    for name in ("algorithm", "dataset", "hardware", "measure", "report"):
        contents = json.loads((SCHEMAS / f"{name}_schema.json").read_text())
        resources.append(
            (f"{BASE_URI}{name}_schema.json", Resource.from_contents(contents, DRAFT4))
        )
    registry = Registry().with_resources(resources)
    schema = json.loads((SCHEMAS / "report_schema.json").read_text())
    Draft4Validator.check_schema(schema)
    return Draft4Validator(schema, registry=registry)


def _boamps(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["report", *args, "--format", "boamps"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    return data


def test_a_tracked_run_is_a_valid_boamps_report(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    report = _boamps(capsys, tracked.fr, "--ledger", str(tracked.ledger))
    errors = sorted(validator().iter_errors(report), key=str)
    assert not errors, [e.message for e in errors]
    assert main(["show", tracked.fr, "--ledger", str(tracked.ledger), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    measure = report["measures"][0]
    assert measure["measurementMethod"] == "carbonledger"
    assert measure["powerConsumption"] == pytest.approx(shown["energy_kwh"])
    assert measure["measurementDuration"] == pytest.approx(shown["duration_s"])
    assert measure["cpuTrackingMode"] == "rapl" and measure["gpuTrackingMode"] == "nvml-energy"
    task = report["task"]
    assert (task["taskStage"], task["taskFamily"]) == ("training", "image classification")
    assert task["algorithms"] == [{"framework": "pytorch"}]  # from the run's tags, nothing more
    assert task["dataset"] == [{"dataUsage": "input", "dataType": "image"}]
    components = {c["componentType"]: c for c in report["infrastructure"]["components"]}
    assert components["gpu"]["componentName"] == "NVIDIA H100 80GB HBM3"
    assert components["gpu"]["manufacturer"] == "nvidia"
    assert components["cpu"]["nbComponent"] == 1
    assert report["environment"]["country"] == "France"
    assert report["environment"]["powerSourceCarbonIntensity"] == pytest.approx(
        shown["intensity_g_per_kwh"]
    )
    # an estimated RAM (+/-50 %) on a small share of the energy: within 10 %
    assert report["quality"] == "high"
    record = report["carbonledger"]["record"]
    assert record["verified"] is True and record["ledger_head"]
    assert record["ledger_head"] in record["statement"]


def test_what_is_not_known_is_left_out(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run with no task tags, on a cloud region: the task fields come from --task only; no
    software language, no publisher, no power supplier type is made up."""
    args = ["--ledger", str(tracked.ledger), "--task", "stage=inference", "--task",
            "family=chatbot", "--task", "data_type=token", "--task", "data_usage=input",
            "--task", "requests=12"]  # fmt: skip
    report = _boamps(capsys, tracked.aws, *args)
    assert not sorted(validator().iter_errors(report), key=str)
    assert report["infrastructure"]["infraType"] == "publicCloud"
    assert report["infrastructure"]["cloudProvider"] == "aws"
    assert report["task"]["nbRequest"] == 12
    assert report["task"]["algorithms"] == [{}]
    assert "software" not in report and "publisher" not in report["header"]
    assert "powerSupplierType" not in report["environment"]
    assert report["environment"]["location"] == "aws:eu-west-3"


def test_the_task_only_the_user_knows_is_asked_for(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", tracked.aws, "--ledger", str(tracked.ledger), "--format", "boamps"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "--task stage=..." in err and "--task data_usage=..." in err
    code = main(["report", tracked.fr, "-l", str(tracked.ledger), "-f", "boamps", "--task",
                 "data_type=picture"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 2 and "data_type must be one of" in err and len(err.strip().splitlines()) == 1


def test_the_schemas_reject_what_they_should(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    """The check can fail: a report without its required measure is refused by the schema."""
    report = _boamps(capsys, tracked.fr, "--ledger", str(tracked.ledger))
    del report["measures"][0]["powerConsumption"]
    assert list(validator().iter_errors(report))


def test_written_to_a_file(
    tracked: Tracked, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "boamps.json"
    assert (
        main(["report", tracked.fr, "-l", str(tracked.ledger), "-f", "boamps", "-o", str(out)]) == 0
    )
    assert capsys.readouterr().out == ""
    assert not list(validator().iter_errors(json.loads(out.read_text())))
