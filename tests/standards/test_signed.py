"""Every format carries the ledger's head and the verification; a record that does not
verify stops every report (exit 1), one run's or a project's."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from carbonledger.cli.main import main

from .conftest import Tracked

TASK = ["--task", "stage=training", "--task", "family=x", "--task", "data_type=image",
        "--task", "data_usage=input"]  # fmt: skip
#: (format, extra arguments, a run's report: True; a project's: False)
FORMATS = [
    ("md", [], True),
    ("latex", [], True),
    ("boamps", TASK, True),
    ("model-card", [], True),
    ("impact-framework", [], True),
    ("sci", ["--functional-unit", "request", "--count", "10"], True),
    ("ghg", [], False),
    ("ghg-csv", [], False),
]


def _pin(tmp_path: Path) -> str:
    """A file holding this session's public key: the pin a verifier trusts."""
    from carbonledger.ledger.keys import load_or_create_signing_key, public_key_pem

    pin = tmp_path / "me.pub"
    pin.write_text(public_key_pem(load_or_create_signing_key().public_hex))
    return str(pin)


def _args(fmt: str, extra: list[str], one_run: bool, run: str, ledger: Path) -> list[str]:
    target = [run] if one_run else ["--project", "vision"]
    return ["report", *target, "--ledger", str(ledger), "--format", fmt, *extra]


@pytest.mark.parametrize(("fmt", "extra", "one_run"), FORMATS, ids=[f[0] for f in FORMATS])
def test_every_format_carries_the_head_and_the_verdict(
    tracked: Tracked,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    extra: list[str],
    one_run: bool,
) -> None:
    from carbonledger.ledger import open_ledger

    led = open_ledger(tracked.ledger, read_only=True)
    try:
        head = led.head()
    finally:
        led.close()
    args = _args(fmt, extra, one_run, tracked.fr, tracked.ledger)
    assert main(args) == 0
    unanchored = capsys.readouterr().out
    assert head in unanchored
    assert _anchored(fmt, unanchored) is False
    assert main([*args, "--key", _pin(tmp_path)]) == 0
    anchored = capsys.readouterr().out
    assert head in anchored
    assert _anchored(fmt, anchored) is True


def _anchored(fmt: str, text: str) -> bool:
    """Whether a report says its record was checked against a trusted key, as each format
    says it: a JSON record, a CSV column, or the sentence in a text field."""
    import csv
    import io

    if fmt in ("boamps", "ghg"):
        data = json.loads(text)
        record = data["carbonledger"]["record"] if fmt == "boamps" else data["record"]
        assert record["verified"] is True
        return bool(record["anchored"])
    if fmt == "ghg-csv":
        flags = {row["anchored"] for row in csv.DictReader(io.StringIO(text))}
        assert len(flags) == 1
        return flags == {"true"}
    flat = " ".join(text.split()).replace("\\", "")
    if "not anchored" in flat:
        return False
    assert "verified against" in flat and "SHA256:" in flat
    return True


@pytest.mark.parametrize(("fmt", "extra", "one_run"), FORMATS, ids=[f[0] for f in FORMATS])
def test_a_modified_record_stops_every_format(
    tracked: Tracked,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fmt: str,
    extra: list[str],
    one_run: bool,
) -> None:
    ledger = tracked.copy(tmp_path)
    with sqlite3.connect(ledger) as db:
        db.execute("UPDATE runs SET intensity_g_per_kwh = intensity_g_per_kwh / 10")
    out_file = tmp_path / "report.out"
    code = main([*_args(fmt, extra, one_run, tracked.fr, ledger), "--key", _pin(tmp_path),
                 "-o", str(out_file)])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 1 and out == "" and not out_file.exists()
    assert "does not verify" in err and len(err.strip().splitlines()) == 1


def test_a_project_html_report_verifies_first(
    tracked: Tracked, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ledger = tracked.copy(tmp_path)
    with sqlite3.connect(ledger) as db:
        db.execute("UPDATE runs SET pue = 1.0")
    html = tmp_path / "p.html"
    code = main(["report", "-p", "vision", "-l", str(ledger), "--html", str(html), "--key",
                 _pin(tmp_path)])  # fmt: skip
    assert code == 1 and not html.exists()
    assert "does not verify" in capsys.readouterr().err


def test_json_of_each_run_format_holds_the_record(
    tracked: Tracked, capsys: pytest.CaptureFixture[str]
) -> None:
    for fmt, extra, one_run in FORMATS:
        if fmt in ("md", "latex", "ghg-csv"):
            continue
        assert main([*_args(fmt, extra, one_run, tracked.fr, tracked.ledger), "--json"]) == 0
        text = capsys.readouterr().out.strip().splitlines()[-1]
        data = json.loads(text)
        assert "ledger head" in text or data.get("record", {}).get("ledger_head"), fmt
