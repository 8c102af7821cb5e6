"""The ledger's one chain of records: appending a row, and the chain's signed head.

Every record is a row of the ``seals`` table; ``record_hash = SHA-256(prev_hash ||
canonical)`` links it to the record before (see :mod:`~carbonledger.ledger.records`). A signed
batch becomes one record: its body is the canonical form, its signature the one its member
made where it measured (over the batch's own hash, :func:`carbonledger.events.batch_message`),
its signer that member's key. The chain's head (the last seq and hash) is signed by the
process that appended last, so that a deleted tail or a rolled-back copy shows.
"""

from __future__ import annotations

import json
from typing import Any

from carbonledger.events import Signer
from carbonledger.ledger.records import GENESIS_HASH, head_message, record_hash
from carbonledger.ledger.rows import dumps
from carbonledger.ledger.transports.base import Tx

__all__ = ["append_record", "read_head"]


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


def append_record(
    tx: Tx,
    lock: str,
    *,
    run_id: str,
    member_id: str,
    kind: str,
    canonical: str,
    signature: str,
    signer: str,
    now: float,
    head_signer: Signer | None,
    member_seq: int | None = None,
    batch_hash: str | None = None,
    claimed_unix_s: float | None = None,
) -> int:
    """Append one record as the chain's next and sign the new head; returns its seq."""
    head_text, head = read_head(tx, lock)
    seq = int(head["seq"]) + 1
    digest = record_hash(str(head["hash"]), canonical)
    tx.run(
        "INSERT INTO seals (seq, run_id, kind, prev_hash, record_hash, signature, canonical, "
        "member_id, signer, sealed_unix_s, member_seq, batch_hash, claimed_unix_s) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            seq,
            run_id,
            kind,
            str(head["hash"]),
            digest,
            signature,
            canonical,
            member_id,
            signer,
            now,
            member_seq,
            batch_hash,
            claimed_unix_s,
        ),
    )
    new_head = dumps(
        {
            "seq": seq,
            "hash": digest,
            "signer": head_signer.public_hex if head_signer is not None else "",
            "signature": head_signer.sign(head_message(seq, digest))
            if head_signer is not None
            else "",
        }
    )
    if head_text is None:
        tx.run("INSERT INTO carbonledger_meta (key, value) VALUES ('seal_head', ?)", (new_head,))
    else:
        tx.run("UPDATE carbonledger_meta SET value = ? WHERE key = 'seal_head'", (new_head,))
    return seq
