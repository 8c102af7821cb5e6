"""The one place each kind of input is checked: numbers in a range (watts, intensities, PUE,
seconds, counts), durations such as ``6h``, URLs, names, times.

Ground layer: the standard library, :mod:`carbonledger.errors` and the name limit of
:mod:`carbonledger.models`. Every check returns the value in its canonical type, or raises
:class:`~carbonledger.errors.InputError` naming the argument (``what``), the value given and
the allowed range. The command line, the Python API (:func:`carbonledger.run.settings.resolve`),
the config files and the importers all call these, so an input is judged the same way
wherever it comes from. Ledger locations are checked where a ledger is opened
(:func:`carbonledger.ledger.transports.check_target`), files are read through
:func:`carbonledger._files.read_input`.
"""

from __future__ import annotations

import math
import re
from typing import Any

from carbonledger.errors import InputError
from carbonledger.models import MAX_NAME_CHARS

__all__ = [
    "MAX_DURATION_S",
    "MAX_ENERGY_J",
    "MAX_INTENSITY_G_PER_KWH",
    "MAX_PID",
    "MAX_TIMEOUT_S",
    "MAX_UNIX_S",
    "MAX_WATTS",
    "PUE_MAX",
    "PUE_MIN",
    "duration_s",
    "http_url",
    "integer",
    "intensity_g_per_kwh",
    "name",
    "number",
    "pue",
    "text",
    "timeout_s",
    "unix_time_s",
    "watts",
]

#: the most power one device (a CPU, the whole RAM, a GPU) is taken to draw, in watts
MAX_WATTS = 100_000.0
#: grid intensities (gCO2e/kWh): the dirtiest grids are near 1,000; 2,000 leaves room
MAX_INTENSITY_G_PER_KWH = 2000.0
#: a data centre's power usage effectiveness: 1.0 is no overhead
PUE_MIN, PUE_MAX = 1.0, 3.0
#: the longest span of work anything here describes: ten years, in seconds
MAX_DURATION_S = 10 * 365 * 86_400.0
#: the latest time a record may hold: 9999-12-31T23:59:59Z (what ISO-8601 dates can write)
MAX_UNIX_S = 253_402_300_799.0
#: the most energy one device's figure may hold (J): 1e20 J is 28 TWh, a country's year
MAX_ENERGY_J = 1e20
#: the longest deadline a network call may be given (seconds)
MAX_TIMEOUT_S = 600.0
#: the largest process id any system gives (Linux's limit is 2**22)
MAX_PID = 2**31 - 1


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if value >= 1e4 and value == int(value) else f"{value:g}"


def _range_text(low: float | None, high: float | None, low_open: bool, unit: str) -> str:
    u = f" {unit}" if unit else ""
    if low is not None and high is not None:
        if low_open:
            return f"> {_fmt(low)} and at most {_fmt(high)}{u}"
        return f"between {_fmt(low)} and {_fmt(high)}{u}"
    if low is not None:
        return f"{'>' if low_open else '>='} {_fmt(low)}{u}"
    if high is not None:
        return f"at most {_fmt(high)}{u}"
    return f"a finite number{u}"


def _show(value: Any) -> str:
    """``value`` for a message: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def number(
    value: Any,
    what: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    unit: str = "",
    hint: str = "",
    parse_text: bool = False,
    range_text: str = "",
) -> float:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` with ``low_open``).

    Booleans are refused; a string only with ``parse_text`` (a value read from the
    environment or a text file), never from a Python call that should have passed a number.
    """
    allowed = range_text or _range_text(low, high, low_open, unit)
    wanted = allowed if allowed.startswith(("a ", "an ")) else f"a number {allowed}"
    if isinstance(value, str) and parse_text:
        try:
            out = float(value.strip())
        except ValueError:
            got = _show(value) if value.strip() else "an empty value"
            raise InputError(f"{what} must be {wanted}, got {got}") from None
    elif isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = type(value).__name__
        raise InputError(f"{what} must be {wanted}, got {kind} {_show(value)}")
    else:
        try:
            out = float(value)
        except OverflowError:  # an int too large for a float
            out = math.inf
    ok = math.isfinite(out)
    if ok and low is not None:
        ok = out > low if low_open else out >= low
    if ok and high is not None:
        ok = out <= high
    if not ok:
        extra = f"; {hint}" if hint else ""
        raise InputError(f"{what} must be {allowed}, got {_show(value)}{extra}")
    return out


def integer(
    value: Any, what: str, *, low: int | None = None, high: int | None = None, unit: str = ""
) -> int:
    """``value`` as an int in ``[low, high]`` (an int, or a float with no fraction)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(
            f"{what} must be a whole number, got {type(value).__name__} {_show(value)}"
        )
    if isinstance(value, float) and not (math.isfinite(value) and value == int(value)):
        raise InputError(f"{what} must be a whole number, got {_show(value)}")
    out = int(value)
    if (low is not None and out < low) or (high is not None and out > high):
        raise InputError(
            f"{what} must be a whole number {_range_text(low, high, False, unit)}, "
            f"got {_show(value)}"
        )
    return out


def watts(value: Any, what: str, *, parse_text: bool = False) -> float:
    """A device's power in watts: > 0 and at most :data:`MAX_WATTS`."""
    return number(
        value, what, low=0.0, high=MAX_WATTS, low_open=True, unit="W", parse_text=parse_text,
        range_text=f"a positive number of watts, at most {MAX_WATTS:,.0f}",
        hint="give the power in watts (e.g. 45)",
    )  # fmt: skip


def intensity_g_per_kwh(value: Any, what: str, *, parse_text: bool = False) -> float:
    """A grid intensity in gCO2e/kWh, 0 to :data:`MAX_INTENSITY_G_PER_KWH`."""
    return number(
        value, what, low=0.0, high=MAX_INTENSITY_G_PER_KWH, unit="gCO2e/kWh",
        parse_text=parse_text,
    )  # fmt: skip


def pue(value: Any, what: str = "pue", *, parse_text: bool = False) -> float:
    """A PUE, :data:`PUE_MIN` to :data:`PUE_MAX`."""
    return number(
        value, what, low=PUE_MIN, high=PUE_MAX, parse_text=parse_text,
        range_text=f"between {PUE_MIN:.1f} and {PUE_MAX:.1f}",
        hint="1.0 = no overhead; typical data centres 1.1-1.6",
    )  # fmt: skip


def timeout_s(value: Any, what: str = "timeout") -> float:
    """A deadline in seconds: > 0 and at most :data:`MAX_TIMEOUT_S`."""
    return number(value, what, low=0.0, high=MAX_TIMEOUT_S, low_open=True, unit="s")


def unix_time_s(value: Any, what: str) -> float:
    """A time in Unix seconds, from 1970 to the end of year 9999."""
    return number(value, what, low=0.0, high=MAX_UNIX_S, unit="s since 1970 (UTC)")


_DURATION = re.compile(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*(s|sec|m|min|h|d)?\s*")
_UNITS_S = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


def duration_s(
    value: Any, what: str = "duration", *, max_s: float = MAX_DURATION_S, allow_zero: bool = False
) -> float:
    """``"6h"``, ``"90m"``, ``"1.5d"``, ``"3600s"``, ``"3600"`` or a number of seconds ->
    seconds, > 0 (>= 0 with ``allow_zero``) and at most ``max_s``."""
    if isinstance(value, str):
        match = _DURATION.fullmatch(value.lower()) if len(value) <= 64 else None
        if match is None:
            raise InputError(
                f"{what} {_show(value)} is not a duration: write e.g. 6h, 90m, 1.5d or 3600s"
            )
        seconds = float(match.group(1)) * _UNITS_S[match.group(2) or "s"]
    else:
        seconds = number(value, what, unit="s")
    longest = f"{max_s / 86400:g} days" if max_s >= 86400 else f"{max_s:g} s"
    if not (math.isfinite(seconds) and (seconds >= 0 if allow_zero else seconds > 0)):
        raise InputError(
            f"{what} must be {'>= 0' if allow_zero else '> 0'} and at most {longest}, "
            f"got {_show(value)}"
        )
    if seconds > max_s:
        raise InputError(f"{what} must be at most {longest}, got {_show(value)}")
    return seconds


def text(value: Any, what: str, *, max_chars: int = MAX_NAME_CHARS, empty: bool = False) -> str:
    """``value`` as a string: a ``str``, not empty (unless ``empty``), at most ``max_chars``
    characters, without control characters (NUL, newlines, escape sequences)."""
    if not isinstance(value, str):
        raise InputError(f"{what} must be a string, got {type(value).__name__} {_show(value)}")
    if not value.strip() and not empty:
        raise InputError(f"{what} must not be empty, got {_show(value)}")
    if len(value) > max_chars:
        raise InputError(
            f"{what} is {len(value)} characters long; at most {max_chars} are allowed "
            f"(it starts {value[:40]!r})"
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InputError(f"{what} must not hold control characters, got {_show(value)}")
    return value


def name(value: Any, what: str) -> str:
    """A project, experiment, tag or metric name: :func:`text`, 1 to
    :data:`~carbonledger.models.MAX_NAME_CHARS` characters."""
    return text(value, what)


def http_url(value: Any, what: str) -> str:
    """An ``http://`` or ``https://`` URL with a host (a Pushgateway, an API)."""
    from urllib.parse import urlsplit

    url = text(value, what, max_chars=2048)
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or 0 < parts.port < 65536
    except ValueError:
        parts, port_ok = None, False
    if (
        parts is None
        or parts.scheme.lower() not in ("http", "https")
        or not parts.hostname
        or not port_ok
        or any(ch.isspace() for ch in url)
    ):
        raise InputError(
            f"{what} must be an http:// or https:// URL with a host (e.g. "
            f"http://localhost:9091), got {_show(value)}"
        )
    return url
