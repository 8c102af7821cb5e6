"""Ingest: applying signed batches to the ledger, each inside the transaction that records it.

A batch becomes one record of the chain (:mod:`~carbonledger.ledger.log`), stored with the
signature its member made, and its events are applied to the tables that queries read:

* ``RunOpened`` makes the run (the first one received wins; later ones change nothing);
* ``MemberJoined`` adds the member; ``DevicesClaimed`` its devices;
* ``SamplesAdded`` and ``WindowEnded`` add rows tagged with the batch's number (``seg``);
* ``MetaUpdated`` merges into the run's metadata;
* ``MemberFinished`` records the member's end; ``Settled`` records a silent member as
  interrupted unless the member signed its own end (which always wins);
* the run's ``status`` column follows its members (a cache: readers and ``verify`` go by the
  signed events, see :mod:`~carbonledger.ledger.state`).

A batch already in the ledger (the same member and number, the same hash) is skipped, so two
replays of one journal at once duplicate nothing; a different batch under the same number is
refused (:class:`~carbonledger.errors.IntegrityError`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any

from carbonledger.errors import InputError, IntegrityError
from carbonledger.events import (
    Batch,
    DecodeError,
    DevicesClaimed,
    Event,
    Heartbeat,
    MemberFinished,
    MemberJoined,
    MetaUpdated,
    RunOpened,
    SamplesAdded,
    Settled,
    SignedBatch,
    Signer,
    WindowEnded,
)
from carbonledger.ledger.ingest_pass import PLAIN, Pass, member_host, recorded
from carbonledger.ledger.log import ChainAppender
from carbonledger.ledger.rows import (
    CLAIM_COLS,
    MEMBER_COLS,
    RUN_COLS,
    START_COLS,
    ce_to_dict,
    dumps,
    sample_values,
)
from carbonledger.ledger.state import (
    KIND_EVENTS,
    KIND_FINISHED,
    KIND_OPENED,
    KIND_SETTLED,
    loads,
    status_of,
)
from carbonledger.ledger.transports.base import Transport, Tx
from carbonledger.models import RunRecord, WindowSummary, check_name_length

__all__ = ["Ingest", "batch_kind"]

#: events only a member that joined the run may sign
_MEMBER_EVENTS = frozenset({SamplesAdded, DevicesClaimed, WindowEnded, Heartbeat, MemberFinished})


def batch_kind(events: Sequence[Event]) -> str:
    """The kind of the chain's record holding a batch: what its most telling event is."""
    return kind_of_types({e.TYPE for e in events})


def kind_of_types(types: set[str]) -> str:
    """:func:`batch_kind` from the events' type tags."""
    if Settled.TYPE in types:
        return KIND_SETTLED
    if MemberFinished.TYPE in types:
        return KIND_FINISHED
    if RunOpened.TYPE in types or MemberJoined.TYPE in types:
        return KIND_OPENED
    return KIND_EVENTS


def check_run_names(run: RunRecord) -> None:
    if not run.run_id:
        raise InputError("a run id must not be empty")
    check_name_length(run.run_id, "the run id")
    check_name_length(run.project, "the project name")
    check_name_length(run.experiment, "the experiment name")
    for key, value in run.tags.items():
        check_name_length(str(key), f"tag name {str(key)[:40]!r}")
        check_name_length(str(value), f"the value of tag {str(key)[:40]!r}")


class Ingest:
    """Applies signed batches (the write side of a :class:`~carbonledger.ledger.Ledger`).

    ``head_signer`` gives the key that signs the chain's head after an append (the writing
    process's own; None: the head is left unsigned, as in an in-memory ledger).
    """

    def __init__(
        self,
        transport: Transport,
        head_signer: Callable[[], Signer | None],
        clock: Callable[[], float],
    ) -> None:
        self._t = transport
        self._head_signer = head_signer
        self._clock = clock
        self._lock = threading.Lock()
        self._device_refs: dict[tuple[str, str, str], int] = {}
        #: (run, member) -> (when its leases were last renewed, its lease TTL in s)
        self._beats: dict[tuple[str, str], tuple[float, float]] = {}
        self._lease_holders: set[tuple[str, str]] = set()

    # --- leases (coordination, not records) -------------------------------------------------

    def acquire_lease(self, run_id: str, key: str, member_id: str, ttl_s: float) -> bool:
        """Take (or renew) the lease ``key`` (e.g. ``host:node1:cpu``) for ``member_id``: True
        when this member holds it now; an expired lease may be taken over."""
        now = self._clock()
        with self._t.transaction(write=True) as tx:
            row = tx.one(
                "INSERT INTO leases (run_id, key, member_id, expires_unix_s) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (run_id, key) DO UPDATE SET "
                "member_id = excluded.member_id, expires_unix_s = excluded.expires_unix_s "
                "WHERE leases.expires_unix_s < ? OR leases.member_id = excluded.member_id "
                "RETURNING member_id",
                (run_id, key, member_id, now + float(ttl_s), now),
            )
        if row is not None:
            with self._lock:
                self._lease_holders.add((run_id, member_id))
                self._beats[(run_id, member_id)] = (now, float(ttl_s))
        return row is not None

    # --- batches ----------------------------------------------------------------------------

    def append(self, batches: Sequence[SignedBatch]) -> int:
        """Record ``batches`` in one transaction; returns how many were new."""
        decoded = []
        for signed in batches:
            try:
                batch = signed.decode()
            except DecodeError as exc:
                raise InputError(f"a batch cannot be recorded: {exc}") from None
            if signed.made is None and not signed.hash_ok:
                raise IntegrityError(
                    f"batch {batch.seq} of member {batch.member_id!r} of run {batch.run_id!r}: "
                    "its hash is not its body's; it was changed after it was made"
                )
            for event in batch.events:
                if isinstance(event, RunOpened):
                    check_run_names(event.run)
                elif isinstance(event, MemberFinished) and event.status == "running":
                    raise InputError(
                        f"batch {batch.seq} of member {batch.member_id!r} of run "
                        f"{batch.run_id!r}: a member ends completed, failed or interrupted, "
                        "not 'running'"
                    )
            decoded.append((signed, batch))
        if not decoded:
            return 0
        now = self._clock()
        applied = 0
        head_signer = self._head_signer()
        try:
            with self._t.transaction(write=True) as tx:
                # the chain's head first (locked where the dialect locks rows: a batch
                # another writer just added is then seen)
                p = Pass(tx, ChainAppender(tx, self._t.for_update))
                p.known = recorded(tx, [batch for _, batch in decoded])
                for signed, batch in decoded:
                    applied += self._apply(p, signed, batch, now)
                p.flush()
                p.chain.finish(head_signer)
        except BaseException:
            self._device_refs.clear()  # refs made in a transaction that did not commit
            raise
        return applied

    def _apply(self, p: Pass, signed: SignedBatch, batch: Batch, now: float) -> int:
        run_id, member_id = batch.run_id, batch.member_id
        key = (run_id, member_id, batch.seq)
        existing = p.known.get(key)
        if existing is not None:
            if existing == signed.hash:
                return 0  # already recorded (a second replay)
            raise IntegrityError(
                f"run {run_id!r}, member {member_id!r}: the ledger holds another batch "
                f"{batch.seq} than the one offered; two writers claim the same member"
            )
        tx = p.tx
        plain = all(type(e) in PLAIN for e in batch.events)
        if not plain:
            p.flush()  # what the events below read is in the tables
        settle = False
        if not plain or (run_id, member_id) not in p.running:
            settle = self._check_writer(tx, batch, p)
        p.chain.add(
            run_id=run_id,
            member_id=member_id,
            kind=batch_kind(batch.events),
            canonical=signed.body,
            signature=signed.signature,
            signer=signed.signer,
            now=now,
            member_seq=batch.seq,
            batch_hash=signed.hash,
            claimed_unix_s=batch.time_unix_s,
        )
        p.known[key] = signed.hash
        for event in batch.events:
            if isinstance(event, SamplesAdded):
                self._samples(p, batch, event.samples)
                self._renew(tx, run_id, member_id, batch.time_unix_s)
            elif isinstance(event, WindowEnded):
                self._window(p, batch, event.window)
            else:
                settle |= self._event(tx, batch, event)
        if settle:
            self._update_status(tx, run_id)
        if not plain:  # members, hosts and ends may have changed: ask again
            p.flush()
            p.running.clear()
            p.hosts.clear()
        return 1

    def _window(self, p: Pass, batch: Batch, w: WindowSummary) -> None:
        host = p.host(batch.run_id, batch.member_id)
        p.windows.append(
            (
                batch.run_id,
                batch.member_id,
                w.name,
                w.path,
                float(w.started_unix_s),
                float(w.duration_s),
                None if w.co2e_g is None else float(w.co2e_g),
                dumps([ce_to_dict(c, host) for c in w.components]),
                batch.seq,
                dumps(w.metrics) if w.metrics else None,
            )
        )

    def _check_writer(self, tx: Tx, batch: Batch, p: Pass) -> bool:
        """Refuse a member joining a run the ledger does not hold (without opening it), and
        the events of a member of a run it holds before the member joined; put a settled
        member that signs again back to running (its settlement is superseded). True when
        the run's status may change. (The batches of a run the ledger does not hold, such as
        a journal's tail replayed into another ledger, are kept as signed: they change no
        run.)"""
        run_id, member_id = batch.run_id, batch.member_id
        kinds = {type(e) for e in batch.events}
        row = tx.one(
            "SELECT m.status, m.finished_unix_s FROM runs r LEFT JOIN members m "
            "ON m.run_id = r.run_id AND m.member_id = ? WHERE r.run_id = ?",
            (member_id, run_id),
        )
        if row is None:
            if MemberJoined in kinds and RunOpened not in kinds:
                raise InputError(
                    f"batch {batch.seq} of member {member_id!r}: unknown run {run_id!r} in "
                    f"ledger {self._t.location}; a member joins a run its batch opens, or one "
                    "the ledger holds"
                )
            return False
        joined = row[0] is not None
        if not joined and MemberJoined not in kinds and kinds & _MEMBER_EVENTS:
            raise InputError(
                f"batch {batch.seq} of run {run_id!r}: member {member_id!r} has not joined it "
                "(its first batch joins it)"
            )
        if not joined or row[1] is None or kinds & {MemberFinished, Settled}:
            if joined and row[1] is None:
                p.running.add((run_id, member_id))  # its next plain batches need no asking
            return False
        own_end = tx.one(
            "SELECT 1 FROM seals WHERE run_id = ? AND member_id = ? AND kind = ? LIMIT 1",
            (run_id, member_id, KIND_FINISHED),
        )
        if own_end is not None:
            return False  # its own end stands
        tx.run(  # settled, and signing again: what it signs after the settlement decides
            "UPDATE members SET finished_unix_s = NULL, status = 'running', components = NULL, "
            "errors = '[]' WHERE run_id = ? AND member_id = ?",
            (run_id, member_id),
        )
        p.running.add((run_id, member_id))
        return True

    def _event(self, tx: Tx, batch: Batch, event: Event) -> bool:
        """Apply one event; True when the run's status may have changed."""
        match event:
            case Heartbeat():
                self._renew(tx, batch.run_id, batch.member_id, batch.time_unix_s)
            case MetaUpdated(meta=meta):
                row = tx.one(
                    "SELECT meta FROM runs WHERE run_id = ?" + self._t.for_update, (batch.run_id,)
                )
                if row is not None:
                    merged = {**loads(row[0], {}), **json.loads(dumps(meta))}
                    tx.run(
                        "UPDATE runs SET meta = ? WHERE run_id = ?", (dumps(merged), batch.run_id)
                    )
            case RunOpened(run=run):
                self._open_run(tx, run)
            case MemberJoined(member=member, lease_ttl_s=ttl_s):
                values: dict[str, Any] = {
                    "run_id": batch.run_id,
                    "member_id": batch.member_id,
                    "host": member.host,
                    "pid": int(member.pid),
                    "rank": member.rank,
                    "local_rank": member.local_rank,
                    "started_unix_s": float(member.started_unix_s),
                    "heartbeat_unix_s": batch.time_unix_s,
                    "lease_ttl_s": float(ttl_s),
                    "finished_unix_s": None,
                    "status": "running",
                    "components": None,
                    "errors": "[]",
                }
                tx.run(
                    f"INSERT INTO members ({', '.join(MEMBER_COLS)}) "
                    f"VALUES ({', '.join('?' * len(MEMBER_COLS))}) "
                    "ON CONFLICT (run_id, member_id) DO UPDATE SET "
                    "heartbeat_unix_s = excluded.heartbeat_unix_s, "
                    "lease_ttl_s = excluded.lease_ttl_s",
                    [values[c] for c in MEMBER_COLS],
                )
                with self._lock:
                    self._beats.setdefault(
                        (batch.run_id, batch.member_id), (batch.time_unix_s, float(ttl_s))
                    )
                return True
            case DevicesClaimed(devices=devices):
                host = member_host(tx, batch.run_id, batch.member_id)
                for info in devices:
                    claim = {
                        "component": info.component,
                        "device": info.device,
                        "host": host,
                        "method": info.method,
                        "measured": int(bool(info.measured)),
                        "model": info.model,
                        "uid": info.uid,
                    }
                    tx.run(
                        f"INSERT INTO devices (run_id, member_id, {', '.join(CLAIM_COLS)}) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (run_id, member_id, device) DO UPDATE SET "
                        "component = excluded.component, method = excluded.method, "
                        "measured = excluded.measured, model = excluded.model, uid = excluded.uid",
                        (batch.run_id, batch.member_id, *[claim[c] for c in CLAIM_COLS]),
                    )
            case MemberFinished():
                host = member_host(tx, batch.run_id, batch.member_id)
                tx.run(
                    "UPDATE members SET finished_unix_s = ?, heartbeat_unix_s = ?, status = ?, "
                    "components = ?, errors = ? WHERE run_id = ? AND member_id = ?",
                    (
                        event.finished_unix_s,
                        batch.time_unix_s,
                        event.status,
                        dumps([ce_to_dict(c, host) for c in event.components]),
                        dumps([str(e) for e in event.errors]),
                        batch.run_id,
                        batch.member_id,
                    ),
                )
                tx.run(
                    "DELETE FROM leases WHERE run_id = ? AND member_id = ?",
                    (batch.run_id, batch.member_id),
                )
                with self._lock:
                    self._beats.pop((batch.run_id, batch.member_id), None)
                    self._lease_holders.discard((batch.run_id, batch.member_id))
                return True
            case Settled():
                own_end = tx.one(
                    "SELECT seq FROM seals WHERE run_id = ? AND member_id = ? AND kind = ? LIMIT 1",
                    (batch.run_id, event.member_id, KIND_FINISHED),
                )
                if own_end is not None:
                    return False  # the member's own signed end wins
                row = tx.one(
                    "SELECT host FROM members WHERE run_id = ? AND member_id = ?",
                    (batch.run_id, event.member_id),
                )
                if row is None:
                    return False
                host = str(row[0])
                tx.run(
                    "UPDATE members SET finished_unix_s = ?, status = 'interrupted', "
                    "components = ?, errors = ? WHERE run_id = ? AND member_id = ?",
                    (
                        event.finished_unix_s,
                        dumps([ce_to_dict(c, host) for c in event.components]),
                        dumps([event.note] if event.note else []),  # what verify expects
                        batch.run_id,
                        event.member_id,
                    ),
                )
                tx.run(
                    "DELETE FROM leases WHERE run_id = ? AND member_id = ?",
                    (batch.run_id, event.member_id),
                )
                return True
        return False

    def _open_run(self, tx: Tx, run: RunRecord) -> None:
        values = {
            **{c: getattr(run, c) for c in START_COLS},
            "started_unix_s": float(run.started_unix_s),
            "intensity_g_per_kwh": float(run.intensity_g_per_kwh),
            "pue": float(run.pue),
        }
        row = {**values, "tags": dumps(run.tags), "meta": dumps(run.meta)}
        row.update(finished_unix_s=None, status="running", seal_seq=None)
        tx.run(
            f"INSERT INTO runs ({', '.join(RUN_COLS)}) "
            f"VALUES ({', '.join('?' * len(RUN_COLS))}) ON CONFLICT (run_id) DO NOTHING",
            [row[c] for c in RUN_COLS],
        )

    def _samples(self, p: Pass, batch: Batch, samples: Sequence[Any]) -> None:
        run_id, member_id = batch.run_id, batch.member_id
        refs = self._device_refs
        for s in samples:
            key = (run_id, member_id, s.device)
            ref = refs.get(key)
            if ref is None:
                ref = self._device_ref(p.tx, run_id, member_id, s)
            p.samples.append((ref, *sample_values(s), batch.seq))

    def _device_ref(self, tx: Tx, run_id: str, member_id: str, s: Any) -> int:
        host = s.host or member_host(tx, run_id, member_id)
        tx.run(
            "INSERT INTO devices (run_id, member_id, component, device, host, method, measured, "
            "model, uid) VALUES (?, ?, ?, ?, ?, 'unknown', 0, '', '') "
            "ON CONFLICT (run_id, member_id, device) DO NOTHING",
            (run_id, member_id, s.component, s.device, host),
        )
        row = tx.one(
            "SELECT device_ref FROM devices WHERE run_id = ? AND member_id = ? AND device = ?",
            (run_id, member_id, s.device),
        )
        assert row is not None
        ref = int(row[0])
        self._device_refs[(run_id, member_id, s.device)] = ref  # cleared if the tx rolls back
        return ref

    def _renew(self, tx: Tx, run_id: str, member_id: str, now: float) -> None:
        """Renew the expiry of the member's leases every third of its TTL."""
        key = (run_id, member_id)
        with self._lock:
            if key not in self._lease_holders:
                return
            last, ttl_s = self._beats.get(key, (0.0, 15.0))
            if now - last < ttl_s / 3.0:
                return
            self._beats[key] = (now, ttl_s)
        tx.run(
            "UPDATE leases SET expires_unix_s = ? WHERE run_id = ? AND member_id = ?",
            (now + ttl_s, run_id, member_id),
        )

    def _update_status(self, tx: Tx, run_id: str) -> None:
        rows = tx.rows("SELECT finished_unix_s, status FROM members WHERE run_id = ?", (run_id,))
        ms = [{"finished_unix_s": r[0], "status": r[1]} for r in rows]
        status, finished = status_of(ms)
        tx.run(
            "UPDATE runs SET status = ?, finished_unix_s = ? WHERE run_id = ?",
            (status, finished, run_id),
        )
