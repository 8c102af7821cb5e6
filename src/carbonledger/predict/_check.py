"""Input checks shared by the prediction functions: each failure is an InputError that
says which argument was wrong and what a valid value looks like."""

from __future__ import annotations

import math
import re

from carbonledger.errors import InputError

__all__ = ["optional_positive", "parse_number", "positive", "positive_int", "share"]

_SUFFIXES = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([kKmMbBgGtTpP]?)\s*$")


def parse_number(value: object, what: str) -> float:
    """A number from a float, an int or a string such as ``"7e9"``, ``"7B"``, ``"2T"``,
    ``"1.5k"`` (suffixes k, M, B/G, T, P are powers of 1,000)."""
    if isinstance(value, bool):
        raise InputError(f"{what} must be a number, not {value!r}")
    if isinstance(value, (int, float)):
        out = float(value)
    elif isinstance(value, str):
        m = _NUMBER.match(value.replace("_", "").replace(",", ""))
        if not m:
            raise InputError(
                f"{what} must be a number such as 7e9, 7000000000 or 7B; got {value!r}"
            )
        out = float(m.group(1)) * _SUFFIXES.get(m.group(2).lower(), 1.0)
    else:
        raise InputError(f"{what} must be a number, not {type(value).__name__} {value!r}")
    if math.isnan(out) or math.isinf(out):
        raise InputError(f"{what} must be a finite number; got {value!r}")
    return out


def positive(value: object, what: str, *, minimum: float = 0.0, inclusive: bool = False) -> float:
    """``value`` as a float > ``minimum`` (>= when ``inclusive``)."""
    out = parse_number(value, what)
    ok = out >= minimum if inclusive else out > minimum
    if not ok:
        rel = ">=" if inclusive else ">"
        raise InputError(f"{what} must be {rel} {minimum:g}; got {out:g}")
    return out


def optional_positive(value: object | None, what: str) -> float | None:
    return None if value is None else positive(value, what)


def positive_int(value: object, what: str) -> int:
    """``value`` as a whole number >= 1."""
    out = parse_number(value, what)
    if out < 1 or out != int(out):
        raise InputError(f"{what} must be a whole number >= 1; got {value!r}")
    return int(out)


def share(value: object, what: str) -> float:
    """``value`` as a fraction in (0, 1]."""
    out = parse_number(value, what)
    if not 0.0 < out <= 1.0:
        raise InputError(f"{what} must be a fraction in (0, 1], e.g. 0.4 for 40%; got {out:g}")
    return out
