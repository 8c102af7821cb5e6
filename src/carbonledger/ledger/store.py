"""The ledger's base over a small SQL seam: state, the backend seam, and reading rows.

A backend provides :meth:`LedgerBase._transaction` (a context manager yielding a
:class:`~carbonledger.ledger.rows.Tx`; a write transaction takes the database's write lock at
once) and :meth:`LedgerBase.close`. The ledger's concerns are layered on top, one module each:
:mod:`~carbonledger.ledger.sealing` (signed records), :mod:`~carbonledger.ledger.liveness`
(leases, heartbeats, dead runs), :mod:`~carbonledger.ledger.ingest` (what a tracker writes)
and :mod:`~carbonledger.ledger.queries` (summaries); :class:`~carbonledger.ledger.core.SqlLedger`
is all of them.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from carbonledger.errors import InputError, LedgerError
from carbonledger.ledger.base import RunRecord
from carbonledger.ledger.keys import Signer
from carbonledger.ledger.rows import DEVICE_COLS, MEMBER_COLS, RUN_COLS, WINDOW_COLS, Row, Tx

__all__ = ["LedgerBase", "SigningKeySource"]

#: the longest project, experiment, run id, tag key or tag value accepted, in characters

#: where a writer's signing key comes from: a loaded :class:`Signer`, a key file path, None
#: for the user's key (``$CARBONLEDGER_SIGNING_KEY`` or the config dir), or False: no signing
#: (an in-memory ledger)
SigningKeySource = Signer | str | None | bool


def log() -> Any:
    """The "carbonledger.ledger" logger (logging is imported only when something is logged)."""
    import logging

    return logging.getLogger("carbonledger.ledger")


@dataclass(slots=True)
class Segment:
    """What a member wrote since its last signed checkpoint (kept by the writing process)."""

    seg: int
    #: the member's last record's hash: its own chain of records
    prev: str
    last_checkpoint_s: float
    samples: list[list[Any]] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)


class LedgerBase:
    """State and row reading shared by every concern of a SQL ledger."""

    location: str
    #: ``FOR UPDATE`` where the database locks rows on read (PostgreSQL)
    _for_update: str = ""
    #: a renewal of heartbeat and leases as autocommit statements after the samples (SQLite)
    _RENEWS_APART = False

    def __init__(
        self,
        clock: Callable[[], float] = time.time,
        *,
        read_only: bool = False,
        signing_key: SigningKeySource = None,
        checkpoint_interval_s: float = 5.0,
    ) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self.read_only = read_only
        self._key_source = signing_key
        self._signer: Signer | None = signing_key if isinstance(signing_key, Signer) else None
        self.checkpoint_interval_s = float(checkpoint_interval_s)
        self._device_refs: dict[tuple[str, str, str], int] = {}
        self._ref_device: dict[int, str] = {}
        self._lease_holders: set[tuple[str, str]] = set()
        #: (run, member) -> (time of the last heartbeat written, the member's lease TTL in s)
        self._beats: dict[tuple[str, str], tuple[float, float]] = {}
        self._segments: dict[tuple[str, str], Segment] = {}

    # --- backend seam --------------------------------------------------------------------

    def _transaction(self, write: bool) -> AbstractContextManager[Tx]:
        raise NotImplementedError

    def _append(self, sql: str, params: Sequence[Any]) -> None:
        """Run one write statement as a transaction of its own (a sampler tick's INSERT)."""
        with self._transaction(write=True) as tx:
            tx.run(sql, params)

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> LedgerBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _writable(self) -> None:
        if self.read_only:
            raise LedgerError(
                f"ledger {self.location} was opened read-only; open it for writing "
                "(open_ledger(..., read_only=False)) to record runs"
            )

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
        d["tags"] = loads(d["tags"], {})
        d["meta"] = loads(d["meta"], {})
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
        last heartbeat and its last sample (each sample is a sign of life too)."""
        rows = tx.rows(
            f"SELECT {', '.join('m.' + c for c in MEMBER_COLS)}, "
            # the newest sample of each device (one index probe each), then their maximum
            "(SELECT MAX((SELECT s.time_unix_s FROM samples s WHERE s.device_ref = d.device_ref "
            "ORDER BY s.time_unix_s DESC LIMIT 1)) FROM devices d "
            "WHERE d.run_id = m.run_id AND d.member_id = m.member_id) "
            "FROM members m WHERE m.run_id = ? ORDER BY m.started_unix_s, m.member_id",
            (run_id,),
        )
        out = []
        for *cols, last_sample in rows:
            d = dict(zip(MEMBER_COLS, cols, strict=True))
            if d["finished_unix_s"] is None and last_sample is not None:
                d["heartbeat_unix_s"] = max(float(d["heartbeat_unix_s"]), float(last_sample))
            d["components"] = None if d["components"] is None else loads(d["components"], [])
            d["errors"] = loads(d["errors"], [])
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
            d["components"] = loads(d["components"], [])
            out.append(d)
        return out

    def _devices(self, tx: Tx, run_id: str) -> list[dict[str, Any]]:
        rows = tx.rows(
            f"SELECT {', '.join(DEVICE_COLS)} FROM devices WHERE run_id = ? ORDER BY device_ref",
            (run_id,),
        )
        return [dict(zip(DEVICE_COLS, row, strict=True)) for row in rows]

    def _latest_sample(self, tx: Tx, device_ref: int, max_seg: int | None = None) -> Row | None:
        """The device's newest sample (of segments up to ``max_seg`` when given)."""
        if max_seg is None:
            return tx.one(
                "SELECT time_unix_s, energy_j, power_w, low_j, high_j FROM samples "
                "WHERE device_ref = ? ORDER BY time_unix_s DESC LIMIT 1",
                (device_ref,),
            )
        return tx.one(
            "SELECT time_unix_s, energy_j, power_w, low_j, high_j FROM samples "
            "WHERE device_ref = ? AND seg <= ? ORDER BY time_unix_s DESC LIMIT 1",
            (device_ref, max_seg),
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

    @staticmethod
    def _member_label(m: dict[str, Any]) -> str:
        if m["rank"] is not None:
            return f"rank {m['rank']} ({m['host']}, pid {m['pid']})"
        return f"{m['host']} pid {m['pid']}"


def loads(text: Any, empty: Any) -> Any:
    """A JSON column's value; for text that is not JSON of the expected kind (edited by
    hand), ``empty`` holding the raw text under ``"unreadable"`` so that ``verify`` names it
    and summaries still work."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        value = None
    if isinstance(value, type(empty)):
        return value
    return {"unreadable": str(text)} if isinstance(empty, dict) else [f"unreadable: {text}"]
