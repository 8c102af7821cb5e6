"""The ledger: one object composing ingest, liveness, queries and verification over a transport.

:class:`Ledger` is not built by inheritance: it holds a transport (SQLite, PostgreSQL or in
memory: :mod:`~carbonledger.ledger.transports`) and four parts that each take it —
:class:`~carbonledger.ledger.ingest.Ingest` (signed batches in, leases),
:class:`~carbonledger.ledger.liveness.Liveness` (settling silent members),
:class:`~carbonledger.ledger.queries.Queries` (summaries, windows, lists) and the checks of
``verify`` (:mod:`~carbonledger.ledger.chain`, :mod:`~carbonledger.ledger.audit`,
:mod:`~carbonledger.ledger.audit_events`). Open one with
:func:`carbonledger.ledger.open_ledger`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from carbonledger.errors import LedgerError
from carbonledger.events import Event, SignedBatch, Signer
from carbonledger.ledger.ingest import Ingest
from carbonledger.ledger.liveness import Liveness
from carbonledger.ledger.queries import Queries
from carbonledger.ledger.transports.base import Transport
from carbonledger.models import RunRecord, RunSummary, Sample, WindowSummary

if TYPE_CHECKING:
    from carbonledger.ledger.chain import VerifyReport

__all__ = ["Ledger", "SigningKeySource"]

#: where a writer's key comes from: a loaded signer, a key file path, None for the user's key
#: (``$CARBONLEDGER_SIGNING_KEY`` or the config folder), or False: sign nothing (in memory)
SigningKeySource = Signer | str | None | bool


class Ledger:
    """Durable storage of runs, as signed batches of events.

    Writes: :meth:`append` (signed batches, as a tracker, a journal replay or a Ray driver
    hands them over), :meth:`acquire_lease`, :meth:`settle`. Reads: :meth:`summary`,
    :meth:`windows`, :meth:`samples`, :meth:`list_runs`, :meth:`run_record`,
    :meth:`resolve_run_id`, :meth:`iter_run_ids`. Checks: :meth:`verify`, :meth:`verify_run`.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        clock: Callable[[], float] = time.time,
        signing_key: SigningKeySource = None,
    ) -> None:
        self._t = transport
        self._clock = clock
        self._key_source = signing_key
        self._signer: Signer | None = (
            signing_key if not isinstance(signing_key, (str, bool, type(None))) else None
        )
        self.ingest = Ingest(transport, self._head_signer, clock)
        self.liveness = Liveness(transport, self.ingest, self.signer, clock)
        self.queries = Queries(transport, clock)

    # --- identity --------------------------------------------------------------------------

    @property
    def location(self) -> str:
        """The file path or URL (without password) of this ledger."""
        return self._t.location

    @property
    def read_only(self) -> bool:
        return self._t.read_only

    @property
    def in_memory(self) -> bool:
        """True for a ledger that lives in this process only (``:memory:``)."""
        return self._t.location == ":memory:"

    @property
    def transport(self) -> Transport:
        return self._t

    def signer(self) -> Signer | None:
        """This writer's signing key (loaded on first use), or None for a ledger that signs
        nothing. :class:`LedgerError` when the key cannot be used (naming the fix)."""
        if self._signer is not None or self._key_source is False:
            return self._signer
        from carbonledger.ledger.keys import load_or_create_signing_key

        source = self._key_source
        self._signer = load_or_create_signing_key(source if isinstance(source, str) else None)
        return self._signer

    def _head_signer(self) -> Signer | None:
        """The key that signs the chain's head: this writer's, when it can be used."""
        try:
            return self.signer()
        except LedgerError:
            return None

    def public_key(self) -> str | None:
        """This writer's public key (hex), or None for a ledger that signs nothing."""
        try:
            key = self.signer()
        except LedgerError:
            return None
        return None if key is None else key.public_hex

    def head(self) -> str:
        """The chain's head as stored, ``COUNT:HASH`` ('' for an empty ledger); only
        :meth:`verify` checks it."""
        from carbonledger.ledger.log import read_head

        with self._t.transaction(write=False) as tx:
            text, head = read_head(tx)
        seq = int(head.get("seq", 0) or 0)
        return f"{seq}:{head['hash']}" if text is not None and seq > 0 else ""

    def signers(self) -> list[str]:
        """The public keys (hex) that signed records of this ledger."""
        with self._t.transaction(write=False) as tx:
            return [str(r[0]) for r in tx.rows("SELECT DISTINCT signer FROM seals ORDER BY 1")]

    # --- writes ----------------------------------------------------------------------------

    def append(self, batches: Sequence[SignedBatch]) -> int:
        """Record signed batches, in one transaction (committed before this returns); returns
        how many were new (a batch already recorded is skipped)."""
        return self.ingest.append(batches)

    def record(
        self,
        run_id: str,
        events: Sequence[Event],
        *,
        member_id: str | None = None,
        time_unix_s: float | None = None,
    ) -> SignedBatch:
        """Record ``events`` as the one batch of a writer of its own (a new member id unless
        given), signed by this writer's key: what an import, ``carbonledger metric`` or a
        settlement writes. Returns the batch."""
        from carbonledger.events import MemberChain, new_member_id

        chain = MemberChain(run_id, member_id or new_member_id(), self.signer(), clock=self._clock)
        batch = chain.make(events, time_unix_s)
        self.append([batch])
        return batch

    def acquire_lease(self, run_id: str, key: str, member_id: str, ttl_s: float) -> bool:
        """Take (or renew) the lease ``key`` for ``member_id`` (True: it holds it now)."""
        return self.ingest.acquire_lease(run_id, key, member_id, ttl_s)

    def settle(self, run_id: str | None = None) -> list[str]:
        """Record silent members as interrupted, signed (see :mod:`.liveness`); the runs
        settled."""
        return self.liveness.settle(run_id)

    # --- reads -----------------------------------------------------------------------------

    def run_record(self, run_id: str) -> RunRecord:
        return self.queries.run_record(run_id)

    def resolve_run_id(self, prefix: str) -> str:
        return self.queries.resolve_run_id(prefix)

    def summary(self, run_id: str, *, windows: bool = True) -> RunSummary:
        """The run's summary; ``windows=False`` leaves its windows out (``extra
        ["window_count"]`` counts them, each checked as read; :meth:`iter_windows` streams
        them)."""
        return self.queries.summary(run_id, windows=windows)

    def windows(self, run_id: str) -> list[WindowSummary]:
        return self.queries.windows(run_id)

    def iter_windows(self, run_id: str) -> Iterator[WindowSummary]:
        """The run's windows, oldest first, one at a time (a run of one member is streamed
        from the database; several members' windows are merged first)."""
        return self.queries.iter_windows(run_id)

    def list_runs(
        self, project: str | None = None, limit: int | None = None, *, windows: bool = True
    ) -> list[RunSummary]:
        """The runs, newest first (of ``project``; the newest ``limit``). ``windows=False``
        leaves each summary's windows out (``extra["window_count"]`` says how many there are,
        each checked as read): a list of runs then holds no window in memory."""
        return self.queries.list_runs(project, limit, windows=windows)

    def samples(self, run_id: str, *, since_unix_s: float | None = None) -> list[Sample]:
        return self.queries.samples(run_id, since_unix_s=since_unix_s)

    def iter_run_ids(self, project: str | None = None) -> Iterator[str]:
        return self.queries.iter_run_ids(project)

    # --- checks ----------------------------------------------------------------------------

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
        from carbonledger.ledger.checks import verify_ledger

        return verify_ledger(
            self._t, self._clock(), keys, expect_head=expect_head, use_trusted_file=use_trusted_file
        )

    def verify_run(
        self, run_id: str, keys: Iterable[str] | None = None, *, use_trusted_file: bool = True
    ) -> VerifyReport:
        """Check one run's records and rows (what a report checks before it says "signed")."""
        from carbonledger.ledger.checks import verify_one_run

        return verify_one_run(
            self._t, self._clock(), run_id, keys, use_trusted_file=use_trusted_file
        )

    # --- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ledger({self._t!r})"
