"""Signed records: their canonical form, the hash chain, and the digest of a segment.

Every record is one row of the ``seals`` table, appended to ONE hash chain per ledger:

* ``canonical``: sorted-key compact JSON with ``kind``, ``run_id`` and ``member_id``; floats
  are written by ``repr`` so they round-trip;
* ``record_hash = SHA-256(prev_hash || canonical)``, ``prev_hash`` the previous record's hash
  (64 zero hex digits for the first record): a hash chain, numbered ``seq = 1, 2, ...``;
* ``signature = Ed25519(record_hash)`` by the key of the process that wrote the record; the
  record names its ``signer`` (public key, hex). The chain's head (last seq and hash) is
  stored and signed too.

Kinds: ``start`` (a run's record as opened: project, location, intensity, PUE, meta),
``join`` (a member: host, pid, ranks), ``devices`` (a member's device claims),
``checkpoint`` (a member's samples and windows of one segment, by digest), ``end`` (a
member's final energy and status; also written, marked ``settled``, by a writer that settles
a dead member from what it had signed), ``meta`` (keys merged into the run's meta),
``seal`` (a finished run's whole record) and ``reopen`` (a member joined a finished run).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

__all__ = [
    "GENESIS_HASH",
    "canonical_json",
    "head_message",
    "record_hash",
    "reopen_document",
    "seal_document",
    "segment_digest",
]

#: the ``prev_hash`` of a ledger's first record
GENESIS_HASH = "0" * 64

#: statuses of a finished run: such a run must carry a seal
FINAL_STATUSES = ("completed", "failed", "interrupted")

_HEAD_TAG = b"carbonledger-seal-head\x00"


def canonical_json(doc: Any) -> str:
    """Sorted-key, compact JSON; floats via ``repr`` (what :mod:`json` does)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(prev_hash: str, canonical: str) -> str:
    """``SHA-256(prev_hash || canonical)`` as hex (``prev_hash`` as its 32 raw bytes)."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical.encode("utf-8")).hexdigest()


def head_message(seq: int, head_hash: str) -> bytes:
    """What the chain head's signature covers."""
    return _HEAD_TAG + seq.to_bytes(8, "big") + bytes.fromhex(head_hash)


def seal_document(
    run: dict[str, Any], members: Sequence[dict[str, Any]], windows: Sequence[dict[str, Any]]
) -> str:
    """The canonical form of a finished run (rows as read back from the ledger)."""
    return canonical_json(
        {
            "kind": "seal",
            "run": run,
            "members": sorted(members, key=lambda m: str(m["member_id"])),
            "windows": sorted(windows, key=canonical_json),
        }
    )


def reopen_document(run_id: str, time_unix_s: float, member_id: str) -> str:
    """The canonical form of a reopening (a member joined a finished run)."""
    return canonical_json(
        {"kind": "reopen", "run_id": run_id, "time_unix_s": time_unix_s, "member_id": member_id}
    )


def sample_row(device: str, values: Sequence[Any]) -> list[Any]:
    """A sample as it enters a segment digest: device, then time, energy, power, low, high."""
    return [device, *values]


def window_doc(row: dict[str, Any]) -> dict[str, Any]:
    """A window row as it enters a segment digest (its database ids and segment left out)."""
    skip = ("window_ref", "seg", "run_id", "member_id", "metrics")  # metrics came after
    return {k: v for k, v in row.items() if k not in skip}


def segment_digest(samples: Iterable[Sequence[Any]], windows: Iterable[dict[str, Any]]) -> str:
    """SHA-256 (hex) over a segment's sample rows, sorted by (time, device, energy), and its
    window documents, sorted by their canonical JSON: the digest does not depend on the order
    the database returns them in. (Two samples of one device at one time with the same
    energy are a duplicate whatever their other fields: no writer makes such pairs.)"""
    rows = list(samples)
    try:
        rows.sort(key=itemgetter(1, 0, 2))
    except TypeError:  # values of mixed types (edited by hand): still a fixed order
        rows.sort(key=repr)
    docs = sorted(canonical_json(w) for w in windows)
    return hashlib.sha256(canonical_json({"samples": rows, "windows": docs}).encode()).hexdigest()
