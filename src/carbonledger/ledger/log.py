"""The ledger's one chain of records: appending a row, and the chain's signed head.

Every record is a row of the ``seals`` table; ``record_hash = SHA-256(prev_hash ||
canonical)`` links it to the record before (see :mod:`~carbonledger.ledger.records`). A signed
batch becomes one record: its body is the canonical form, its signature the one its member
made where it measured (over the batch's own hash, :func:`carbonledger.events.batch_message`),
its signer that member's key. The chain's head (the last seq and hash) is signed by the
process that appended last, once per transaction, so that a deleted tail or a rolled-back copy
shows.
"""

from __future__ import annotations

import json
from typing import Any

from carbonledger.events import Signer
from carbonledger.ledger.records import GENESIS_HASH, head_message, record_hash
from carbonledger.ledger.rows import SEAL_COLS, dumps, insert_rows
from carbonledger.ledger.transports.base import Tx

__all__ = ["ChainAppender", "read_head"]


def read_head(tx: Tx, lock: str = "") -> tuple[str | None, dict[str, Any]]:
    """The stored head (its text, None when there is none) and its fields."""
    row = tx.one("SELECT value FROM carbonledger_meta WHERE key = 'seal_head'" + lock)
    text = None if row is None else str(row[0])
    try:
        head: dict[str, Any] = json.loads(text) if text else {}
    except ValueError:
        head = {}
    if not isinstance(head, dict) or "hash" not in head:
        head = {"seq": 0, "hash": GENESIS_HASH}
    return text, head


#: the columns of a record (a row of ``seals``), in the order :class:`ChainAppender` writes:
#: the sealed ones, then where the batch sits in its member's chain
RECORD_COLS = (*SEAL_COLS, "sealed_unix_s", "member_seq", "batch_hash", "claimed_unix_s")
_SEAL_ROW = "(" + ", ".join("?" * len(RECORD_COLS)) + ")"


class ChainAppender:
    """The records one transaction appends to the chain: the head is read once (locked where
    the dialect locks rows), each record is linked to the one before in memory, the records
    are inserted together (:meth:`flush`), and the new head is signed and written once
    (:meth:`finish`)."""

    def __init__(self, tx: Tx, lock: str = "") -> None:
        self._tx = tx
        self._head_text, head = read_head(tx, lock)
        self.seq = int(head["seq"])
        self.hash = str(head["hash"])
        self._rows: list[tuple[Any, ...]] = []
        self._appended = False

    def add(
        self,
        *,
        run_id: str,
        member_id: str,
        kind: str,
        canonical: str,
        signature: str,
        signer: str,
        now: float,
        member_seq: int | None = None,
        batch_hash: str | None = None,
        claimed_unix_s: float | None = None,
    ) -> int:
        """Link one record as the chain's next (inserted by :meth:`flush`); returns its seq."""
        seq = self.seq + 1
        digest = record_hash(self.hash, canonical)
        self._rows.append(
            (
                seq,
                run_id,
                kind,
                self.hash,
                digest,
                signature,
                canonical,
                member_id,
                signer,
                now,
                member_seq,
                batch_hash,
                claimed_unix_s,
            )
        )
        self.seq, self.hash = seq, digest
        self._appended = True
        return seq

    def flush(self) -> None:
        """Insert the records linked since the last flush."""
        rows, self._rows = self._rows, []
        insert_rows(
            self._tx, f"INSERT INTO seals ({', '.join(RECORD_COLS)}) VALUES ", _SEAL_ROW, rows
        )

    def finish(self, head_signer: Signer | None) -> None:
        """Flush, then sign and store the new head (nothing when no record was added)."""
        self.flush()
        if not self._appended:
            return
        new_head = dumps(
            {
                "seq": self.seq,
                "hash": self.hash,
                "signer": head_signer.public_hex if head_signer is not None else "",
                "signature": head_signer.sign(head_message(self.seq, self.hash))
                if head_signer is not None
                else "",
            }
        )
        if self._head_text is None:
            self._tx.run(
                "INSERT INTO carbonledger_meta (key, value) VALUES ('seal_head', ?)", (new_head,)
            )
        else:
            self._tx.run(
                "UPDATE carbonledger_meta SET value = ? WHERE key = 'seal_head'", (new_head,)
            )
        self._head_text = new_head
        self._appended = False
