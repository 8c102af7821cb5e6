"""Rows of the ledger's tables: column lists, the SQL transaction handle, JSON helpers and
the conversion of per-device energy to and from its stored form."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from carbonledger.ledger.transports.base import Row, Tx
from carbonledger.models import ComponentEnergy, Sample

__all__ = [
    "DEVICE_COLS",
    "MEMBER_COLS",
    "RUN_COLS",
    "SEAL_COLS",
    "WINDOW_COLS",
    "Row",
    "Tx",
    "ce_from_dict",
    "ce_to_dict",
    "dumps",
    "insert_rows",
    "merge_components",
    "number",
    "sample_values",
]

RUN_COLS = (
    "run_id",
    "project",
    "experiment",
    "tags",
    "started_unix_s",
    "finished_unix_s",
    "scope",
    "location",
    "location_source",
    "intensity_g_per_kwh",
    "intensity_source",
    "pue",
    "pue_source",
    "meta",
    "status",
    "seal_seq",
)
#: the run's columns its signed start record covers (status, end and meta change later)
START_COLS = tuple(c for c in RUN_COLS if c not in ("finished_unix_s", "status", "seal_seq"))
MEMBER_COLS = (
    "run_id",
    "member_id",
    "host",
    "pid",
    "rank",
    "local_rank",
    "started_unix_s",
    "heartbeat_unix_s",
    "lease_ttl_s",
    "finished_unix_s",
    "status",
    "components",
    "errors",
)
#: the member's columns its signed join record covers
JOIN_COLS = ("member_id", "host", "pid", "rank", "local_rank", "started_unix_s")
#: the member's columns its signed end record covers
END_COLS = ("finished_unix_s", "status", "components", "errors")
WINDOW_COLS = (
    "window_ref",
    "run_id",
    "member_id",
    "name",
    "path",
    "started_unix_s",
    "duration_s",
    "co2e_g",
    "components",
    "seg",
    "metrics",
)
DEVICE_COLS = (
    "device_ref",
    "run_id",
    "member_id",
    "component",
    "device",
    "host",
    "method",
    "measured",
    "model",
    "uid",
)
#: a device claim as signed (the database's ids left out)
CLAIM_COLS = ("component", "device", "host", "method", "measured", "model", "uid")
SEAL_COLS = (
    "seq",
    "run_id",
    "kind",
    "prev_hash",
    "record_hash",
    "signature",
    "canonical",
    "member_id",
    "signer",
)
#: liveness columns: not part of a sealed record
UNSEALED_MEMBER_COLS = ("heartbeat_unix_s", "lease_ttl_s")


def dumps(obj: Any) -> str:
    """Sorted-key compact JSON (what the ledger stores in its JSON columns)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def iso(t: float) -> str:
    """``t`` (Unix seconds) as ISO-8601 UTC, for messages."""
    from carbonledger.units import iso_utc

    return iso_utc(t, suffix="+00:00")


def sample_values(s: Sample) -> tuple[float, float, float | None, float | None, float | None]:
    """time, energy, power, low, high of a sample (bounds where ``s`` carries them)."""
    power = s.power_w
    low = getattr(s, "low_j", None)
    high = getattr(s, "high_j", None)
    return (
        float(s.time_unix_s),
        float(s.energy_j),
        None if power is None else float(power),
        None if low is None else float(low),
        None if high is None else float(high),
    )


def ce_to_dict(c: ComponentEnergy, host: str = "") -> dict[str, Any]:
    """A device's energy as stored (JSON)."""
    return {
        "component": c.component,
        "device": c.device,
        "method": c.method,
        "measured": bool(c.measured),
        "energy_j": float(c.energy_j),
        "duration_s": float(c.duration_s),
        "low_j": None if c.low_j is None else float(c.low_j),
        "high_j": None if c.high_j is None else float(c.high_j),
        "model": c.model,
        "host": c.host or host,
    }


def ce_from_dict(d: dict[str, Any], host: str = "") -> ComponentEnergy:
    """The inverse of :func:`ce_to_dict`."""
    return ComponentEnergy(
        component=d["component"],
        device=str(d["device"]),
        method=str(d.get("method", "unknown")),
        measured=bool(d.get("measured", False)),
        energy_j=float(d["energy_j"]),
        duration_s=float(d.get("duration_s", 0.0)),
        low_j=None if d.get("low_j") is None else float(d["low_j"]),
        high_j=None if d.get("high_j") is None else float(d["high_j"]),
        model=str(d.get("model", "")),
        host=str(d.get("host") or host),
    )


def merge_components(
    parts: Sequence[tuple[ComponentEnergy, float, float]],
) -> tuple[ComponentEnergy, ...]:
    """One entry per physical device (host, component, device): energies add up (a device
    counted by one member, then by another after a lease takeover); the duration is the
    span the members covered."""
    groups: dict[tuple[str, str, str], list[tuple[ComponentEnergy, float, float]]] = {}
    for part in parts:
        c = part[0]
        groups.setdefault((c.host, c.component, c.device), []).append(part)
    out = []
    for items in groups.values():
        cs = [c for c, _, _ in items]
        first = cs[0]
        if len(cs) == 1:
            out.append(first)
            continue
        measured = all(c.measured for c in cs)
        low = None if measured else sum(c.low_j if c.low_j is not None else c.energy_j for c in cs)
        high = (
            None if measured else sum(c.high_j if c.high_j is not None else c.energy_j for c in cs)
        )
        span = max(end for _, _, end in items) - min(start for _, start, _ in items)
        out.append(
            ComponentEnergy(
                component=first.component,
                device=first.device,
                method="+".join(sorted({c.method for c in cs})),
                measured=measured,
                energy_j=sum(c.energy_j for c in cs),
                duration_s=max(span, 0.0),
                low_j=low,
                high_j=high,
                model=next((c.model for c in cs if c.model), ""),
                host=first.host,
            )
        )
    return tuple(sorted(out, key=lambda c: (c.host, c.component, c.device)))


def number(value: Any) -> float | None:
    """``value`` as a float when it is a number (not a bool), else None."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


#: records per INSERT statement (13 parameters each: within every SQLite's limit of 999)
ROWS_PER_INSERT = 64


def insert_rows(tx: Tx, head: str, row_sql: str, rows: list[tuple[Any, ...]]) -> None:
    """``rows`` inserted with ``head`` (``INSERT INTO t (cols) VALUES ``): up to
    :data:`ROWS_PER_INSERT` as one statement, one step of the database (what a commit of a
    few ticks holds: beside a busy Python thread every step hands the interpreter lock
    over); more as one statement executed per row (a bulk ingest, which the driver
    pipelines)."""
    if not rows:
        return
    if len(rows) <= ROWS_PER_INSERT:
        tx.run(head + ", ".join([row_sql] * len(rows)), [x for row in rows for x in row])
    else:
        tx.many(head + row_sql, rows)
