"""units: the conversions' helpers that stand in for the math module on the tracker's path."""

from __future__ import annotations

import math

from carbonledger.units import NAN


def test_nan() -> None:
    assert math.isnan(NAN)


def test_iso_utc() -> None:
    from datetime import datetime, timezone

    from carbonledger.units import iso_utc

    t = datetime(2024, 5, 1, 12, 34, 56, 789000, tzinfo=timezone.utc).timestamp()
    assert iso_utc(t) == "2024-05-01T12:34:56Z"  # the fraction is cut, not rounded
    assert iso_utc(t, suffix="+00:00") == "2024-05-01T12:34:56+00:00"
    assert iso_utc(t, suffix="") == "2024-05-01T12:34:56"
    assert iso_utc(t, timespec="minutes") == "2024-05-01T12:34Z"
    assert iso_utc(t, timespec="auto", suffix="+00:00") == "2024-05-01T12:34:56.789000+00:00"
    assert iso_utc(0) == "1970-01-01T00:00:00Z"
    assert iso_utc(1_714_564_800) == "2024-05-01T12:00:00Z"
