"""What a reader may trust of the rows it reads back: each figure checked before it is used.

The ledger's rows are only what a writer signed while nobody edits them; a reader that meets
a row no writer writes (text for a number, a time past year 9999, JSON of another shape)
lists the run as **damaged** (:func:`damaged_summary`) or leaves the row out, instead of
failing on it later. What is *realistic* is the writer's check
(:func:`carbonledger.events.check_ranges`); what is here is what a reader can print and add up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from carbonledger._inputs import MAX_UNIX_S
from carbonledger.ledger.rows import ce_from_dict
from carbonledger.models import RunSummary, Sample

__all__ = [
    "DATA_ERRORS",
    "check_summary",
    "damaged_summary",
    "number_in",
    "readable_windows",
    "sample_from_row",
]

#: what a row that is not what the ledger writes makes a reader raise (a string where a
#: number belongs, JSON of another shape, a number too large for a date): the run is then
#: listed as damaged, the others as they are
DATA_ERRORS = (ArithmeticError, LookupError, TypeError, ValueError, AttributeError, RecursionError)


def number_in(value: Any, low: float, high: float) -> float | None:
    """``value`` as a float when it is a number in ``[low, high]``, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        out = float(value)
    except OverflowError:
        return None
    return out if math.isfinite(out) and low <= out <= high else None


def _text(value: Any, default: str = "?") -> str:
    return value if isinstance(value, str) else default


def damaged_summary(run: dict[str, Any], reason: str) -> RunSummary:
    """The summary of a run whose rows cannot be read: what of its row can be read (id,
    names, start), status ``damaged``, no components, NaN CO2e, and ``reason`` in its
    errors and in ``extra["damaged"]``."""
    nan = float("nan")
    message = (
        f"the ledger's rows of this run cannot be read ({reason}); it is listed as damaged: "
        "'carbonledger verify' names what changed"
    )
    return RunSummary(
        run_id=str(run.get("run_id", "?")),
        project=_text(run.get("project")),
        experiment=_text(run.get("experiment")),
        status="damaged",
        started_unix_s=number_in(run.get("started_unix_s"), 0.0, MAX_UNIX_S) or 0.0,
        duration_s=0.0,
        components=(),
        intensity_g_per_kwh=nan,
        intensity_source="",
        location=_text(run.get("location"), ""),
        location_source="",
        pue=nan,
        pue_source="",
        errors=(message,),
        scope=_text(run.get("scope"), "process"),
        extra={"damaged": message, "tags": {}, "meta": {}, "members": []},
    )


def check_summary(summary: RunSummary) -> None:
    """ValueError (TypeError) naming the first figure of ``summary`` that no reader can use: a
    time before 1970 or past year 9999 (it cannot be printed), a number not finite or so large
    that adding it up overflows, text that is not text. Readers then list the run as damaged
    instead of failing on it later. (What is realistic is the writer's check:
    :func:`carbonledger.events.check_ranges`.)"""
    huge = 1e30

    def need(value: Any, what: str, low: float, high: float, optional: bool = False) -> None:
        if value is None and optional:
            return
        if number_in(value, low, high) is None:
            raise ValueError(f"{what} {value!r:.40} is out of range")

    def text(value: Any, what: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"{what} is {type(value).__name__} {value!r:.40}, not text")

    for name in ("run_id", "project", "experiment", "location", "location_source",
                 "intensity_source", "pue_source", "scope"):  # fmt: skip
        text(getattr(summary, name), name)
    for host in summary.hosts:
        text(host, "a host")
    for c in summary.components:
        for name in ("device", "method", "model", "host"):
            text(getattr(c, name), f"a device's {name}")
    for w in summary.windows:
        text(w.name, "a window's name")
        text(w.path, "a window's path")
    need(summary.started_unix_s, "the start time", 0.0, MAX_UNIX_S)
    need(summary.duration_s, "the duration", 0.0, MAX_UNIX_S)
    need(summary.started_unix_s + summary.duration_s, "the end time", 0.0, MAX_UNIX_S)
    need(summary.intensity_g_per_kwh, "the intensity", 0.0, huge)
    need(summary.pue, "the PUE", 0.0, huge)
    need(summary.extra.get("finished_unix_s"), "the end time", 0.0, MAX_UNIX_S, optional=True)
    for c in summary.components:
        need(c.energy_j, f"{c.device}'s energy", -huge, huge)
        need(c.duration_s, f"{c.device}'s duration", -MAX_UNIX_S, MAX_UNIX_S)
        need(c.low_j, f"{c.device}'s low bound", -huge, huge, optional=True)
        need(c.high_j, f"{c.device}'s high bound", -huge, huge, optional=True)
    for w in summary.windows:
        need(w.started_unix_s, f"window {w.path!r:.40}'s start", 0.0, MAX_UNIX_S)
        need(w.duration_s, f"window {w.path!r:.40}'s duration", -MAX_UNIX_S, MAX_UNIX_S)
    for m in summary.extra.get("members") or ():
        for key in ("started_unix_s", "finished_unix_s", "heartbeat_unix_s"):
            need(m.get(key), f"a member's {key}", 0.0, MAX_UNIX_S, optional=True)


def readable_windows(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str]:
    """The window rows that can be read (times and figures numbers in range, components a
    list of devices), and why the first other one cannot ('' when all can)."""
    good, bad = [], ""
    for w in rows:
        try:
            if number_in(w["started_unix_s"], 0.0, MAX_UNIX_S) is None:
                raise ValueError(f"start {w['started_unix_s']!r:.40}")
            if number_in(w["duration_s"], -MAX_UNIX_S, MAX_UNIX_S) is None:
                raise ValueError(f"duration {w['duration_s']!r:.40}")
            if w["co2e_g"] is not None and number_in(w["co2e_g"], -1e30, 1e30) is None:
                raise ValueError(f"CO2e {w['co2e_g']!r:.40}")
            for c in w["components"]:
                ce_from_dict(c)
            if not (isinstance(w["name"], str) and isinstance(w["path"], str)):
                raise TypeError("its name or path is not text")
        except DATA_ERRORS as exc:
            bad = bad or f"window row {w.get('window_ref')!r:.20}: {type(exc).__name__}: {exc}"
            continue
        good.append(w)
    return good, bad


def sample_from_row(r: Sequence[Any]) -> Sample | None:
    """A row of ``samples_view`` as a sample, or None when it holds what no writer writes
    (text for a number, a time out of range, a component of no kind)."""
    from carbonledger.models import COMPONENTS

    huge = 1e30  # what a reader can add up, not what is realistic
    time_s = number_in(r[0], 0.0, MAX_UNIX_S)
    energy_j = number_in(r[3], -huge, huge)
    if time_s is None or energy_j is None or r[1] not in COMPONENTS:
        return None
    extras: list[float | None] = []
    for value in (r[4], r[6], r[7]):  # power, low and high bounds: optional
        number = None if value is None else number_in(value, -huge, huge)
        if number is None and value is not None:
            return None
        extras.append(number)
    return Sample(time_s, r[1], str(r[2]), energy_j, extras[0], str(r[5] or ""), *extras[1:])
