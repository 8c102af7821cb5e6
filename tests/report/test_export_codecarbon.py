"""``carbonledger export --csv`` writes CodeCarbon's ``country_iso_code`` as CodeCarbon does:
ISO 3166 alpha-3, from the run's country or its cloud region's; empty when no country is
known."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import carbonledger as cl
from carbonledger.report.export import export_text
from carbonledger.testing import FakeClock, FakeSensor


def _exported(tmp_path: Path, **place: str) -> dict[str, str]:
    clock = FakeClock(1000.0)
    sensor = FakeSensor(cl.SensorInfo("gpu", "gpu:0", "fake", True), 100.0, clock)
    ledger = tmp_path / f"{'-'.join(place.values()) or 'nowhere'}.db".replace(":", "_")
    tracker = cl.Tracker(sensors=[sensor], ledger=str(ledger), handle_signals=False,
                         clock=clock, **place)  # fmt: skip
    tracker.start()
    clock.advance(10)
    run_id = tracker.stop().run_id
    with cl.open_ledger(str(ledger), read_only=True) as led:
        text, _ = export_text([led.summary(run_id)], "csv")
    return next(csv.DictReader(io.StringIO(text)))


def test_country_iso_code_is_alpha3_like_codecarbons(tmp_path: Path) -> None:
    row = _exported(tmp_path, country="FR")
    assert (row["country_iso_code"], row["country_name"]) == ("FRA", "France")
    assert _exported(tmp_path, region="US-CA")["country_iso_code"] == "USA"
    assert _exported(tmp_path, region="aws:eu-west-3")["country_iso_code"] == "FRA"
    assert _exported(tmp_path)["country_iso_code"] == ""  # the world average: no country
