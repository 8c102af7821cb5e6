"""Liveness: leases, heartbeats, and settling runs whose members stopped.

A run is ``running`` while a member is live (its heartbeat, or its last sample, younger than
its lease TTL). Reading never writes: :meth:`~carbonledger.ledger.queries.Queries.summary`
reports a run whose members all went silent as ``interrupted`` without recording it. Only a
writer records it (:meth:`Liveness.settle`, called by ``join``/``open_run`` and by
``carbonledger settle``), and then only what the silent member signed: each device's energy
at its last sample of a signed segment. A run no key vouches for (no signed ``start``
record) is never settled nor sealed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from carbonledger.errors import InputError, LedgerError
from carbonledger.ledger.records import FINAL_STATUSES
from carbonledger.ledger.rows import Tx, dumps, iso
from carbonledger.ledger.sealing import Sealing
from carbonledger.ledger.store import log

__all__ = ["ORPHAN_TTL_S", "Liveness"]

#: a run with no member at all is reported interrupted this long after it was opened
ORPHAN_TTL_S = 600.0


class Liveness(Sealing):
    """Leases, heartbeats, dead runs (a layer of :class:`~carbonledger.ledger.core.SqlLedger`)."""

    def acquire_lease(self, run_id: str, key: str, member_id: str, ttl_s: float) -> bool:
        self._writable()
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
        self._writable()
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
            if self._checkpoint_due(run_id, member_id, now):
                self._checkpoint(tx, run_id, member_id, now)
        self._beats[(run_id, member_id)] = (now, float(lease_ttl_s))

    def _renew(
        self, run: Callable[[str, Sequence[Any]], object], run_id: str, member_id: str, now: float
    ) -> None:
        """Renew a member's heartbeat row and the expiry of its leases with ``run`` (a
        transaction's ``tx.run``, or on SQLite autocommit statements after the tick's samples:
        liveness is the later of heartbeat and last sample, so they need not land together)."""
        run(
            "UPDATE members SET heartbeat_unix_s = ? "
            "WHERE run_id = ? AND member_id = ? AND finished_unix_s IS NULL",
            (now, run_id, member_id),
        )
        if (run_id, member_id) in self._lease_holders:
            run(
                "UPDATE leases SET expires_unix_s = ? + (SELECT lease_ttl_s FROM members "
                "WHERE run_id = ? AND member_id = ?) WHERE run_id = ? AND member_id = ?",
                (now, run_id, member_id, run_id, member_id),
            )

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

    def settle(self, run_id: str | None = None) -> list[str]:
        """Record (and seal) as ``interrupted`` every running run whose members all stopped
        (or only ``run_id``), from what their members signed; returns the runs settled. Runs
        no key vouches for are left as they are (``verify`` reports them)."""
        self._writable()
        now = self._clock()
        with self._transaction(write=False) as tx:
            if run_id is not None:
                ids = [run_id] if self._need_run(tx, run_id)["status"] == "running" else []
            else:
                ids = [
                    str(r[0]) for r in tx.rows("SELECT run_id FROM runs WHERE status = 'running'")
                ]
            dead = [
                r for r in ids if self._is_dead(self._need_run(tx, r), self._members(tx, r), now)
            ]
        settled = []
        for rid in dead:
            with self._transaction(write=True) as tx:
                run = self._need_run(tx, rid, lock=True)
                if not self._is_dead(run, self._members(tx, rid), now):
                    continue
                if not self._vouched(tx, rid):
                    log().warning(
                        "carbonledger: run %s is not settled: no key vouches for it (no signed "
                        "start record); 'carbonledger verify' reports it",
                        rid,
                    )
                    continue
                self._settle(tx, run, now)
                settled.append(rid)
        return settled

    def _settle_quietly(self) -> None:
        """:meth:`settle` for a writer's start: a failure is logged, never raised."""
        try:
            self.settle()
        except (LedgerError, InputError) as exc:
            log().info("carbonledger: dead runs not settled: %s", exc)

    def _vouched(self, tx: Tx, run_id: str) -> bool:
        """Whether a signed ``start`` record (or a legacy seal) exists for the run."""
        return (
            tx.one(
                "SELECT seq FROM seals WHERE run_id = ? AND kind IN ('start', 'seal') LIMIT 1",
                (run_id,),
            )
            is not None
        )

    def _signed_segment(self, tx: Tx, run_id: str, member_id: str) -> int | None:
        """The member's last signed segment (None: a legacy member, all its samples count)."""
        rows = tx.rows(
            "SELECT kind, canonical FROM seals WHERE run_id = ? AND member_id = ? "
            "ORDER BY seq DESC",
            (run_id, member_id),
        )
        if self._key_source is False:
            return None
        for kind, canonical in rows:
            if kind in ("checkpoint", "end"):
                return int(json.loads(canonical).get("seg", 0))
        return 0

    def _components_from_samples(
        self,
        tx: Tx,
        member: dict[str, Any],
        devices: Sequence[dict[str, Any]],
        max_seg: int | None = None,
    ) -> list[dict[str, Any]]:
        """Each device's energy at its newest sample (of segments up to ``max_seg``)."""
        out = []
        for d in devices:
            latest = self._latest_sample(tx, d["device_ref"], max_seg)
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
        reseal: bool = False,
    ) -> None:
        """Bring the run's status in line with its members (inside a write transaction)."""
        from carbonledger.ledger.records import reopen_document

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
                    doc = json.loads(reopen_document(run_id, now, joining or ""))
                    self._append_record(tx, run_id, "", doc, now)
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
            self._settle_member(tx, run_id, m, devices, now)
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
        self._seal_run(tx, run_id, now)

    def _settle_member(
        self, tx: Tx, run_id: str, m: dict[str, Any], devices: list[dict[str, Any]], now: float
    ) -> None:
        """Record a silent member as interrupted with the energy it signed."""
        signed = self._signed_segment(tx, run_id, m["member_id"])
        own = [d for d in devices if d["member_id"] == m["member_id"]]
        comps = self._components_from_samples(tx, m, own, signed)
        note = (
            f"{self._member_label(m)} stopped heart-beating at {iso(m['heartbeat_unix_s'])} "
            f"(lease TTL {m['lease_ttl_s']:g} s): energy up to its last "
            + ("sample" if signed is None else "signed checkpoint")
        )
        errors = [*m["errors"], note]
        tx.run(
            "UPDATE members SET finished_unix_s = ?, status = 'interrupted', components = ?, "
            "errors = ? WHERE run_id = ? AND member_id = ?",
            (m["heartbeat_unix_s"], dumps(comps), dumps(errors), run_id, m["member_id"]),
        )
        doc = {
            "kind": "end",
            "settled": True,
            "seg": signed or 0,
            "status": "interrupted",
            "finished_unix_s": m["heartbeat_unix_s"],
            "components": comps,
            "errors": errors,
        }
        self._member_record(tx, run_id, m["member_id"], doc, now)
        m["status"] = "interrupted"
        m["finished_unix_s"] = m["heartbeat_unix_s"]

    def _reseal_if_final(self, tx: Tx, run: dict[str, Any]) -> None:
        if run["status"] in FINAL_STATUSES:
            self._seal_run(tx, run["run_id"], self._clock())
