"""What one append's transaction carries from batch to batch (see
:mod:`~carbonledger.ledger.ingest`): the chain being appended, the batches the ledger holds
already, the members known to be running, their hosts, and the sample and window rows not
inserted yet, inserted together when the pass flushes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from carbonledger.events import Batch, Heartbeat, SamplesAdded, WindowEnded
from carbonledger.ledger.rows import insert_rows

if TYPE_CHECKING:
    from carbonledger.ledger.log import ChainAppender
    from carbonledger.ledger.transports.base import Tx

__all__ = ["PLAIN", "Pass", "member_host", "recorded"]

_INSERT_SAMPLES = (
    "INSERT INTO samples (device_ref, time_unix_s, energy_j, power_w, low_j, high_j, seg) VALUES "
)
_SAMPLE_ROW = "(?, ?, ?, ?, ?, ?, ?)"
_INSERT_WINDOWS = (
    "INSERT INTO windows (run_id, member_id, name, path, started_unix_s, duration_s, co2e_g, "
    "components, seg, metrics) VALUES "
)
_WINDOW_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
#: the events of a sampler's tick and of a window's end: they add rows and change no state,
#: so a run of such batches is applied with its rows inserted together
PLAIN = frozenset({SamplesAdded, WindowEnded, Heartbeat})


class Pass:
    """What one append's transaction carries from batch to batch: the chain being appended,
    the batches the ledger holds already, the members known to be running (their plain
    batches need no check), their hosts, and the sample and window rows not inserted yet."""

    __slots__ = ("chain", "hosts", "known", "running", "samples", "tx", "windows")

    def __init__(self, tx: Tx, chain: ChainAppender) -> None:
        self.tx = tx
        self.chain = chain
        self.known: dict[tuple[str, str, int], str] = {}
        self.running: set[tuple[str, str]] = set()
        self.hosts: dict[tuple[str, str], str] = {}
        self.samples: list[tuple[Any, ...]] = []
        self.windows: list[tuple[Any, ...]] = []

    def host(self, run_id: str, member_id: str) -> str:
        key = (run_id, member_id)
        host = self.hosts.get(key)
        if host is None:
            host = self.hosts[key] = member_host(self.tx, run_id, member_id)
        return host

    def flush(self) -> None:
        """Insert the records and rows held so far (records first: rows name their batch)."""
        self.chain.flush()
        rows, self.samples = self.samples, []
        insert_rows(self.tx, _INSERT_SAMPLES, _SAMPLE_ROW, rows)
        rows, self.windows = self.windows, []
        insert_rows(self.tx, _INSERT_WINDOWS, _WINDOW_ROW, rows)


def member_host(tx: Tx, run_id: str, member_id: str) -> str:
    row = tx.one("SELECT host FROM members WHERE run_id = ? AND member_id = ?", (run_id, member_id))
    return "" if row is None else str(row[0])


def recorded(tx: Tx, batches: Sequence[Batch]) -> dict[tuple[str, str, int], str]:
    """The hashes of the batches among ``batches`` the ledger holds already (one query per
    member: the span of numbers offered)."""
    spans: dict[tuple[str, str], tuple[int, int]] = {}
    for b in batches:
        low, high = spans.get((b.run_id, b.member_id), (b.seq, b.seq))
        spans[(b.run_id, b.member_id)] = (min(low, b.seq), max(high, b.seq))
    out: dict[tuple[str, str, int], str] = {}
    for (run_id, member_id), (low, high) in spans.items():
        for seq, digest in tx.rows(
            "SELECT member_seq, batch_hash FROM seals WHERE run_id = ? AND member_id = ? "
            "AND member_seq >= ? AND member_seq <= ?",
            (run_id, member_id, low, high),
        ):
            out[(run_id, member_id, int(seq))] = str(digest)
    return out
