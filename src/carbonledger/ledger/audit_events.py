"""``verify`` of a run recorded as signed batches: every row against what its members signed.

For each member of the run, its batches are read in order (streamed, never all at once) and
checked as a chain of their own (numbered 1, 2, ... without gaps, each naming the hash of the
one before, all signed by one key); each batch's samples and windows are compared with the rows
tagged with its number. The run's row is compared with the first ``RunOpened`` and the
``MetaUpdated`` events after it; each member's row with its ``MemberJoined`` and its signed end
(its own ``MemberFinished``, else a current ``Settled``); each device with its claim; the run's
status and end with what its members' ends give. Whether each batch's signature holds, and by
a key the user trusts, is the chain check's part (:mod:`~carbonledger.ledger.chain`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from carbonledger.events import (
    GENESIS,
    Batch,
    DecodeError,
    DevicesClaimed,
    MemberFinished,
    MemberJoined,
    MetaUpdated,
    RunOpened,
    SamplesAdded,
    Settled,
    decode_batch,
)
from carbonledger.ledger.audit import describe_change
from carbonledger.ledger.audit_rows import Cursor, compare_segment, rows_by_seg
from carbonledger.ledger.chain import Problem
from carbonledger.ledger.rows import (
    CLAIM_COLS,
    END_COLS,
    JOIN_COLS,
    START_COLS,
    ce_to_dict,
    dumps,
)
from carbonledger.ledger.state import MAX_CLOCK_SKEW_S, loads, status_of
from carbonledger.ledger.transports.base import Tx
from carbonledger.models import MemberRecord, RunRecord

__all__ = ["check_signed_run", "has_older_start", "is_signed_run"]


def is_signed_run(tx: Tx, run_id: str) -> bool:
    """Whether the run was recorded as signed batches (else: by an older carbonledger)."""
    return (
        tx.one("SELECT 1 FROM seals WHERE run_id = ? AND member_seq IS NOT NULL LIMIT 1", (run_id,))
        is not None
    )


@dataclass
class _Member:
    join: MemberRecord | None = None
    ttl_s: float = 0.0
    end: MemberFinished | None = None
    end_time_s: float = 0.0
    claims: dict[str, dict[str, Any]] = field(default_factory=dict)
    sampled: set[str] = field(default_factory=set)
    #: member_seq -> batch hash
    hashes: dict[int, str] = field(default_factory=dict)
    last_seq: int = 0


@dataclass
class _Facts:
    opened: list[tuple[int, RunRecord]] = field(default_factory=list)
    metas: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    members: dict[str, _Member] = field(default_factory=dict)
    settlements: list[tuple[int, str, Settled]] = field(default_factory=list)


def has_older_start(tx: Tx, run_id: str) -> bool:
    """Whether the run was started by an older carbonledger (a start record, not a batch):
    with signed batches too, members joined it after the upgrade (a requeued job)."""
    return (
        tx.one(
            "SELECT 1 FROM seals WHERE run_id = ? AND member_seq IS NULL AND kind = 'start' "
            "LIMIT 1",
            (run_id,),
        )
        is not None
    )


def check_signed_run(
    tx: Tx,
    run: dict[str, Any],
    now: float,
    notes: list[str],
    older_members: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Problem]:
    """Every row of a run recorded as signed batches against its batches (reads only).

    ``older_members`` (member id -> its row): for a run an older carbonledger started, the
    members that joined it before the upgrade; their rows and the run's start are checked
    against the older records (:mod:`~carbonledger.ledger.audit`), and their ends count in
    the run's status here."""
    rid = str(run["run_id"])
    problems: list[Problem] = []
    facts = _Facts()
    mids = [
        str(r[0])
        for r in tx.rows(
            "SELECT DISTINCT member_id FROM seals WHERE run_id = ? AND member_seq IS NOT NULL "
            "ORDER BY member_id",
            (rid,),
        )
    ]
    for mid in mids:
        problems += _check_member(tx, rid, mid, facts, now, notes)
    if older_members is None or facts.opened:
        problems += _check_run_row(run, facts)
    problems += _check_member_rows(tx, run, facts, notes, older_members or {})
    return problems


def _check_member(
    tx: Tx, rid: str, mid: str, facts: _Facts, now: float, notes: list[str]
) -> list[Problem]:
    problems: list[Problem] = []
    m = facts.members.setdefault(mid, _Member())
    batches = tx.stream(
        "SELECT seq, member_seq, batch_hash, canonical, signer, claimed_unix_s FROM seals "
        "WHERE run_id = ? AND member_id = ? AND member_seq IS NOT NULL ORDER BY member_seq",
        (rid, mid),
    )
    samples = rows_by_seg(
        tx.stream(
            "SELECT s.seg, d.device, s.time_unix_s, s.energy_j, s.power_w, s.low_j, s.high_j "
            "FROM samples s JOIN devices d ON d.device_ref = s.device_ref "
            "WHERE d.run_id = ? AND d.member_id = ? ORDER BY s.seg, s.time_unix_s, d.device",
            (rid, mid),
        )
    )
    windows = rows_by_seg(
        tx.stream(
            "SELECT seg, name, path, started_unix_s, duration_s, co2e_g, components, metrics "
            "FROM windows "
            "WHERE run_id = ? AND member_id = ? ORDER BY seg, window_ref",
            (rid, mid),
        )
    )
    held_samples = Cursor(samples)
    held_windows = Cursor(windows)
    expected, prev, first_signer = 1, GENESIS, None
    for lseq, mseq, bhash, body, signer, claimed in batches:
        try:
            batch = decode_batch(str(body))
        except DecodeError as exc:
            problems.append(
                Problem(rid, "modified", f"member {mid}: batch {mseq} cannot be read ({exc})")
            )
            continue
        mseq = int(mseq)
        if mseq > expected:
            problems.append(
                Problem(
                    rid,
                    "deleted",
                    f"member {mid}: its batches {expected}-{mseq - 1} are missing (batch {mseq} "
                    "follows them)",
                )
            )
        elif batch.prev != prev:
            problems.append(
                Problem(
                    rid,
                    "reordered",
                    f"member {mid}: batch {mseq} does not follow its batch {mseq - 1} (it names "
                    "another batch before it)",
                )
            )
        if first_signer is None:
            first_signer = signer
        elif signer != first_signer:
            problems.append(
                Problem(
                    rid,
                    "modified",
                    f"member {mid}: batch {mseq} is signed by another key than its batch 1",
                )
            )
        if claimed is None or float(claimed) != batch.time_unix_s:
            problems.append(
                Problem(
                    rid,
                    "modified",
                    f"member {mid}: batch {mseq}'s time reads {claimed!r}, it signed "
                    f"{batch.time_unix_s!r}",
                )
            )
        if batch.time_unix_s > now + MAX_CLOCK_SKEW_S:
            notes.append(
                f"{rid}: member {mid}: batch {mseq} claims a time {batch.time_unix_s - now:.0f} s "
                "ahead of this clock (a clock set ahead): it keeps nobody alive"
            )
        m.hashes[mseq] = str(bhash)
        m.last_seq = mseq
        problems += _collect(rid, mid, int(lseq), batch, facts, m)
        host = m.join.host if m.join is not None else ""
        problems += compare_segment(rid, mid, mseq, batch, held_samples, held_windows, host)
        expected, prev = mseq + 1, str(bhash)
    for seg, rows in held_samples.rest():
        problems.append(
            Problem(
                rid,
                "inserted",
                f"member {mid}: {len(rows)} sample(s) tagged {seg} are in no signed batch",
            )
        )
    for seg, rows in held_windows.rest():
        problems.append(
            Problem(
                rid,
                "inserted",
                f"member {mid}: {len(rows)} window(s) tagged {seg} are in no signed batch",
            )
        )
    return problems


def _collect(
    rid: str, mid: str, lseq: int, batch: Batch, facts: _Facts, m: _Member
) -> list[Problem]:
    problems = []
    if batch.run_id != rid or batch.member_id != mid:
        problems.append(
            Problem(
                rid,
                "modified",
                f"member {mid}: batch {batch.seq} belongs to run {batch.run_id!r}, member "
                f"{batch.member_id!r}",
            )
        )
    for event in batch.events:
        match event:
            case RunOpened(run=run):
                facts.opened.append((lseq, run))
            case MetaUpdated(meta=meta):
                facts.metas.append((lseq, meta))
            case MemberJoined(member=member, lease_ttl_s=ttl):
                m.join, m.ttl_s = member, ttl
            case DevicesClaimed(devices=devices):
                for info in devices:
                    m.claims[info.device] = {
                        "component": info.component,
                        "device": info.device,
                        "method": info.method,
                        "measured": int(bool(info.measured)),
                        "model": info.model,
                        "uid": info.uid,
                    }
            case SamplesAdded(samples=samples):
                m.sampled.update(s.device for s in samples)
            case MemberFinished():
                m.end, m.end_time_s = event, batch.time_unix_s
            case Settled():
                facts.settlements.append((lseq, mid, event))
    return problems


def _check_run_row(run: dict[str, Any], facts: _Facts) -> list[Problem]:
    rid = str(run["run_id"])
    if not facts.opened:
        return [Problem(rid, "unsigned", "no signed batch opens this run")]
    first_seq, opened = min(facts.opened, key=lambda x: x[0])
    signed: dict[str, Any] = {c: getattr(opened, c) for c in START_COLS}
    signed["tags"] = dict(opened.tags)
    meta = dict(loads(dumps(opened.meta), {}))
    for seq, update in sorted(facts.metas, key=lambda x: x[0]):
        if seq >= first_seq:
            meta.update(loads(dumps(update), {}))
    signed["meta"] = meta
    now = {c: run[c] for c in START_COLS}
    problems = []
    if loads(dumps(signed), {}) != loads(dumps(now), {}):
        problems.append(Problem(rid, "modified", "run." + describe_change(signed, now)))
    return problems


def _signed_members(facts: _Facts) -> dict[str, dict[str, Any]]:
    """Each member's signed state: (finished, status, components, errors) as the rows hold."""
    settled: dict[str, Settled] = {}
    for _, _, event in sorted(facts.settlements, key=lambda x: x[0]):
        settled[event.member_id] = event
    out: dict[str, dict[str, Any]] = {}
    for mid, m in facts.members.items():
        if m.join is None:
            continue
        host = m.join.host
        s = settled.get(mid)
        end: dict[str, Any]
        if m.end is not None:
            end = {
                "finished_unix_s": m.end.finished_unix_s,
                "status": m.end.status,
                "components": [ce_to_dict(c, host) for c in m.end.components],
                "errors": [str(e) for e in m.end.errors],
            }
        elif s is not None and s.last_seq >= m.last_seq:
            end = {
                "finished_unix_s": s.finished_unix_s,
                "status": "interrupted",
                "components": [ce_to_dict(c, host) for c in s.components],
                "errors": [s.note] if s.note else [],
            }
        else:
            end = {"finished_unix_s": None, "status": "running", "components": None, "errors": []}
        out[mid] = end
    return out


def _check_member_rows(
    tx: Tx,
    run: dict[str, Any],
    facts: _Facts,
    notes: list[str],
    older: Mapping[str, Mapping[str, Any]],
) -> list[Problem]:
    from carbonledger.ledger.rows import DEVICE_COLS, MEMBER_COLS

    rid = str(run["run_id"])
    problems: list[Problem] = []
    rows = {
        str(r[1]): dict(zip(MEMBER_COLS, r, strict=True))
        for r in tx.rows(f"SELECT {', '.join(MEMBER_COLS)} FROM members WHERE run_id = ?", (rid,))
    }
    ends = _signed_members(facts)
    for mid, m in facts.members.items():
        if m.join is None:
            continue
        row = rows.get(mid)
        if row is None:
            problems.append(Problem(rid, "deleted", f"member {mid!r} (signed) is missing"))
            continue
        signed_join = {c: getattr(m.join, c) for c in JOIN_COLS}
        now_join = {c: row[c] for c in JOIN_COLS}
        if signed_join != now_join:
            problems.append(
                Problem(rid, "modified", "member." + describe_change(signed_join, now_join))
            )
        now_end = {
            "finished_unix_s": row["finished_unix_s"],
            "status": row["status"],
            "components": None if row["components"] is None else loads(row["components"], []),
            "errors": loads(row["errors"], []),
        }
        signed_end = ends[mid]
        if signed_end != {c: now_end[c] for c in END_COLS}:
            problems.append(
                Problem(rid, "modified", f"member {mid}: " + describe_change(signed_end, now_end))
            )
    for mid in rows:
        if mid not in ends and mid not in older:
            problems.append(Problem(rid, "unsigned", f"member {mid!r} has no signed join"))
    for _, settler, event in facts.settlements:
        target = facts.members.get(event.member_id)
        if target is None or target.hashes.get(event.last_seq) != event.last_hash:
            problems.append(
                Problem(
                    rid,
                    "modified",
                    f"settlement by {settler}: it names batch {event.last_seq} of member "
                    f"{event.member_id!r}, which that member did not sign",
                )
            )
        elif target.end is not None or target.last_seq > event.last_seq:
            notes.append(
                f"{rid}: member {event.member_id}: a settlement (by {settler}) was superseded by "
                "what the member signed after it"
            )
    # the run's status and end, as its members' signed ends give them
    states = [
        {"finished_unix_s": e["finished_unix_s"], "status": e["status"]}
        for e in (*ends.values(), *older.values())
    ]
    status, finished = status_of(states)
    if (run["status"], run["finished_unix_s"]) != (status, finished):
        problems.append(
            Problem(
                rid,
                "modified",
                f"run reads {run['status']!r} (ended {run['finished_unix_s']!r}); its members "
                f"signed {status!r} (ended {finished!r})",
            )
        )
    # devices against their claims (or the samples that name them)
    for r in tx.rows(f"SELECT {', '.join(DEVICE_COLS)} FROM devices WHERE run_id = ?", (rid,)):
        d = dict(zip(DEVICE_COLS, r, strict=True))
        if str(d["member_id"]) in older:
            continue  # claimed in the older records
        owner = facts.members.get(str(d["member_id"]))
        if owner is None:
            problems.append(Problem(rid, "unsigned", f"device {d['device']!r} has no signed claim"))
            continue
        host = owner.join.host if owner.join is not None else ""
        claim = owner.claims.get(str(d["device"]))
        now_claim = {c: d[c] for c in CLAIM_COLS}
        if claim is not None:
            signed_claim = {**claim, "host": host}
            if {c: signed_claim[c] for c in CLAIM_COLS} != now_claim:
                detail = describe_change({c: signed_claim[c] for c in CLAIM_COLS}, now_claim)
                problems.append(Problem(rid, "modified", f"device {d['device']}: {detail}"))
        elif d["device"] not in owner.sampled or d["method"] != "unknown":
            problems.append(Problem(rid, "unsigned", f"device {d['device']!r} has no signed claim"))
    return problems
