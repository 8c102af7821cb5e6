"""The ledger's logic, written once over a small SQL seam; SQLite and PostgreSQL subclass it.

A backend provides :meth:`SqlLedger._transaction` (a context manager yielding a
:class:`Tx`: a write transaction takes the database's write lock at once) and
:meth:`SqlLedger._private_key` (where the signing key lives). Everything else — members,
leases, samples, statuses, sealing, summaries, verify — is here.

Statuses: a run is ``running`` while a member is live (its heartbeat younger than its lease
TTL). When its last live member finishes it becomes ``completed``, or ``failed`` when a
member failed, or ``interrupted`` when a member was interrupted or stopped heart-beating;
a run whose members all stopped heart-beating is ``interrupted`` with the energy of their
last samples. A finished run is sealed (see :mod:`carbonledger.ledger.seal`).
"""

from __future__ import annotations

import _thread
import time

from carbonledger import _fastjson as json
from carbonledger.errors import InputError, LedgerError
from carbonledger.ledger.base import MemberRecord, RunRecord
from carbonledger.ledger.seal import (
    FINAL_STATUSES,
    GENESIS_HASH,
    RunState,
    SealRow,
    VerifyReport,
    check,
    head_message,
    public_key_hex,
    record_hash,
    reopen_document,
    seal_document,
    sign,
)
from carbonledger.models import (
    ComponentEnergy,
    RunSummary,
    Sample,
    SensorInfo,
    WindowSummary,
)
from carbonledger.units import co2e_g

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Iterator, Sequence
    from contextlib import AbstractContextManager
    from typing import Any

    from carbonledger.models import RunStatus

    Row = tuple[Any, ...]


if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from carbonledger.ledger.seal import SigningKey

__all__ = ["ORPHAN_TTL_S", "SqlLedger", "Tx"]


def _log() -> logging.Logger:
    """The "carbonledger.ledger" logger (logging is imported only when something is logged)."""
    import logging

    return logging.getLogger("carbonledger.ledger")


#: a run with no member at all is reported interrupted this long after it was opened
ORPHAN_TTL_S = 600.0

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
SEAL_COLS = ("seq", "run_id", "kind", "prev_hash", "record_hash", "signature", "canonical")
#: liveness columns: not part of a sealed record
_UNSEALED_MEMBER_COLS = ("heartbeat_unix_s", "lease_ttl_s")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def _iso(t: float) -> str:
    from datetime import datetime, timezone  # only in a message: ~4 ms of imports

    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat(timespec="seconds")


_INSERT_SAMPLES = (
    "INSERT INTO samples (device_ref, time_unix_s, energy_j, power_w, low_j, high_j) VALUES "
)
_SAMPLE_ROW = "(?, ?, ?, ?, ?, ?)"
_insert_sql: dict[int, str] = {}


def _insert_samples_sql(rows: int) -> str:
    """The INSERT of ``rows`` samples (the same string object each time: SQLite's statement
    cache finds it by equality, and a string made once hashes once)."""
    sql = _insert_sql.get(rows)
    if sql is None:
        sql = _insert_sql.setdefault(rows, _INSERT_SAMPLES + ", ".join([_SAMPLE_ROW] * rows))
    return sql


def _sample_row(ref: int, s: Sample) -> tuple[Any, ...]:
    """The values of a ``samples`` row (:data:`_SAMPLE_ROW`) for sample ``s`` of device
    ``ref``; estimate bounds, where ``s`` carries them, as ``low_j``/``high_j``."""
    power = s.power_w
    low = getattr(s, "low_j", None)
    high = getattr(s, "high_j", None)
    return (
        ref,
        float(s.time_unix_s),
        float(s.energy_j),
        None if power is None else float(power),
        None if low is None else float(low),
        None if high is None else float(high),
    )


class Tx:
    """One open transaction: run SQL written with ``?`` placeholders."""

    def __init__(self, cursor: Any, paramstyle: str = "qmark") -> None:
        self._cur = cursor
        self._pyformat = paramstyle != "qmark"

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self._pyformat else sql

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        self._cur.execute(self._sql(sql), tuple(params))
        return int(self._cur.rowcount)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        self._cur.execute(self._sql(sql), tuple(params))
        return [tuple(r) for r in self._cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        self._cur.execute(self._sql(sql), tuple(params))
        row = self._cur.fetchone()
        return None if row is None else tuple(row)

    def many(self, sql: str, seq: Sequence[Sequence[Any]]) -> None:
        if seq:
            self._cur.executemany(self._sql(sql), seq)


def _ce_to_dict(c: ComponentEnergy, host: str = "") -> dict[str, Any]:
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


def _ce_from_dict(d: dict[str, Any], host: str = "") -> ComponentEnergy:
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


def _merge_components(
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
        methods = sorted({c.method for c in cs})
        energy = sum(c.energy_j for c in cs)
        low = None if measured else sum(c.low_j if c.low_j is not None else c.energy_j for c in cs)
        high = (
            None if measured else sum(c.high_j if c.high_j is not None else c.energy_j for c in cs)
        )
        span = max(end for _, _, end in items) - min(start for _, start, _ in items)
        out.append(
            ComponentEnergy(
                component=first.component,
                device=first.device,
                method="+".join(methods),
                measured=measured,
                energy_j=energy,
                duration_s=max(span, 0.0),
                low_j=low,
                high_j=high,
                model=next((c.model for c in cs if c.model), ""),
                host=first.host,
            )
        )
    return tuple(sorted(out, key=lambda c: (c.host, c.component, c.device)))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class SqlLedger:
    """A ledger over SQL. Use :class:`~carbonledger.ledger.sqlite.SqliteLedger` or
    :class:`~carbonledger.ledger.postgres.PostgresLedger` (or :func:`open_ledger`)."""

    location: str
    #: ``FOR UPDATE`` where the database locks rows on read (PostgreSQL); SQLite's write
    #: transactions already hold the database's write lock
    _for_update: str = ""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = _thread.RLock()
        self._device_refs: dict[tuple[str, str, str], int] = {}
        self._lease_holders: set[tuple[str, str]] = set()  # (run, member) holding leases here
        #: (run, member) -> (time of the last heartbeat written, the member's lease TTL in s)
        self._beats: dict[tuple[str, str], tuple[float, float]] = {}
        self._signing_key: SigningKey | None = None

    # --- backend seam --------------------------------------------------------------------

    #: a renewal of heartbeat and leases as autocommit statements after the samples (SQLite:
    #: fewer steps) rather than one transaction with them (a server: fewer round trips)
    _RENEWS_APART = False

    def _transaction(self, write: bool) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _append(self, sql: str, params: Sequence[Any]) -> None:
        """Run one write statement as a transaction of its own (a sampler tick's INSERT).

        Backends may do it with fewer round trips than :meth:`_transaction`'s
        BEGIN/statement/COMMIT (SQLite: one autocommit statement)."""
        with self._transaction(write=True) as tx:
            tx.run(sql, params)

    def _private_key(self, tx: Tx, public_hex: str | None) -> SigningKey:
        """The ledger's signing key; created when ``public_hex`` is None (no key yet)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> SqlLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- rows ----------------------------------------------------------------------------

    def _run_row(self, tx: Tx, run_id: str, lock: bool = False) -> dict[str, Any] | None:
        row = tx.one(
            f"SELECT {', '.join(RUN_COLS)} FROM runs WHERE run_id = ?"
            + (self._for_update if lock else ""),
            (run_id,),
        )
        if row is None:
            return None
        d = dict(zip(RUN_COLS, row, strict=True))
        d["tags"] = json.loads(d["tags"])
        d["meta"] = json.loads(d["meta"])
        return d

    def _need_run(self, tx: Tx, run_id: str, lock: bool = False) -> dict[str, Any]:
        run = self._run_row(tx, run_id, lock)
        if run is None:
            raise InputError(
                f"unknown run {run_id!r} in ledger {self.location}; "
                "list runs with 'carbonledger runs'"
            )
        return run

    def _members(self, tx: Tx, run_id: str) -> list[dict[str, Any]]:
        """The members of a run. A running member's ``heartbeat_unix_s`` is the later of its
        last heartbeat and its last sample: :meth:`add_samples` renews the heartbeat row
        only every third of the lease TTL, each sample is a sign of life too."""
        rows = tx.rows(
            f"SELECT {', '.join('m.' + c for c in MEMBER_COLS)}, "
            "(SELECT MAX(s.time_unix_s) FROM devices d JOIN samples s "
            "ON s.device_ref = d.device_ref WHERE d.run_id = m.run_id "
            "AND d.member_id = m.member_id) "
            "FROM members m WHERE m.run_id = ? ORDER BY m.started_unix_s, m.member_id",
            (run_id,),
        )
        out = []
        for *cols, last_sample in rows:
            d = dict(zip(MEMBER_COLS, cols, strict=True))
            if d["finished_unix_s"] is None and last_sample is not None:
                d["heartbeat_unix_s"] = max(float(d["heartbeat_unix_s"]), float(last_sample))
            d["components"] = None if d["components"] is None else json.loads(d["components"])
            d["errors"] = json.loads(d["errors"])
            out.append(d)
        return out

    def _windows_rows(self, tx: Tx, run_id: str) -> list[dict[str, Any]]:
        rows = tx.rows(
            f"SELECT {', '.join(WINDOW_COLS)} FROM windows WHERE run_id = ? "
            "ORDER BY started_unix_s, window_ref",
            (run_id,),
        )
        out = []
        for row in rows:
            d = dict(zip(WINDOW_COLS, row, strict=True))
            d["components"] = json.loads(d["components"])
            out.append(d)
        return out

    def _devices(self, tx: Tx, run_id: str) -> list[dict[str, Any]]:
        rows = tx.rows(
            f"SELECT {', '.join(DEVICE_COLS)} FROM devices WHERE run_id = ? ORDER BY device_ref",
            (run_id,),
        )
        return [dict(zip(DEVICE_COLS, row, strict=True)) for row in rows]

    def _latest_sample(self, tx: Tx, device_ref: int) -> Row | None:
        return tx.one(
            "SELECT time_unix_s, energy_j, power_w, low_j, high_j FROM samples "
            "WHERE device_ref = ? ORDER BY time_unix_s DESC LIMIT 1",
            (device_ref,),
        )

    @staticmethod
    def _record(run: dict[str, Any]) -> RunRecord:
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

    # --- the Ledger protocol -------------------------------------------------------------

    def open_run(self, run: RunRecord) -> RunRecord:
        if not run.run_id:
            raise InputError("a run id must not be empty")
        with self._transaction(write=True) as tx:
            tx.run(
                f"INSERT INTO runs ({', '.join(RUN_COLS)}) "
                f"VALUES ({', '.join('?' * len(RUN_COLS))}) ON CONFLICT (run_id) DO NOTHING",
                (
                    run.run_id,
                    run.project,
                    run.experiment,
                    _dumps(run.tags),
                    float(run.started_unix_s),
                    None,
                    run.scope,
                    run.location,
                    run.location_source,
                    float(run.intensity_g_per_kwh),
                    run.intensity_source,
                    float(run.pue),
                    run.pue_source,
                    _dumps(run.meta),
                    "running",
                    None,
                ),
            )
            stored = self._need_run(tx, run.run_id)
        return self._record(stored)

    def join(self, member: MemberRecord, lease_ttl_s: float) -> None:
        now = self._clock()
        with self._transaction(write=True) as tx:
            run = self._need_run(tx, member.run_id, lock=True)
            tx.run(
                f"INSERT INTO members ({', '.join(MEMBER_COLS)}) "
                f"VALUES ({', '.join('?' * len(MEMBER_COLS))}) "
                "ON CONFLICT (run_id, member_id) DO UPDATE SET "
                "heartbeat_unix_s = excluded.heartbeat_unix_s, lease_ttl_s = excluded.lease_ttl_s",
                (
                    member.run_id,
                    member.member_id,
                    member.host,
                    int(member.pid),
                    member.rank,
                    member.local_rank,
                    float(member.started_unix_s),
                    now,
                    float(lease_ttl_s),
                    None,
                    "running",
                    None,
                    "[]",
                ),
            )
            self._settle(tx, run, now, joining=member.member_id)
        self._beats[(member.run_id, member.member_id)] = (now, float(lease_ttl_s))

    def acquire_lease(self, run_id: str, key: str, member_id: str, ttl_s: float) -> bool:
        now = self._clock()
        with self._transaction(write=True) as tx:
            row = tx.one(
                "INSERT INTO leases (run_id, key, member_id, expires_unix_s) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (run_id, key) DO UPDATE SET "
                "member_id = excluded.member_id, expires_unix_s = excluded.expires_unix_s "
                "WHERE leases.expires_unix_s < ? OR leases.member_id = excluded.member_id "
                "RETURNING member_id",
                (run_id, key, member_id, now + float(ttl_s), now),
            )
        if row is not None:
            self._lease_holders.add((run_id, member_id))
        return row is not None

    def heartbeat(self, run_id: str, member_id: str, lease_ttl_s: float) -> None:
        now = self._clock()
        with self._transaction(write=True) as tx:
            tx.run(
                "UPDATE members SET heartbeat_unix_s = ?, lease_ttl_s = ? "
                "WHERE run_id = ? AND member_id = ? AND finished_unix_s IS NULL",
                (now, float(lease_ttl_s), run_id, member_id),
            )
            tx.run(
                "UPDATE leases SET expires_unix_s = ? WHERE run_id = ? AND member_id = ?",
                (now + float(lease_ttl_s), run_id, member_id),
            )
        self._beats[(run_id, member_id)] = (now, float(lease_ttl_s))

    def register_devices(self, run_id: str, member_id: str, infos: Sequence[SensorInfo]) -> None:
        """Record how each of a member's devices is read (method, measured, model), so the
        summary of a run still in progress, or interrupted, labels its sample-based energy."""
        with self._transaction(write=True) as tx:
            host = self._member_host(tx, run_id, member_id)
            for info in infos:
                tx.run(
                    "INSERT INTO devices (run_id, member_id, component, device, host, method, "
                    "measured, model, uid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (run_id, member_id, device) DO UPDATE SET "
                    "component = excluded.component, method = excluded.method, "
                    "measured = excluded.measured, model = excluded.model, uid = excluded.uid",
                    (
                        run_id,
                        member_id,
                        info.component,
                        info.device,
                        host,
                        info.method,
                        int(bool(info.measured)),
                        info.model,
                        info.uid,
                    ),
                )

    def _member_host(self, tx: Tx, run_id: str, member_id: str) -> str:
        row = tx.one(
            "SELECT host FROM members WHERE run_id = ? AND member_id = ?", (run_id, member_id)
        )
        if row is None:
            raise InputError(
                f"member {member_id!r} has not joined run {run_id!r} in ledger {self.location}; "
                "call join() first"
            )
        return str(row[0])

    def add_samples(self, run_id: str, member_id: str, samples: Sequence[Sample]) -> None:
        """Append samples in one transaction. A sample may carry cumulative estimate bounds
        as ``low_j``/``high_j`` attributes (None for measurements).

        The member's heartbeat (and the expiry of its leases) is renewed with them once a
        third of its lease TTL has passed since the last renewal: a sampler tick between
        renewals is a single INSERT (on SQLite a renewal is two more autocommit statements,
        see :meth:`_renew`), so the sampler thread asks for the interpreter (and the disk) as
        rarely as it can.
        """
        now = self._clock()
        beat = self._beats.get((run_id, member_id))
        due = beat is not None and now - beat[0] >= beat[1] / 3.0
        if beat is not None and (self._RENEWS_APART or not due) and 0 < len(samples) <= 64:
            refs = self._device_refs
            values: list[Any] = []
            for s in samples:
                ref = refs.get((run_id, member_id, s.device))
                if ref is None:  # a device new to the ledger: the transaction below
                    break
                values += _sample_row(ref, s)
            else:
                self._append(_insert_samples_sql(len(samples)), values)
                if due:
                    self._renew(self._append, run_id, member_id, now)
                    self._beats[(run_id, member_id)] = (now, beat[1])
                return
        with self._transaction(write=True) as tx:
            fresh: dict[tuple[str, str, str], int] = {}
            rows = []
            for s in samples:
                key = (run_id, member_id, s.device)
                ref = self._device_refs.get(key) or fresh.get(key)
                if ref is None:
                    ref = self._device_ref(tx, run_id, member_id, s)
                    fresh[key] = ref
                rows.append(_sample_row(ref, s))
            if len(rows) <= 64:  # a sampler tick: one statement (one step, not one per row)
                if rows:
                    tx.run(
                        _INSERT_SAMPLES + ", ".join([_SAMPLE_ROW] * len(rows)),
                        [value for row in rows for value in row],
                    )
            else:  # bulk ingest
                tx.many(_INSERT_SAMPLES + _SAMPLE_ROW, rows)
            self._renew(tx.run, run_id, member_id, now)
        self._device_refs.update(fresh)
        if beat is not None:
            self._beats[(run_id, member_id)] = (now, beat[1])

    def _renew(
        self, run: Callable[[str, Sequence[Any]], object], run_id: str, member_id: str, now: float
    ) -> None:
        """Renew a member's heartbeat row and the expiry of its leases, with ``run``: a
        transaction's ``tx.run``, or (SQLite, ``_RENEWS_APART``) :meth:`_append`, each an
        autocommit statement of its own after the tick's samples: two steps where a
        transaction around the three would take five, each a wait for the interpreter lock
        for a sampler beside a busy thread. Nothing depends on them landing together: a
        member's liveness is the later of its heartbeat and its last sample, and a lease
        renewed late only expires sooner (it is renewed a third of the TTL ahead)."""
        run(
            "UPDATE members SET heartbeat_unix_s = ? "
            "WHERE run_id = ? AND member_id = ? AND finished_unix_s IS NULL",
            (now, run_id, member_id),
        )
        if (run_id, member_id) in self._lease_holders:  # only members holding leases
            run(
                "UPDATE leases SET expires_unix_s = ? + (SELECT lease_ttl_s FROM members "
                "WHERE run_id = ? AND member_id = ?) WHERE run_id = ? AND member_id = ?",
                (now, run_id, member_id, run_id, member_id),
            )

    def _device_ref(self, tx: Tx, run_id: str, member_id: str, s: Sample) -> int:
        host = s.host or self._member_host(tx, run_id, member_id)
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
        return int(row[0])

    def add_window(self, run_id: str, member_id: str, window: WindowSummary) -> None:
        with self._transaction(write=True) as tx:
            run = self._need_run(tx, run_id, lock=True)
            host = self._member_host(tx, run_id, member_id)
            tx.run(
                "INSERT INTO windows (run_id, member_id, name, path, started_unix_s, duration_s, "
                "co2e_g, components) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    member_id,
                    window.name,
                    window.path,
                    float(window.started_unix_s),
                    float(window.duration_s),
                    None if window.co2e_g is None else float(window.co2e_g),
                    _dumps([_ce_to_dict(c, host) for c in window.components]),
                ),
            )
            self._reseal_if_final(tx, run)

    def finish_member(
        self,
        run_id: str,
        member_id: str,
        components: Sequence[ComponentEnergy],
        status: RunStatus,
        errors: Sequence[str] = (),
    ) -> None:
        if status not in FINAL_STATUSES:
            raise InputError(
                f"a member finishes as one of {', '.join(FINAL_STATUSES)}, not {status!r}"
            )
        now = self._clock()
        with self._transaction(write=True) as tx:
            run = self._need_run(tx, run_id, lock=True)
            host = self._member_host(tx, run_id, member_id)
            tx.run(
                "UPDATE members SET finished_unix_s = ?, heartbeat_unix_s = ?, status = ?, "
                "components = ?, errors = ? WHERE run_id = ? AND member_id = ?",
                (
                    now,
                    now,
                    status,
                    _dumps([_ce_to_dict(c, host) for c in components]),
                    _dumps([str(e) for e in errors]),
                    run_id,
                    member_id,
                ),
            )
            tx.run("DELETE FROM leases WHERE run_id = ? AND member_id = ?", (run_id, member_id))
            self._settle(tx, run, now, reseal=True)

    def update_meta(self, run_id: str, meta: dict[str, Any]) -> None:
        with self._transaction(write=True) as tx:
            run = self._need_run(tx, run_id, lock=True)
            merged = {**run["meta"], **meta}
            tx.run("UPDATE runs SET meta = ? WHERE run_id = ?", (_dumps(merged), run_id))
            self._reseal_if_final(tx, run)

    def run_record(self, run_id: str) -> RunRecord:
        with self._transaction(write=False) as tx:
            return self._record(self._need_run(tx, run_id))

    def resolve_run_id(self, prefix: str) -> str:
        """The run id that is ``prefix`` or starts with it (InputError when none or several)."""
        with self._transaction(write=False) as tx:
            if tx.one("SELECT run_id FROM runs WHERE run_id = ?", (prefix,)) is not None:
                return prefix
            rows = tx.rows(
                "SELECT run_id FROM runs WHERE substr(run_id, 1, length(?)) = ? "
                "ORDER BY run_id LIMIT 6",
                (prefix, prefix),
            )
        if not rows:
            raise InputError(
                f"unknown run {prefix!r} in ledger {self.location}; "
                "list runs with 'carbonledger runs'"
            )
        if len(rows) > 1:
            names = ", ".join(r[0] for r in rows[:5]) + (", ..." if len(rows) > 5 else "")
            raise InputError(f"run prefix {prefix!r} is ambiguous: {names}; give more characters")
        return str(rows[0][0])

    def summary(self, run_id: str) -> RunSummary:
        self._settle_if_dead(run_id)
        now = self._clock()
        with self._transaction(write=False) as tx:
            run = self._need_run(tx, run_id)
            return self._summary(tx, run, now)

    def windows(self, run_id: str) -> list[WindowSummary]:
        with self._transaction(write=False) as tx:
            self._need_run(tx, run_id)
            members = {m["member_id"]: m for m in self._members(tx, run_id)}
            return self._merged_windows(self._windows_rows(tx, run_id), members)

    def list_runs(self, project: str | None = None, limit: int | None = None) -> list[RunSummary]:
        sql = "SELECT run_id FROM runs"
        params: list[Any] = []
        if project is not None:
            sql += " WHERE project = ?"
            params.append(project)
        sql += " ORDER BY started_unix_s DESC, run_id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(int(limit))
        with self._transaction(write=False) as tx:
            ids = [str(r[0]) for r in tx.rows(sql, params)]
        out = []
        for run_id in ids:
            try:
                out.append(self.summary(run_id))
            except InputError:  # deleted meanwhile
                continue
        return out

    def iter_run_ids(self, project: str | None = None) -> Iterator[str]:
        """Every run id, oldest first (for exports)."""
        sql = "SELECT run_id FROM runs"
        params: list[Any] = []
        if project is not None:
            sql += " WHERE project = ?"
            params.append(project)
        with self._transaction(write=False) as tx:
            ids = [str(r[0]) for r in tx.rows(sql + " ORDER BY started_unix_s, run_id", params)]
        yield from ids

    # --- statuses ------------------------------------------------------------------------

    @staticmethod
    def _live(member: dict[str, Any], now: float) -> bool:
        return bool(
            member["finished_unix_s"] is None
            and member["heartbeat_unix_s"] + member["lease_ttl_s"] >= now
        )

    def _is_dead(self, run: dict[str, Any], members: list[dict[str, Any]], now: float) -> bool:
        """A running run none of whose members is live any more."""
        if run["status"] != "running":
            return False
        if not members:
            return bool(now - run["started_unix_s"] > ORPHAN_TTL_S)
        return not any(self._live(m, now) for m in members)

    def _settle_if_dead(self, run_id: str) -> None:
        """Persist (and seal) ``interrupted`` for a run whose members all stopped."""
        now = self._clock()
        with self._transaction(write=False) as tx:
            run = self._need_run(tx, run_id)
            if not self._is_dead(run, self._members(tx, run_id), now):
                return
        try:
            with self._transaction(write=True) as tx:
                run = self._need_run(tx, run_id, lock=True)
                if self._is_dead(run, self._members(tx, run_id), now):
                    self._settle(tx, run, now, seal_required=True)
        except LedgerError as exc:  # read-only ledger, or no signing key here: report only
            _log().info(
                "carbonledger: run %s not marked interrupted in the ledger: %s", run_id, exc
            )

    def _member_components_from_samples(
        self, tx: Tx, member: dict[str, Any], devices: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        out = []
        for d in devices:
            latest = self._latest_sample(tx, d["device_ref"])
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

    def _settle(
        self,
        tx: Tx,
        run: dict[str, Any],
        now: float,
        *,
        joining: str | None = None,
        seal_required: bool = False,
        reseal: bool = False,
    ) -> None:
        """Bring the run's status in line with its members (inside a write transaction)."""
        run_id = run["run_id"]
        members = self._members(tx, run_id)
        if any(self._live(m, now) for m in members):
            if run["status"] != "running":  # a member joined a finished run: reopen it
                tx.run(
                    "UPDATE runs SET status = 'running', finished_unix_s = NULL, seal_seq = NULL "
                    "WHERE run_id = ?",
                    (run_id,),
                )
                if run["seal_seq"] is not None:
                    self._append_seal(
                        tx,
                        run_id,
                        "reopen",
                        reopen_document(run_id, now, joining or ""),
                        now,
                        required=seal_required,
                    )
            return
        if not members and now - run["started_unix_s"] <= ORPHAN_TTL_S:
            return
        unfinished = any(m["finished_unix_s"] is None for m in members)
        if run["status"] in FINAL_STATUSES and not unfinished and not reseal:
            return  # nothing changed
        devices = self._devices(tx, run_id)
        for m in members:
            if m["finished_unix_s"] is not None:
                continue
            own = [d for d in devices if d["member_id"] == m["member_id"]]
            comps = self._member_components_from_samples(tx, m, own)
            note = (
                f"{self._member_label(m)} stopped heart-beating at {_iso(m['heartbeat_unix_s'])} "
                f"(lease TTL {m['lease_ttl_s']:g} s): energy up to its last sample"
            )
            tx.run(
                "UPDATE members SET finished_unix_s = ?, status = 'interrupted', components = ?, "
                "errors = ? WHERE run_id = ? AND member_id = ?",
                (
                    m["heartbeat_unix_s"],
                    _dumps(comps),
                    _dumps([*m["errors"], note]),
                    run_id,
                    m["member_id"],
                ),
            )
            m["status"] = "interrupted"
            m["finished_unix_s"] = m["heartbeat_unix_s"]
        statuses = {m["status"] for m in members}
        status = (
            "failed"
            if "failed" in statuses
            else "interrupted"
            if "interrupted" in statuses or not members
            else "completed"
        )
        finished = max((m["finished_unix_s"] for m in members), default=now)
        tx.run(
            "UPDATE runs SET status = ?, finished_unix_s = ? WHERE run_id = ?",
            (status, finished, run_id),
        )
        self._seal_run(tx, run_id, now, required=seal_required)

    def _reseal_if_final(self, tx: Tx, run: dict[str, Any]) -> None:
        if run["status"] in FINAL_STATUSES:
            self._seal_run(tx, run["run_id"], self._clock(), required=False)

    @staticmethod
    def _member_label(m: dict[str, Any]) -> str:
        if m["rank"] is not None:
            return f"rank {m['rank']} ({m['host']}, pid {m['pid']})"
        return f"{m['host']} pid {m['pid']}"

    # --- sealing -------------------------------------------------------------------------

    def _canonical(self, tx: Tx, run_id: str) -> str:
        run = self._need_run(tx, run_id)
        run.pop("seal_seq")
        members = []
        for m in self._members(tx, run_id):
            for col in _UNSEALED_MEMBER_COLS:
                m.pop(col)
            members.append(m)
        windows = []
        for w in self._windows_rows(tx, run_id):
            w.pop("window_ref")
            windows.append(w)
        return seal_document(run, members, windows)

    def _seal_run(self, tx: Tx, run_id: str, now: float, *, required: bool) -> None:
        self._append_seal(tx, run_id, "seal", self._canonical(tx, run_id), now, required=required)

    def _meta_value(self, tx: Tx, key: str, lock: bool = False) -> str | None:
        row = tx.one(
            "SELECT value FROM carbonledger_meta WHERE key = ?"
            + (self._for_update if lock else ""),
            (key,),
        )
        return None if row is None else str(row[0])

    def _append_seal(
        self, tx: Tx, run_id: str, kind: str, canonical: str, now: float, *, required: bool
    ) -> None:
        head_text = self._meta_value(tx, "seal_head", lock=True)
        head: dict[str, Any] = (
            json.loads(head_text) if head_text else {"seq": 0, "hash": GENESIS_HASH}
        )
        try:
            key = self._key(tx)
        except LedgerError as exc:
            if required:
                raise
            _log().warning("carbonledger: run %s recorded without a seal: %s", run_id, exc)
            return
        seq = int(head["seq"]) + 1
        digest = record_hash(str(head["hash"]), canonical)
        tx.run(
            f"INSERT INTO seals ({', '.join(SEAL_COLS)}, sealed_unix_s) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                run_id,
                kind,
                str(head["hash"]),
                digest,
                sign(key, bytes.fromhex(digest)),
                canonical,
                now,
            ),
        )
        if kind == "seal":
            tx.run("UPDATE runs SET seal_seq = ? WHERE run_id = ?", (seq, run_id))
        new_head = _dumps(
            {"seq": seq, "hash": digest, "signature": sign(key, head_message(seq, digest))}
        )
        if head_text is None:
            tx.run(
                "INSERT INTO carbonledger_meta (key, value) VALUES ('seal_head', ?)", (new_head,)
            )
        else:
            tx.run("UPDATE carbonledger_meta SET value = ? WHERE key = 'seal_head'", (new_head,))

    def _key(self, tx: Tx) -> SigningKey:
        public = self._meta_value(tx, "public_key")
        key = self._signing_key
        if key is None:
            key = self._private_key(tx, public)
        own = public_key_hex(key)
        if public is None:
            tx.run("INSERT INTO carbonledger_meta (key, value) VALUES ('public_key', ?)", (own,))
        elif own != public:
            raise LedgerError(
                f"the signing key of ledger {self.location} does not match the public key stored "
                "in it; restore the ledger's own key file (new runs cannot be sealed meanwhile)"
            )
        self._signing_key = key
        return key

    def public_key(self) -> str | None:
        """The ledger's Ed25519 public key (hex), or None before the first seal."""
        with self._transaction(write=False) as tx:
            return self._meta_value(tx, "public_key")

    def verify(self) -> VerifyReport:
        """Check every seal and every finished run (reads only)."""
        with self._transaction(write=False) as tx:
            seals = [
                SealRow(*row)
                for row in tx.rows(f"SELECT {', '.join(SEAL_COLS)} FROM seals ORDER BY seq")
            ]
            head_text = self._meta_value(tx, "seal_head")
            head = json.loads(head_text) if head_text else None
            if head is not None and int(head.get("seq", 0)) == 0 and not head.get("signature"):
                head = None  # the empty chain of a new ledger
            public = self._meta_value(tx, "public_key")
            states = []
            for run_id, status, seal_seq in tx.rows(
                "SELECT run_id, status, seal_seq FROM runs ORDER BY run_id"
            ):
                canonical = self._canonical(tx, run_id) if status in FINAL_STATUSES else None
                states.append(RunState(run_id, status, seal_seq, canonical))
        problems = check(seals, head, public, states)
        return VerifyReport(
            location=self.location,
            ok=not problems,
            seals=len(seals),
            runs=sum(1 for s in states if s.canonical is not None),
            public_key=public or "",
            problems=problems,
        )

    # --- summaries -----------------------------------------------------------------------

    def _merged_windows(
        self, rows: Sequence[dict[str, Any]], members: dict[str, dict[str, Any]]
    ) -> list[WindowSummary]:
        """Windows of the same path recorded by several members (each rank's ``epoch-1``)
        become one window: the k-th occurrence of a path in each member is merged."""
        seen: dict[tuple[str, str], int] = {}
        groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for w in sorted(rows, key=lambda r: (r["member_id"], r["started_unix_s"], r["window_ref"])):
            k = seen.get((w["member_id"], w["path"]), 0)
            seen[(w["member_id"], w["path"])] = k + 1
            groups.setdefault((w["path"], k), []).append(w)
        out = []
        for ws in groups.values():
            start = min(w["started_unix_s"] for w in ws)
            end = max(w["started_unix_s"] + w["duration_s"] for w in ws)
            co2 = [w["co2e_g"] for w in ws]
            comps: list[ComponentEnergy] = []
            for w in ws:
                host = members.get(w["member_id"], {}).get("host", "")
                comps.extend(_ce_from_dict(c, host) for c in w["components"])
            out.append(
                WindowSummary(
                    name=ws[0]["name"],
                    path=ws[0]["path"],
                    started_unix_s=start,
                    duration_s=end - start,
                    components=tuple(comps),
                    co2e_g=None if any(c is None for c in co2) else float(sum(co2)),
                )
            )
        out.sort(key=lambda w: (w.started_unix_s, w.path))
        return out

    def _summary(self, tx: Tx, run: dict[str, Any], now: float) -> RunSummary:
        run_id = run["run_id"]
        members = self._members(tx, run_id)
        devices = self._devices(tx, run_id)
        parts: list[tuple[ComponentEnergy, float, float]] = []
        durations = []
        errors: list[str] = []
        for m in members:
            start = float(m["started_unix_s"])
            if m["components"] is not None:
                comps = [_ce_from_dict(c, m["host"]) for c in m["components"]]
                end = float(m["finished_unix_s"] or m["heartbeat_unix_s"])
            else:
                own = [d for d in devices if d["member_id"] == m["member_id"]]
                comps = [_ce_from_dict(c) for c in self._member_components_from_samples(tx, m, own)]
                end = max([float(m["heartbeat_unix_s"])] + [start + c.duration_s for c in comps])
            durations.append(max(0.0, end - start))
            parts.extend((c, start, start + c.duration_s) for c in comps)
            label = self._member_label(m) + ": " if len(members) > 1 else ""
            errors.extend(label + e for e in m["errors"])
        status = run["status"]
        if self._is_dead(run, members, now):
            status = "interrupted"
        components = _merge_components(parts)
        meta = run["meta"]
        energy_j = sum(c.energy_j for c in components)
        market = _number(meta.get("market_g_per_kwh"))
        # hourly intensity (set by the tracker at stop) overrides the yearly figure
        intensity = float(run["intensity_g_per_kwh"])
        intensity_source = str(run["intensity_source"])
        hourly = meta.get("hourly")
        if isinstance(hourly, dict) and _number(hourly.get("intensity_g_per_kwh")) is not None:
            intensity = float(hourly["intensity_g_per_kwh"])
            intensity_source = str(hourly.get("source") or intensity_source)
        extra: dict[str, Any] = {
            "tags": run["tags"],
            "meta": meta,
            "finished_unix_s": run["finished_unix_s"],
            "members": [
                {
                    "member_id": m["member_id"],
                    "host": m["host"],
                    "pid": m["pid"],
                    "rank": m["rank"],
                    "local_rank": m["local_rank"],
                    "status": m["status"],
                    "started_unix_s": m["started_unix_s"],
                    "finished_unix_s": m["finished_unix_s"],
                    "heartbeat_unix_s": m["heartbeat_unix_s"],
                }
                for m in members
            ],
        }
        if isinstance(meta.get("forecast"), dict):
            extra["forecast"] = meta["forecast"]
        return RunSummary(
            run_id=run_id,
            project=run["project"],
            experiment=run["experiment"],
            status=status,
            started_unix_s=run["started_unix_s"],
            duration_s=max(durations, default=0.0),
            components=components,
            intensity_g_per_kwh=intensity,
            intensity_source=intensity_source,
            location=run["location"],
            location_source=run["location_source"],
            pue=run["pue"],
            pue_source=run["pue_source"],
            windows=tuple(
                self._merged_windows(
                    self._windows_rows(tx, run_id), {m["member_id"]: m for m in members}
                )
            ),
            errors=tuple(errors),
            embodied_co2e_g=_number(meta.get("embodied_co2e_g")),
            market_co2e_g=None if market is None else co2e_g(energy_j, market, run["pue"]),
            scope=run["scope"],
            hosts=tuple(sorted({m["host"] for m in members})),
            extra=extra,
        )
