"""units: the conversions' helpers that stand in for the math module on the tracker's path."""

from __future__ import annotations

import math

import pytest

from carbonledger.units import NAN, isfinite


@pytest.mark.parametrize(
    "x",
    [0, 1, -1, 0.0, -0.0, 1e308, -1e308, 5e-324, math.inf, -math.inf, math.nan, True, 10**300],
)
def test_isfinite_is_math_isfinite(x: float) -> None:
    assert isfinite(x) is math.isfinite(x)


def test_isfinite_of_an_int_beyond_floats_and_of_a_string() -> None:
    assert isfinite(10**400)  # math.isfinite raises OverflowError here; it is finite
    with pytest.raises(TypeError):
        isfinite("1")  # type: ignore[arg-type]


def test_nan() -> None:
    assert math.isnan(NAN)
