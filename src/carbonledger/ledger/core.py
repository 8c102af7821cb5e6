"""The SQL ledger: every concern layered over the backend seam, and ``verify``.

:class:`SqlLedger` is :mod:`~carbonledger.ledger.store` (rows, state) +
:mod:`~carbonledger.ledger.sealing` (signed records) + :mod:`~carbonledger.ledger.liveness`
(leases, dead runs) + :mod:`~carbonledger.ledger.ingest` (writes) +
:mod:`~carbonledger.ledger.queries` (reads) + :meth:`SqlLedger.verify`. SQLite, PostgreSQL and
the in-memory ledger subclass it and provide only the transport.

Statuses: a run is ``running`` while a member is live (its heartbeat younger than its lease
TTL). When its last live member finishes it becomes ``completed``, or ``failed`` when a
member failed, or ``interrupted`` when a member was interrupted or stopped heart-beating.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from carbonledger.ledger.liveness import ORPHAN_TTL_S
from carbonledger.ledger.queries import Queries
from carbonledger.ledger.records import FINAL_STATUSES, window_doc
from carbonledger.ledger.rows import SEAL_COLS, Tx
from carbonledger.ledger.store import loads

# verify's checks load when verify runs, not with every writer (a tracker's start)
if TYPE_CHECKING:
    from carbonledger.ledger.audit import RunState
    from carbonledger.ledger.chain import VerifyReport

__all__ = ["ORPHAN_TTL_S", "SqlLedger", "Tx"]


class SqlLedger(Queries):
    """A ledger over SQL. Use :func:`~carbonledger.ledger.open_ledger`, or
    :class:`~carbonledger.ledger.sqlite.SqliteLedger`,
    :class:`~carbonledger.ledger.postgres.PostgresLedger`,
    :class:`~carbonledger.ledger.memory.MemoryLedger`."""

    def verify(
        self,
        keys: Iterable[str] | None = None,
        *,
        expect_head: str | None = None,
        use_trusted_file: bool = True,
    ) -> VerifyReport:
        """Check every record and every run (reads only).

        :param keys: trusted keys: files holding public key PEM blocks, fingerprints
            (``SHA256:...``) or hex public keys; with the user's trusted-keys file (unless
            ``use_trusted_file=False``) they anchor the check. Without any, only consistency
            with the keys the ledger names itself is checked (``report.anchored`` False).
        :param expect_head: ``COUNT:HASH`` published earlier: a rolled back or truncated
            ledger is then reported.
        """
        from carbonledger.ledger.audit import check_runs
        from carbonledger.ledger.chain import (
            SealRow,
            VerifyReport,
            check_chain,
            check_expected_head,
            parse_head,
        )
        from carbonledger.ledger.keys import fingerprint, load_trusted_keys

        trusted_list, sources = load_trusted_keys(list(keys or ()), user_file=use_trusted_file)
        trusted = set(trusted_list) if trusted_list else None
        if expect_head is not None:
            parse_head(expect_head)
        with self._transaction(write=False) as tx:
            seals = [
                SealRow(*row)
                for row in tx.rows(f"SELECT {', '.join(SEAL_COLS)} FROM seals ORDER BY seq")
            ]
            row = tx.one("SELECT value FROM carbonledger_meta WHERE key = 'seal_head'")
            head = loads(row[0], {}) if row else None
            if head is not None and int(head.get("seq", 0)) == 0 and not head.get("signature"):
                head = None  # the empty chain of a new ledger
            row = tx.one("SELECT value FROM carbonledger_meta WHERE key = 'public_key'")
            legacy = str(row[0]) if row else ""
            runs = [self._run_state(tx, str(r[0])) for r in tx.rows("SELECT run_id FROM runs")]
        problems, good = check_chain(seals, head, legacy, trusted)
        if legacy and not seals:
            from carbonledger.ledger.chain import Problem

            problems.append(
                Problem("ledger", "deleted", "the ledger holds a public key but no records")
            )
        notes: list[str] = []
        problems += check_runs(runs, [s for s in seals if s.seq in good], notes)
        if expect_head is not None:
            problems += check_expected_head(expect_head, seals)
        top = seals[-1] if seals else None
        signers = sorted({fingerprint(s.signer or legacy) for s in seals if (s.signer or legacy)})
        return VerifyReport(
            location=self.location,
            ok=not problems,
            records=len(seals),
            runs=len(runs),
            head=f"{top.seq}:{top.record_hash}" if top else "",
            anchored=trusted is not None,
            trusted_sources=sources,
            signers=signers,
            problems=_dedupe(problems),
            notes=notes,
        )

    def _run_state(self, tx: Tx, run_id: str) -> RunState:
        from carbonledger.ledger.audit import RunState

        run = self._need_run(tx, run_id)
        final = run["status"] in FINAL_STATUSES
        state = RunState(row=run, canonical=self._canonical(tx, run_id) if final else None)
        state.members = self._members(tx, run_id)
        state.devices = self._devices(tx, run_id)
        rows = tx.rows(
            "SELECT d.member_id, s.seg, d.device, s.time_unix_s, s.energy_j, s.power_w, "
            "s.low_j, s.high_j FROM samples s JOIN devices d ON d.device_ref = s.device_ref "
            "WHERE d.run_id = ? ORDER BY d.member_id, s.seg, s.time_unix_s, d.device",
            (run_id,),
        )
        for (member_id, seg), group in groupby(rows, key=itemgetter(0, 1)):
            key = (str(member_id), _seg(seg))
            state.segments.setdefault(key, ([], []))[0].extend([r[2:] for r in group])
        for w in self._windows_rows(tx, run_id):
            key = (str(w["member_id"]), _seg(w["seg"]))
            state.segments.setdefault(key, ([], []))[1].append(window_doc(w))
        return state


def _seg(value: Any) -> int:
    """A row's segment; 0 for none (rows of schema 1, or written behind the ledger's back)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _dedupe(problems: list[Any]) -> list[Any]:
    """One problem per (record, kind); their details joined."""
    from carbonledger.ledger.chain import Problem

    merged: dict[tuple[str, str], list[str]] = {}
    kinds: dict[tuple[str, str], Any] = {}
    for p in problems:
        details = merged.setdefault((p.ref, p.kind), [])
        kinds[(p.ref, p.kind)] = p.kind
        if p.detail not in details:
            details.append(p.detail)
    return [Problem(ref, kinds[(ref, k)], "; ".join(d)) for (ref, k), d in merged.items()]
