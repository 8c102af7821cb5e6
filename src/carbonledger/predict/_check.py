"""Input checks shared by the prediction functions: each failure is an InputError that
says which argument was wrong and what a valid value looks like."""

from __future__ import annotations

import math
import re

from carbonledger.errors import InputError

__all__ = ["MAXIMA", "optional_positive", "parse_number", "positive", "positive_int", "share"]

#: the largest value each input of a prediction may take (by its name, the last part of
#: ``what``): beyond any machine-learning run there is, so a typo (1e300 parameters, 1e30
#: devices) is refused instead of predicting infinite energy
MAXIMA: dict[str, float] = {
    "params": 1e15,
    "active_params": 1e15,
    "tokens": 1e17,
    "flops": 1e32,
    "devices": 1e7,
    "device_hours": 1e11,
    "avg_power_w": 1e5,
    "pue": 3.0,
    "grid_g_per_kwh": 2000.0,
    "intensity_g_per_kwh": 2000.0,
    "lifetime_years": 100.0,
    "days": 36_500.0,
    "requests_per_day": 1e13,
    "input_tokens": 1e9,
    "output_tokens": 1e9,
    "batch_size": 1e7,
    "bytes_per_param": 64.0,
    "total_windows": 1e9,
    "experts": 1e5,
    "experts_per_token": 1e5,
    "layers": 1e5,
    "hidden_size": 1e7,
    "vocab_size": 1e8,
    "sequence_length": 1e9,
    "ffn_size": 1e8,
    "heads": 1e6,
    "kv_heads": 1e6,
    "head_dim": 1e6,
}


def _check_max(out: float, value: object, what: str) -> None:
    """:class:`InputError` when ``out`` exceeds the :data:`MAXIMA` entry of ``what``."""
    top = MAXIMA.get(what.rsplit(".", 1)[-1].lstrip("-").replace("-", "_"))
    if top is not None and out > top:
        raise InputError(f"{what} must be at most {top:g}; got {value!r:.60}")


_SUFFIXES = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([kKmMbBgGtTpP]?)\s*$")


def parse_number(value: object, what: str) -> float:
    """A number from a float, an int or a string such as ``"7e9"``, ``"7B"``, ``"2T"``,
    ``"1.5k"`` (suffixes k, M, B/G, T, P are powers of 1,000)."""
    if isinstance(value, bool):
        raise InputError(f"{what} must be a number, not {value!r}")
    if isinstance(value, (int, float)):
        try:
            out = float(value)
        except OverflowError:  # an int too large for a float
            out = math.inf
    elif isinstance(value, str):
        m = _NUMBER.match(value.replace("_", "").replace(",", "")) if len(value) < 100 else None
        if not m:
            raise InputError(
                f"{what} must be a number such as 7e9, 7000000000 or 7B; got {value!r:.60}"
            )
        out = float(m.group(1)) * _SUFFIXES.get(m.group(2).lower(), 1.0)
    else:
        raise InputError(f"{what} must be a number, not {type(value).__name__} {value!r}")
    if math.isnan(out) or math.isinf(out):
        raise InputError(f"{what} must be a finite number; got {value!r:.60}")
    _check_max(out, value, what)
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
        raise InputError(f"{what} must be a whole number >= 1; got {value!r:.60}")
    return int(out)


def share(value: object, what: str) -> float:
    """``value`` as a fraction in (0, 1]."""
    out = parse_number(value, what)
    if not 0.0 < out <= 1.0:
        raise InputError(f"{what} must be a fraction in (0, 1], e.g. 0.4 for 40%; got {out:g}")
    return out
