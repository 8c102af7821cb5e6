"""Signed records: the writer's key, appending to the hash chain, checkpoints and seals.

See :mod:`carbonledger.ledger.records` for the record format. Every write that changes what
a run claims appends a record signed by the writing process's key: ``open_run`` a ``start``,
``join`` a ``join``, ``register_devices`` a ``devices``, ``update_meta`` a ``meta``,
``finish_member`` an ``end`` (after a last ``checkpoint``). Samples and windows are covered
by a member's ``checkpoint`` records, each the digest of one *segment* (the ``seg`` column
of ``samples`` and ``windows``): one is written once ``checkpoint_interval_s`` has passed
since the last (on the next write), and at the member's end. A finished run gets a ``seal``.
A ledger opened without a key (``signing_key=False``, the in-memory one) writes no records.
"""

from __future__ import annotations

import json
from typing import Any

from carbonledger.errors import LedgerError
from carbonledger.ledger.keys import Signer, load_or_create_signing_key
from carbonledger.ledger.records import (
    GENESIS_HASH,
    canonical_json,
    head_message,
    record_hash,
    seal_document,
    segment_digest,
)
from carbonledger.ledger.rows import UNSEALED_MEMBER_COLS, Tx, dumps
from carbonledger.ledger.store import LedgerBase, Segment

__all__ = ["Sealing"]


class Sealing(LedgerBase):
    """Appending signed records (a layer of :class:`~carbonledger.ledger.core.SqlLedger`)."""

    def signer(self) -> Signer | None:
        """This writer's signing key (loaded on first use), or None for a ledger that signs
        nothing. :class:`LedgerError` when the key cannot be used (naming the fix)."""
        if self._signer is not None or self._key_source is False:
            return self._signer
        source = self._key_source
        self._signer = load_or_create_signing_key(source if isinstance(source, str) else None)
        return self._signer

    # --- the chain -----------------------------------------------------------------------

    def _head(self, tx: Tx, lock: bool = False) -> tuple[str | None, dict[str, Any]]:
        row = tx.one(
            "SELECT value FROM carbonledger_meta WHERE key = 'seal_head'"
            + (self._for_update if lock else ""),
        )
        text = None if row is None else str(row[0])
        head: dict[str, Any] = json.loads(text) if text else {"seq": 0, "hash": GENESIS_HASH}
        return text, head

    def _append_record(
        self, tx: Tx, run_id: str, member_id: str, doc: dict[str, Any], now: float
    ) -> str:
        """Append ``doc`` (with its ``kind``) as the chain's next record, signed; returns its
        hash ('' when this ledger signs nothing)."""
        key = self.signer()
        if key is None:
            return ""
        canonical = canonical_json({**doc, "run_id": run_id, "member_id": member_id})
        head_text, head = self._head(tx, lock=True)
        seq = int(head["seq"]) + 1
        digest = record_hash(str(head["hash"]), canonical)
        tx.run(
            "INSERT INTO seals (seq, run_id, kind, prev_hash, record_hash, signature, canonical, "
            "member_id, signer, sealed_unix_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                seq,
                run_id,
                str(doc["kind"]),
                str(head["hash"]),
                digest,
                key.sign(bytes.fromhex(digest)),
                canonical,
                member_id,
                key.public_hex,
                now,
            ),
        )
        if doc["kind"] == "seal":
            tx.run("UPDATE runs SET seal_seq = ? WHERE run_id = ?", (seq, run_id))
        new_head = dumps(
            {
                "seq": seq,
                "hash": digest,
                "signer": key.public_hex,
                "signature": key.sign(head_message(seq, digest)),
            }
        )
        if head_text is None:
            tx.run(
                "INSERT INTO carbonledger_meta (key, value) VALUES ('seal_head', ?)", (new_head,)
            )
        else:
            tx.run("UPDATE carbonledger_meta SET value = ? WHERE key = 'seal_head'", (new_head,))
        return digest

    # --- segments and checkpoints ---------------------------------------------------------

    def _segment(self, tx: Tx, run_id: str, member_id: str) -> Segment:
        """The member's open segment; for a member this object did not join, continued after
        the member's last record in the chain."""
        state = self._segments.get((run_id, member_id))
        if state is not None:
            return state
        rows = tx.rows(
            "SELECT kind, canonical, record_hash FROM seals WHERE run_id = ? AND member_id = ? "
            "ORDER BY seq DESC",
            (run_id, member_id),
        )
        seg = 1
        for kind, canonical, _ in rows:
            if kind in ("checkpoint", "end"):
                seg = int(json.loads(canonical).get("seg", 0)) + 1
                break
        prev = str(rows[0][2]) if rows else ""
        state = Segment(seg=seg, prev=prev, last_checkpoint_s=self._clock())
        self._segments[(run_id, member_id)] = state
        return state

    def _member_record(
        self, tx: Tx, run_id: str, member_id: str, doc: dict[str, Any], now: float
    ) -> None:
        """Append a record of the member's own chain (it names the member's previous one)."""
        state = self._segment(tx, run_id, member_id)
        digest = self._append_record(tx, run_id, member_id, {**doc, "prev": state.prev}, now)
        if digest:
            state.prev = digest

    def _checkpoint(self, tx: Tx, run_id: str, member_id: str, now: float) -> int:
        """Sign the member's open segment (when it holds anything); returns the last signed
        segment's number."""
        state = self._segment(tx, run_id, member_id)
        if state.samples or state.windows:
            doc = {
                "kind": "checkpoint",
                "seg": state.seg,
                "samples": len(state.samples),
                "windows": len(state.windows),
                "digest": segment_digest(state.samples, state.windows),
                "time_unix_s": now,
            }
            self._member_record(tx, run_id, member_id, doc, now)
            state.seg += 1
            state.samples = []
            state.windows = []
        state.last_checkpoint_s = now
        return state.seg - 1

    def _checkpoint_due(self, run_id: str, member_id: str, now: float) -> bool:
        state = self._segments.get((run_id, member_id))
        return (
            state is not None
            and self._key_source is not False
            and now - state.last_checkpoint_s >= self.checkpoint_interval_s
        )

    def checkpoint(self, run_id: str, member_id: str) -> None:
        """Sign what the member wrote since its last checkpoint now (the tracker need not call
        it: checkpoints are written on a time basis and at the member's end)."""
        self._writable()
        with self._transaction(write=True) as tx:
            self._checkpoint(tx, run_id, member_id, self._clock())

    # --- seals ---------------------------------------------------------------------------

    def _canonical(self, tx: Tx, run_id: str) -> str:
        run = self._need_run(tx, run_id)
        run.pop("seal_seq")
        members = []
        for m in self._members(tx, run_id):
            for col in UNSEALED_MEMBER_COLS:
                m.pop(col)
            members.append(m)
        windows = []
        for w in self._windows_rows(tx, run_id):
            w.pop("window_ref")
            w.pop("seg")
            windows.append(w)
        return seal_document(run, members, windows)

    def _seal_run(self, tx: Tx, run_id: str, now: float) -> None:
        doc = json.loads(self._canonical(tx, run_id))
        self._append_record(tx, run_id, "", doc, now)

    def signers(self) -> list[str]:
        """The public keys (hex) that signed records of this ledger."""
        with self._transaction(write=False) as tx:
            return [str(r[0]) for r in tx.rows("SELECT DISTINCT signer FROM seals ORDER BY 1")]

    def public_key(self) -> str | None:
        """This writer's public key (hex), or None for a ledger that signs nothing."""
        try:
            key = self.signer()
        except LedgerError:
            return None
        return None if key is None else key.public_hex
