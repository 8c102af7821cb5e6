"""A run's state as the ledger's rows and signed batches give it (reads only).

The tables ``runs``, ``members``, ``devices``, ``samples`` and ``windows`` are kept from the
signed batches as they arrive (:mod:`~carbonledger.ledger.ingest`), for queries. What decides a
member's status, end time and energy is what was *signed*: a member's own ``MemberFinished``,
else a settler's ``Settled`` that is still current (the member signed nothing after what it
names), else nothing (the member is running, or silent). :func:`members` reads the rows and
puts the signed facts over them, so a status column set back by hand changes nothing a reader
says (``verify`` reports the edit). Runs recorded before signed batches (schema 2) keep their
columns' word, as they always did.

Liveness is judged by the reader's clock: a member is live while its last signed batch (or
sample, for older runs) is younger than its lease TTL; a time claimed more than
:data:`MAX_CLOCK_SKEW_S` ahead of the reader's clock keeps nobody alive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from carbonledger.errors import InputError
from carbonledger.ledger.rows import DEVICE_COLS, MEMBER_COLS, RUN_COLS, WINDOW_COLS, Row, Tx
from carbonledger.models import RunRecord

__all__ = [
    "END_KINDS",
    "KIND_EVENTS",
    "KIND_FINISHED",
    "KIND_OPENED",
    "KIND_SETTLED",
    "MAX_CLOCK_SKEW_S",
    "SignedEnd",
    "devices",
    "live",
    "loads",
    "member_label",
    "members",
    "need_run",
    "record",
    "run_row",
    "windows_rows",
]

#: kinds of the chain's rows that hold a signed batch (the most telling event of the batch)
KIND_EVENTS = "events"
KIND_OPENED = "events:opened"
KIND_FINISHED = "events:finished"
KIND_SETTLED = "events:settled"
BATCH_KINDS = (KIND_EVENTS, KIND_OPENED, KIND_FINISHED, KIND_SETTLED)
END_KINDS = (KIND_FINISHED, KIND_SETTLED)

#: a claimed time further ahead of the reader's clock than this keeps nobody alive (seconds)
MAX_CLOCK_SKEW_S = 300.0


def loads(text: Any, empty: Any) -> Any:
    """A JSON column's value; for text that is not JSON of the expected kind (edited by
    hand), ``empty`` holding the raw text under ``"unreadable"`` so that ``verify`` names it
    and summaries still work."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        value = None
    if isinstance(value, type(empty)) and _depth_ok(value):
        return value
    shown = str(text)[:200]
    return {"unreadable": shown} if isinstance(empty, dict) else [f"unreadable: {shown}"]


#: the deepest nesting of a JSON column a reader takes (the event codec writes at most 32)
MAX_JSON_DEPTH = 64


def _depth_ok(value: Any) -> bool:
    """Whether ``value`` is nested at most :data:`MAX_JSON_DEPTH` deep (walked without
    recursion: later readers and writers of it recurse)."""
    level = [value]
    for _ in range(MAX_JSON_DEPTH + 1):
        nxt: list[Any] = []
        for v in level:
            if isinstance(v, dict):
                nxt.extend(v.values())
            elif isinstance(v, list):
                nxt.extend(v)
        if not nxt:
            return True
        level = nxt
    return False


def run_row(tx: Tx, run_id: str, lock: str = "") -> dict[str, Any] | None:
    """The run's row as a dict (tags and meta parsed); ``lock`` is the transport's
    ``for_update`` to lock the row."""
    row = tx.one(f"SELECT {', '.join(RUN_COLS)} FROM runs WHERE run_id = ?{lock}", (run_id,))
    if row is None:
        return None
    d = dict(zip(RUN_COLS, row, strict=True))
    d["tags"] = loads(d["tags"], {})
    d["meta"] = loads(d["meta"], {})
    return d


def need_run(tx: Tx, run_id: str, location: str, lock: str = "") -> dict[str, Any]:
    """:func:`run_row`, or :class:`InputError` naming the run."""
    run = run_row(tx, run_id, lock)
    if run is None:
        raise InputError(
            f"unknown run {run_id!r} in ledger {location}; list runs with 'carbonledger runs'"
        )
    return run


def record(run: dict[str, Any]) -> RunRecord:
    """The :class:`RunRecord` of a run row."""
    return RunRecord(
        run_id=run["run_id"],
        project=run["project"],
        experiment=run["experiment"],
        started_unix_s=run["started_unix_s"],
        scope=run["scope"],
        location=run["location"],
        location_source=run["location_source"],
        intensity_g_per_kwh=run["intensity_g_per_kwh"],
        intensity_source=run["intensity_source"],
        pue=run["pue"],
        pue_source=run["pue_source"],
        tags=dict(run["tags"]),
        meta=dict(run["meta"]),
    )


@dataclass(frozen=True)
class SignedEnd:
    """How a member ended, as signed: by itself (``settled`` False) or by a settler."""

    status: str
    finished_unix_s: float
    components: list[dict[str, Any]]
    errors: list[str]
    settled: bool
    #: the member's last batch a settlement names (0 for the member's own end)
    last_seq: int = 0


def signed_ends(tx: Tx, run_id: str) -> dict[str, SignedEnd]:
    """Each member's signed end: its own ``MemberFinished`` wins over any ``Settled``."""
    own: dict[str, SignedEnd] = {}
    settled: dict[str, SignedEnd] = {}
    rows = tx.rows(
        f"SELECT member_id, canonical FROM seals WHERE run_id = ? AND kind IN "
        f"('{KIND_FINISHED}', '{KIND_SETTLED}') ORDER BY seq",
        (run_id,),
    )
    for member_id, body in rows:
        doc = loads(body, {})
        for event in doc.get("events") or []:
            if not isinstance(event, dict):
                continue
            try:
                if event.get("type") == "member_finished":
                    own[str(member_id)] = SignedEnd(
                        str(event["status"]),
                        float(event["finished_unix_s"]),
                        list(event.get("components") or []),
                        [str(e) for e in event.get("errors") or []],
                        settled=False,
                    )
                elif event.get("type") == "settled":
                    settled[str(event["member_id"])] = SignedEnd(
                        "interrupted",
                        float(event["finished_unix_s"]),
                        list(event.get("components") or []),
                        [str(event["note"])] if event.get("note") else [],
                        settled=True,
                        last_seq=int(event["last_seq"]),
                    )
            except (KeyError, TypeError, ValueError):
                continue  # an unreadable record: verify names it
    return {**settled, **own}


def last_batches(tx: Tx, run_id: str) -> dict[str, tuple[int, float]]:
    """Each member's last signed batch: (its seq, the time it claims)."""
    rows = tx.rows(
        "SELECT s.member_id, s.member_seq, s.claimed_unix_s FROM seals s JOIN ("
        "SELECT member_id, MAX(member_seq) AS top FROM seals WHERE run_id = ? AND "
        "member_seq IS NOT NULL GROUP BY member_id) t "
        "ON s.member_id = t.member_id AND s.member_seq = t.top WHERE s.run_id = ?",
        (run_id, run_id),
    )
    out = {}
    for member_id, seq, claimed in rows:
        try:
            out[str(member_id)] = (int(seq), float(claimed))
        except (TypeError, ValueError):
            continue
    return out


def members(tx: Tx, run_id: str) -> list[dict[str, Any]]:
    """The members of a run. For a member that signs batches, its status, end, components and
    errors are the signed ones (see the module) and ``heartbeat_unix_s`` the time its last
    batch claims; for an older member, the later of its heartbeat and its last sample.
    ``signed`` tells which."""
    rows = tx.rows(
        f"SELECT {', '.join('m.' + c for c in MEMBER_COLS)}, "
        # the newest sample of each device (one index probe each), then their maximum
        "(SELECT MAX((SELECT s.time_unix_s FROM samples s WHERE s.device_ref = d.device_ref "
        "ORDER BY s.time_unix_s DESC LIMIT 1)) FROM devices d "
        "WHERE d.run_id = m.run_id AND d.member_id = m.member_id) "
        "FROM members m WHERE m.run_id = ? ORDER BY m.started_unix_s, m.member_id",
        (run_id,),
    )
    if not rows:
        return []
    batches = last_batches(tx, run_id)
    ends = signed_ends(tx, run_id) if batches else {}
    out = []
    for *cols, last_sample in rows:
        d = dict(zip(MEMBER_COLS, cols, strict=True))
        d["components"] = None if d["components"] is None else loads(d["components"], [])
        d["errors"] = loads(d["errors"], [])
        mid = str(d["member_id"])
        top = batches.get(mid)
        d["signed"] = top is not None
        if top is None:  # written before signed batches: the columns' word
            if d["finished_unix_s"] is None and last_sample is not None:
                d["heartbeat_unix_s"] = max(_float(d["heartbeat_unix_s"]), _float(last_sample))
            out.append(d)
            continue
        d["last_seq"], d["heartbeat_unix_s"] = top
        end = ends.get(mid)
        if end is not None and end.settled and end.last_seq < top[0]:
            end = None  # the member signed more after what the settlement saw
        if end is None:
            d.update(finished_unix_s=None, status="running", components=None)
        else:
            d.update(
                finished_unix_s=end.finished_unix_s,
                status=end.status,
                components=end.components,
                errors=end.errors,  # the signed ones (the column holds them too)
            )
            d["settled"] = end.settled
        out.append(d)
    return out


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def live(member: dict[str, Any], now: float) -> bool:
    """Whether ``member`` is live at ``now`` (see the module)."""
    if member["finished_unix_s"] is not None:
        return False
    beat = _float(member["heartbeat_unix_s"])
    return bool(beat - MAX_CLOCK_SKEW_S <= now <= beat + _float(member["lease_ttl_s"]))


def windows_rows(tx: Tx, run_id: str) -> list[dict[str, Any]]:
    rows = tx.rows(
        f"SELECT {', '.join(WINDOW_COLS)} FROM windows WHERE run_id = ? "
        "ORDER BY started_unix_s, window_ref",
        (run_id,),
    )
    return [window_row(row) for row in rows]


def window_row(row: Row) -> dict[str, Any]:
    """A row of ``windows`` (its :data:`WINDOW_COLS`) as a dict, its JSON read."""
    d = dict(zip(WINDOW_COLS, row, strict=True))
    d["components"] = loads(d["components"], [])
    d["metrics"] = {} if d["metrics"] is None else loads(d["metrics"], {})
    return d


def devices(tx: Tx, run_id: str) -> list[dict[str, Any]]:
    rows = tx.rows(
        f"SELECT {', '.join(DEVICE_COLS)} FROM devices WHERE run_id = ? ORDER BY device_ref",
        (run_id,),
    )
    return [dict(zip(DEVICE_COLS, row, strict=True)) for row in rows]


def latest_sample(tx: Tx, device_ref: int, max_seg: int | None = None) -> Row | None:
    """The device's newest sample (of segments up to ``max_seg`` when given)."""
    if max_seg is None:
        return tx.one(
            "SELECT time_unix_s, energy_j, power_w, low_j, high_j FROM samples "
            "WHERE device_ref = ? ORDER BY time_unix_s DESC LIMIT 1",
            (device_ref,),
        )
    return tx.one(
        "SELECT time_unix_s, energy_j, power_w, low_j, high_j FROM samples "
        "WHERE device_ref = ? AND seg <= ? ORDER BY time_unix_s DESC LIMIT 1",
        (device_ref, max_seg),
    )


def components_from_samples(
    tx: Tx, member: dict[str, Any], own_devices: list[dict[str, Any]], max_seg: int | None = None
) -> list[dict[str, Any]]:
    """Each device's energy at its newest sample (of segments up to ``max_seg``)."""
    out = []
    for d in own_devices:
        latest = latest_sample(tx, d["device_ref"], max_seg)
        if latest is None:
            continue
        t, energy, _power, low, high = latest
        measured = bool(d["measured"])
        out.append(
            {
                "component": d["component"],
                "device": d["device"],
                "method": d["method"],
                "measured": measured,
                "energy_j": float(energy),
                "duration_s": max(0.0, float(t) - float(member["started_unix_s"])),
                "low_j": None if measured or low is None else float(low),
                "high_j": None if measured or high is None else float(high),
                "model": d["model"],
                "host": d["host"] or member["host"],
            }
        )
    return out


def member_label(m: dict[str, Any]) -> str:
    if m["rank"] is not None:
        return f"rank {m['rank']} ({m['host']}, pid {m['pid']})"
    return f"{m['host']} pid {m['pid']}"


def status_of(ms: list[dict[str, Any]]) -> tuple[str, float | None]:
    """A run's status and end time from its members' (signed) states: running while a member
    has not ended; then failed, interrupted or completed."""
    if not ms or any(m["finished_unix_s"] is None for m in ms):
        return "running", None
    statuses = {m["status"] for m in ms}
    status = (
        "failed"
        if "failed" in statuses
        else "interrupted"
        if "interrupted" in statuses
        else "completed"
    )
    return status, max(_float(m["finished_unix_s"]) for m in ms)
