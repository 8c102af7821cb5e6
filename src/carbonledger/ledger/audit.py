"""``verify``: the ledger's rows against the records that hold (see :mod:`.chain`).

For each run: its row against its signed ``start`` record and the ``meta`` records after it;
each member against its ``join`` and ``end``; each device against its signed claim; the
samples and windows of each segment against the member's ``checkpoint`` digest; a finished
run against its newest ``seal``. A run no key vouches for (no signed start record, and no
seal of an earlier version) is reported ``unsigned``. Nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from carbonledger.ledger.chain import Problem, SealRow, ref_of
from carbonledger.ledger.records import FINAL_STATUSES, segment_digest
from carbonledger.ledger.rows import CLAIM_COLS, END_COLS, JOIN_COLS, START_COLS

__all__ = ["RunState", "check_runs", "describe_change"]


@dataclass
class RunState:
    """What the checks need of a run as it is now."""

    row: dict[str, Any]
    #: the canonical form of its rows now (only for runs whose status is final)
    canonical: str | None
    members: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    #: (member, segment) -> (sample rows, window documents)
    segments: dict[tuple[str, int], tuple[list[Sequence[Any]], list[dict[str, Any]]]] = field(
        default_factory=dict
    )

    @property
    def run_id(self) -> str:
        return str(self.row["run_id"])


def _diff(old: Any, new: Any, path: str, out: list[str], limit: int = 5) -> None:
    """Append up to ``limit`` human-readable differences between two JSON documents."""
    if len(out) >= limit:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append(f"{sub} added")
            elif key not in new:
                out.append(f"{sub} removed")
            else:
                _diff(old[key], new[key], sub, out, limit)
            if len(out) >= limit:
                return
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            out.append(f"{path}: {len(old)} items signed, {len(new)} now")
            return
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            label = (
                a.get("member_id") or a.get("device") or a.get("path")
                if isinstance(a, dict)
                else None
            )
            _diff(a, b, f"{path}[{label or i}]", out, limit)
    elif old != new or type(old) is not type(new):
        out.append(f"{path}: sealed {old!r}, now {new!r}")


def describe_change(sealed: Any, now: Any) -> str:
    """What differs between a signed document (or its JSON) and the current one."""
    out: list[str] = []
    try:
        a = json.loads(sealed) if isinstance(sealed, str) else sealed
        b = json.loads(now) if isinstance(now, str) else now
    except ValueError:
        return "the signed form cannot be read"
    _diff(a, b, "", out)
    return "; ".join(out) if out else "the signed form differs"


def check_runs(
    runs: Sequence[RunState], good: Sequence[SealRow], notes: list[str]
) -> list[Problem]:
    """Every run against the records that hold (``good``, in chain order)."""
    problems: list[Problem] = []
    by_run: dict[str, list[SealRow]] = {}
    for s in good:
        by_run.setdefault(s.run_id, []).append(s)
    seen = set()
    for run in runs:
        seen.add(run.run_id)
        recs = by_run.get(run.run_id, [])
        start = next((s for s in recs if s.kind == "start"), None)
        if start is None:
            if not any(s.kind == "seal" for s in recs):
                problems.append(
                    Problem(
                        run.run_id,
                        "unsigned",
                        f"no key vouches for this {run.row['status']} run: it has no signed "
                        "start record (inserted, or its records were removed)",
                    )
                )
                continue
        else:
            problems += _check_start(run, start, recs)
            problems += _check_members(run, recs, notes)
        problems += _check_status(run, recs)
    for run_id, recs in by_run.items():
        if run_id and run_id not in seen and any(s.kind in ("start", "seal") for s in recs):
            problems.append(
                Problem(run_id, "deleted", f"run (signed in seq {recs[0].seq}) is missing")
            )
    return problems


def _check_start(run: RunState, start: SealRow, recs: list[SealRow]) -> list[Problem]:
    signed = dict(start.doc().get("run") or {})
    meta = dict(signed.get("meta") or {})
    for s in recs:
        if s.kind == "meta":
            meta.update(s.doc().get("meta") or {})
    signed["meta"] = meta
    now = {c: run.row[c] for c in START_COLS}
    if signed != now:
        return [Problem(run.run_id, "modified", "run." + describe_change(signed, now))]
    return []


def _check_members(run: RunState, recs: list[SealRow], notes: list[str]) -> list[Problem]:
    problems: list[Problem] = []
    rid = run.run_id
    by_member: dict[str, list[SealRow]] = {}
    for s in recs:
        if s.member_id:
            by_member.setdefault(s.member_id, []).append(s)
    rows = {m["member_id"]: m for m in run.members}
    for mid, mrecs in by_member.items():
        if mid not in rows and any(s.kind == "join" for s in mrecs):
            problems.append(Problem(rid, "deleted", f"member {mid!r} (signed) is missing"))
    for mid, m in rows.items():
        mrecs = by_member.get(mid, [])
        joins = [s for s in mrecs if s.kind == "join"]
        if not joins:
            problems.append(Problem(rid, "unsigned", f"member {mid!r} has no signed join record"))
            continue
        signed = joins[-1].doc().get("member") or {}
        now = {c: m[c] for c in JOIN_COLS}
        if signed != now:
            problems.append(Problem(rid, "modified", "member." + describe_change(signed, now)))
        ends = [s for s in mrecs if s.kind == "end" and s.seq > joins[-1].seq]
        end = ends[-1].doc() if ends else None
        if end is not None:
            signed_end = {c: end.get(c) for c in END_COLS}
            now_end = {c: m[c] for c in END_COLS}
            if signed_end != now_end:
                problems.append(
                    Problem(
                        rid, "modified", f"member {mid}: " + describe_change(signed_end, now_end)
                    )
                )
        elif m["finished_unix_s"] is not None:
            problems.append(
                Problem(rid, "modified", f"member {mid!r} reads {m['status']} with no signed end")
            )
        problems += _check_devices(run, mid, mrecs)
        problems += _check_segments(run, mid, mrecs, end, notes)
    return problems


def _check_devices(run: RunState, mid: str, mrecs: list[SealRow]) -> list[Problem]:
    claims: dict[str, dict[str, Any]] = {}
    for s in mrecs:
        if s.kind == "devices":
            for c in s.doc().get("devices") or []:
                claims[str(c.get("device"))] = c
    problems = []
    for d in run.devices:
        if d["member_id"] != mid:
            continue
        now = {c: d[c] for c in CLAIM_COLS}
        signed = claims.get(d["device"])
        if signed is not None and signed != now:
            detail = describe_change(signed, now)
            problems.append(Problem(run.run_id, "modified", f"device {d['device']}: {detail}"))
        elif signed is None and d["method"] != "unknown":
            problems.append(
                Problem(run.run_id, "unsigned", f"device {d['device']!r} has no signed claim")
            )
    return problems


def _check_segments(
    run: RunState,
    mid: str,
    mrecs: list[SealRow],
    end: dict[str, Any] | None,
    notes: list[str],
) -> list[Problem]:
    rid = run.run_id
    checkpoints = {int(s.doc().get("seg", 0)): s.doc() for s in mrecs if s.kind == "checkpoint"}
    last = max(checkpoints, default=0)
    problems = []
    held = {seg: rows for (m, seg), rows in run.segments.items() if m == mid}
    for seg, doc in checkpoints.items():
        samples, windows = held.get(seg, ([], []))
        if segment_digest(samples, windows) != doc.get("digest"):
            problems.append(
                Problem(
                    rid,
                    "modified",
                    f"member {mid}: the samples or windows of segment {seg} differ from their "
                    f"signed checkpoint ({doc.get('samples')} samples and {doc.get('windows')} "
                    f"windows signed; {len(samples)} and {len(windows)} now)",
                )
            )
    for seg, (samples, windows) in sorted(held.items()):
        if seg in checkpoints:
            continue
        if seg == 0 or (end is not None and not end.get("settled")) or seg <= last:
            problems.append(
                Problem(
                    rid,
                    "unsigned",
                    f"member {mid}: {len(samples)} samples and {len(windows)} windows in "
                    f"segment {seg} were never signed",
                )
            )
        else:
            notes.append(
                f"{rid}: member {mid}: its last {len(samples)} samples and {len(windows)} "
                "windows are unsigned (written after its last checkpoint; a killed process "
                "leaves such a tail): they are not sealed"
            )
    return problems


def _check_status(run: RunState, recs: list[SealRow]) -> list[Problem]:
    """A finished run against its newest seal; a running run that was sealed since."""
    rid = run.run_id
    status = str(run.row["status"])
    turns = [s for s in recs if s.kind in ("seal", "reopen")]
    newest = turns[-1] if turns else None
    if status in FINAL_STATUSES:
        seals = [s for s in turns if s.kind == "seal"]
        if newest is None or newest.kind != "seal":
            return [Problem(rid, "unsigned", f"run is {status} but its end was never sealed")]
        seal_seq = run.row["seal_seq"]
        if seal_seq is None:
            return [Problem(rid, "modified", "the run's seal reference was removed")]
        if int(seal_seq) != newest.seq:
            where = "an older seal" if int(seal_seq) in {s.seq for s in seals} else "another record"
            return [
                Problem(
                    rid,
                    "reordered",
                    f"run points at seq {seal_seq} ({where}); its newest seal is seq {newest.seq}",
                )
            ]
        if run.canonical is not None:
            signed = {k: v for k, v in newest.doc().items() if k not in ("run_id", "member_id")}
            now = json.loads(run.canonical)
            if signed != now:
                return [Problem(rid, "modified", describe_change(signed, now))]
    elif newest is not None and newest.kind == "seal":
        return [
            Problem(
                rid,
                "modified",
                f"run was sealed ({ref_of(newest)} seq {newest.seq}) but now reads {status!r}",
            )
        ]
    return []
