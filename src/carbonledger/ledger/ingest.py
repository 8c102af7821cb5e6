"""What a tracker writes: runs, members, device claims, samples, windows, ends, meta.

Each call is one transaction committed before it returns. A sampler tick is one ``INSERT``
of its samples (tagged with the member's open segment, see
:mod:`~carbonledger.ledger.sealing`); the heartbeat row and lease expiry are renewed with the
first tick after a third of the lease TTL, and a signed checkpoint is written with the first
write after ``checkpoint_interval_s``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from carbonledger.errors import InputError
from carbonledger.ledger.base import MemberRecord, RunRecord
from carbonledger.ledger.liveness import Liveness
from carbonledger.ledger.records import FINAL_STATUSES, window_doc
from carbonledger.ledger.rows import (
    CLAIM_COLS,
    JOIN_COLS,
    MEMBER_COLS,
    RUN_COLS,
    START_COLS,
    Tx,
    ce_to_dict,
    dumps,
    sample_values,
)
from carbonledger.ledger.store import Segment
from carbonledger.models import (
    ComponentEnergy,
    RunStatus,
    Sample,
    SensorInfo,
    WindowSummary,
    check_name_length,
)

__all__ = ["Ingest"]

_INSERT_SAMPLES = (
    "INSERT INTO samples (device_ref, time_unix_s, energy_j, power_w, low_j, high_j, seg) VALUES "
)
_SAMPLE_ROW = "(?, ?, ?, ?, ?, ?, ?)"
_insert_sql: dict[int, str] = {}


def _insert_samples_sql(rows: int) -> str:
    """The INSERT of ``rows`` samples (the same string each time, for statement caches)."""
    sql = _insert_sql.get(rows)
    if sql is None:
        sql = _insert_sql.setdefault(rows, _INSERT_SAMPLES + ", ".join([_SAMPLE_ROW] * rows))
    return sql


def _check_run_names(run: RunRecord) -> None:
    if not run.run_id:
        raise InputError("a run id must not be empty")
    check_name_length(run.run_id, "the run id")
    check_name_length(run.project, "the project name")
    check_name_length(run.experiment, "the experiment name")
    for key, value in run.tags.items():
        check_name_length(str(key), f"tag name {str(key)[:40]!r}")
        check_name_length(str(value), f"the value of tag {str(key)[:40]!r}")


class Ingest(Liveness):
    """The writes of the Ledger protocol (a layer of :class:`~carbonledger.ledger.core.SqlLedger`)."""

    def open_run(self, run: RunRecord) -> RunRecord:
        _check_run_names(run)
        self._writable()
        self.signer()  # an unusable key is an error before anything is written
        values = {
            **{c: getattr(run, c) for c in START_COLS},
            "started_unix_s": float(run.started_unix_s),
            "intensity_g_per_kwh": float(run.intensity_g_per_kwh),
            "pue": float(run.pue),
        }
        row = {**values, "tags": dumps(run.tags), "meta": dumps(run.meta)}
        row.update(finished_unix_s=None, status="running", seal_seq=None)
        with self._transaction(write=True) as tx:
            created = tx.run(
                f"INSERT INTO runs ({', '.join(RUN_COLS)}) "
                f"VALUES ({', '.join('?' * len(RUN_COLS))}) ON CONFLICT (run_id) DO NOTHING",
                [row[c] for c in RUN_COLS],
            )
            stored = self._need_run(tx, run.run_id)
            if created == 1:
                start = {c: stored[c] for c in START_COLS}
                self._append_record(
                    tx, run.run_id, "", {"kind": "start", "run": start}, self._clock()
                )
        return self._record(stored)

    def join(self, member: MemberRecord, lease_ttl_s: float) -> None:
        self._writable()
        self.signer()
        now = self._clock()
        with self._transaction(write=True) as tx:
            run = self._need_run(tx, member.run_id, lock=True)
            values = {
                "run_id": member.run_id,
                "member_id": member.member_id,
                "host": member.host,
                "pid": int(member.pid),
                "rank": member.rank,
                "local_rank": member.local_rank,
                "started_unix_s": float(member.started_unix_s),
                "heartbeat_unix_s": now,
                "lease_ttl_s": float(lease_ttl_s),
                "finished_unix_s": None,
                "status": "running",
                "components": None,
                "errors": "[]",
            }
            tx.run(
                f"INSERT INTO members ({', '.join(MEMBER_COLS)}) "
                f"VALUES ({', '.join('?' * len(MEMBER_COLS))}) "
                "ON CONFLICT (run_id, member_id) DO UPDATE SET "
                "heartbeat_unix_s = excluded.heartbeat_unix_s, lease_ttl_s = excluded.lease_ttl_s",
                [values[c] for c in MEMBER_COLS],
            )
            doc = {"kind": "join", "member": {c: values[c] for c in JOIN_COLS}}
            self._member_record(tx, member.run_id, member.member_id, doc, now)
            self._settle(tx, run, now, joining=member.member_id)
        self._beats[(member.run_id, member.member_id)] = (now, float(lease_ttl_s))
        self._settle_quietly()  # other runs whose members all stopped

    def register_devices(self, run_id: str, member_id: str, infos: Sequence[SensorInfo]) -> None:
        """Record how each of a member's devices is read (method, measured, model): a signed
        claim, so the energy of a run in progress, or interrupted, keeps its labels."""
        self._writable()
        now = self._clock()
        with self._transaction(write=True) as tx:
            host = self._member_host(tx, run_id, member_id)
            claims = []
            for info in infos:
                claim = {
                    "component": info.component,
                    "device": info.device,
                    "host": host,
                    "method": info.method,
                    "measured": int(bool(info.measured)),
                    "model": info.model,
                    "uid": info.uid,
                }
                claims.append(claim)
                tx.run(
                    f"INSERT INTO devices (run_id, member_id, {', '.join(CLAIM_COLS)}) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (run_id, member_id, device) DO UPDATE SET "
                    "component = excluded.component, method = excluded.method, "
                    "measured = excluded.measured, model = excluded.model, uid = excluded.uid",
                    (run_id, member_id, *[claim[c] for c in CLAIM_COLS]),
                )
            self._member_record(tx, run_id, member_id, {"kind": "devices", "devices": claims}, now)

    def add_samples(self, run_id: str, member_id: str, samples: Sequence[Sample]) -> None:
        """Append samples in one transaction. A sample may carry cumulative estimate bounds
        as ``low_j``/``high_j`` attributes (None for measurements)."""
        self._writable()
        now = self._clock()
        key = (run_id, member_id)
        beat = self._beats.get(key)
        state = self._segments.get(key)
        due = beat is not None and now - beat[0] >= beat[1] / 3.0
        fast = self._RENEWS_APART or not due
        if beat is not None and state is not None and fast and 0 < len(samples) <= 64:
            # under the lock: a checkpoint from another thread must not fall between the
            # INSERT and the segment's record of it
            with self._lock:
                if self._fast_append(run_id, member_id, samples, state, now):
                    if due:
                        self._renew(self._append, run_id, member_id, now)
                        self._beats[key] = (now, beat[1])
                    if self._checkpoint_due(run_id, member_id, now):
                        with self._transaction(write=True) as tx:
                            self._checkpoint(tx, run_id, member_id, now)
                    return
        self._add_samples_tx(run_id, member_id, samples, now)
        if beat is not None:
            self._beats[key] = (now, beat[1])

    def _fast_append(
        self, run_id: str, member_id: str, samples: Sequence[Sample], state: Segment, now: float
    ) -> bool:
        """One INSERT of a tick's samples of known devices (False: a device is new)."""
        refs = self._device_refs
        values: list[Any] = []
        digest_rows = []
        for s in samples:
            ref = refs.get((run_id, member_id, s.device))
            if ref is None:  # a device new to the ledger: the transaction path
                return False
            v = sample_values(s)
            values += (ref, *v, state.seg)
            digest_rows.append([s.device, *v])
        self._append(_insert_samples_sql(len(samples)), values)
        state.samples.extend(digest_rows)
        return True

    def _add_samples_tx(
        self, run_id: str, member_id: str, samples: Sequence[Sample], now: float
    ) -> None:
        with self._transaction(write=True) as tx:
            state = self._segment(tx, run_id, member_id)
            fresh: dict[tuple[str, str, str], int] = {}
            rows = []
            digest_rows = []
            for s in samples:
                key = (run_id, member_id, s.device)
                ref = self._device_refs.get(key) or fresh.get(key)
                if ref is None:
                    ref = self._device_ref(tx, run_id, member_id, s)
                    fresh[key] = ref
                v = sample_values(s)
                rows.append((ref, *v, state.seg))
                digest_rows.append([s.device, *v])
            if len(rows) <= 64:  # a sampler tick: one statement
                if rows:
                    tx.run(_insert_samples_sql(len(rows)), [x for row in rows for x in row])
            else:  # bulk ingest
                tx.many(_INSERT_SAMPLES + _SAMPLE_ROW, rows)
            self._renew(tx.run, run_id, member_id, now)
            state.samples.extend(digest_rows)
            if self._checkpoint_due(run_id, member_id, now):
                self._checkpoint(tx, run_id, member_id, now)
        self._device_refs.update(fresh)

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
        self._writable()
        now = self._clock()
        with self._transaction(write=True) as tx:
            run = self._need_run(tx, run_id, lock=True)
            host = self._member_host(tx, run_id, member_id)
            state = self._segment(tx, run_id, member_id)
            row = {
                "name": window.name,
                "path": window.path,
                "started_unix_s": float(window.started_unix_s),
                "duration_s": float(window.duration_s),
                "co2e_g": None if window.co2e_g is None else float(window.co2e_g),
                "components": [ce_to_dict(c, host) for c in window.components],
            }
            tx.run(
                "INSERT INTO windows (run_id, member_id, name, path, started_unix_s, duration_s, "
                "co2e_g, components, seg) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    member_id,
                    row["name"],
                    row["path"],
                    row["started_unix_s"],
                    row["duration_s"],
                    row["co2e_g"],
                    dumps(row["components"]),
                    state.seg,
                ),
            )
            state.windows.append(window_doc(row))
            final = run["status"] in FINAL_STATUSES
            if final or self._checkpoint_due(run_id, member_id, now):
                self._checkpoint(tx, run_id, member_id, now)
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
        self._writable()
        now = self._clock()
        with self._transaction(write=True) as tx:
            run = self._need_run(tx, run_id, lock=True)
            host = self._member_host(tx, run_id, member_id)
            comps = [ce_to_dict(c, host) for c in components]
            errs = [str(e) for e in errors]
            tx.run(
                "UPDATE members SET finished_unix_s = ?, heartbeat_unix_s = ?, status = ?, "
                "components = ?, errors = ? WHERE run_id = ? AND member_id = ?",
                (now, now, status, dumps(comps), dumps(errs), run_id, member_id),
            )
            tx.run("DELETE FROM leases WHERE run_id = ? AND member_id = ?", (run_id, member_id))
            seg = self._checkpoint(tx, run_id, member_id, now)
            doc = {
                "kind": "end",
                "seg": seg,
                "status": status,
                "finished_unix_s": now,
                "components": comps,
                "errors": errs,
            }
            self._member_record(tx, run_id, member_id, doc, now)
            self._settle(tx, run, now, reseal=True)
        self._segments.pop((run_id, member_id), None)
        self._beats.pop((run_id, member_id), None)

    def update_meta(self, run_id: str, meta: dict[str, Any]) -> None:
        self._writable()
        with self._transaction(write=True) as tx:
            run = self._need_run(tx, run_id, lock=True)
            meta = json.loads(dumps(meta))  # as stored: what the signed record says
            merged = {**run["meta"], **meta}
            tx.run("UPDATE runs SET meta = ? WHERE run_id = ?", (dumps(merged), run_id))
            self._append_record(tx, run_id, "", {"kind": "meta", "meta": meta}, self._clock())
            self._reseal_if_final(tx, run)
