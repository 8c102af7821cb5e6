"""units: the conversions' helpers that stand in for the math module on the tracker's path."""

from __future__ import annotations

import math

from carbonledger.units import NAN


def test_nan() -> None:
    assert math.isnan(NAN)
