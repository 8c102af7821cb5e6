"""Liveness: which runs go on, and settling those whose members went silent.

A run is ``running`` while a member has not ended (signed its ``MemberFinished``, or been
settled). A member that signs nothing for longer than its lease TTL is silent; a run whose
members are all ended or silent reads ``interrupted`` to every reader, who records nothing.

Only a writer records it: :meth:`Liveness.settle` (``carbonledger settle``, and a tracker's
start) appends, for each silent member, a signed ``Settled`` event in a batch of the settler's
own: who settled (its key and id), when, and what it saw (the member's last batch, its number
and hash, and each device's energy at its last signed sample). A settlement never overrides a
signed end: a member's own ``MemberFinished``, received before or after, decides its status.
Runs recorded before signed batches (schema 2) are left as they are.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from carbonledger.errors import LedgerError
from carbonledger.events import MemberChain, Settled, Signer, new_member_id
from carbonledger.ledger import state
from carbonledger.ledger.ingest import Ingest
from carbonledger.ledger.rows import ce_from_dict, iso
from carbonledger.ledger.transports.base import Transport, Tx

__all__ = ["ORPHAN_TTL_S", "Liveness"]

#: a run with no member at all is reported interrupted this long after it was opened
ORPHAN_TTL_S = 600.0

log = logging.getLogger("carbonledger.ledger")


def is_dead(run: dict[str, Any], members: list[dict[str, Any]], now: float) -> bool:
    """A run that has not ended but none of whose members is live."""
    if state.status_of(members)[0] != "running":
        return False
    if not members:
        return bool(now - float(run["started_unix_s"]) > ORPHAN_TTL_S)
    return not any(state.live(m, now) for m in members)


class Liveness:
    """Settling silent members (a part of :class:`~carbonledger.ledger.Ledger`)."""

    def __init__(
        self,
        transport: Transport,
        ingest: Ingest,
        settler: Callable[[], Signer | None],
        clock: Callable[[], float],
    ) -> None:
        self._t = transport
        self._ingest = ingest
        self._settler = settler
        self._clock = clock

    def settle(self, run_id: str | None = None) -> list[str]:
        """Record as interrupted every silent member of every run that has not ended (or of
        ``run_id`` only), signed by this writer's key; returns the runs settled."""
        now = self._clock()
        plans: list[tuple[str, list[Settled]]] = []
        with self._t.transaction(write=False) as tx:
            if run_id is not None:
                state.need_run(tx, run_id, self._t.location)
                ids = [run_id]
            else:
                ids = [
                    str(r[0]) for r in tx.rows("SELECT run_id FROM runs WHERE status = 'running'")
                ]
            for rid in ids:
                settled = self._plan(tx, rid, now)
                if settled:
                    plans.append((rid, settled))
        if not plans:
            return []
        signer = self._settler()
        if signer is None:
            raise LedgerError(
                "settling needs a signing key to sign the settlement; see 'carbonledger keys'"
            )
        done = []
        for rid, settled in plans:
            chain = MemberChain(rid, f"settle-{new_member_id()}", signer, clock=self._clock)
            self._ingest.append([chain.make(settled)])
            done.append(rid)
        return done

    def _plan(self, tx: Tx, run_id: str, now: float) -> list[Settled]:
        """The settlements a run needs now (none when a member is live)."""
        run = state.run_row(tx, run_id)
        if run is None:
            return []
        members = state.members(tx, run_id)
        if not is_dead(run, members, now):
            return []
        old = [m for m in members if not m["signed"]]
        if old:
            log.info(
                "carbonledger: run %s was recorded by an older carbonledger; it is not settled",
                run_id,
            )
            return []
        devices = state.devices(tx, run_id)
        out = []
        for m in members:
            if m["finished_unix_s"] is not None:
                continue
            mid = str(m["member_id"])
            own = [d for d in devices if d["member_id"] == mid]
            comps = state.components_from_samples(tx, m, own)
            top = tx.one(
                "SELECT member_seq, batch_hash, claimed_unix_s FROM seals WHERE run_id = ? AND "
                "member_id = ? AND member_seq IS NOT NULL ORDER BY member_seq DESC LIMIT 1",
                (run_id, mid),
            )
            if top is None:
                continue
            last_time = min(float(top[2]), now)
            note = (
                f"{state.member_label(m)} stopped signing at {iso(last_time)} (lease TTL "
                f"{float(m['lease_ttl_s']):g} s): settled with its energy up to its last signed "
                f"sample (batch {int(top[0])})"
            )
            out.append(
                Settled(
                    member_id=mid,
                    last_seq=int(top[0]),
                    last_hash=str(top[1]),
                    components=tuple(ce_from_dict(c) for c in comps),
                    finished_unix_s=last_time,
                    note=note,
                )
            )
        return out
