"""A member's journal as the recorder's fallback: what is signed into it, and how it moves
into the ledger once the ledger answers (:class:`carbonledger.run.recording.Recorder` decides
when; this says how).

* :meth:`JournalFallback.sign` signs events as the member's next batch straight into the
  journal (the ledger fails); :meth:`JournalFallback.append` writes a batch already signed
  (the ticks written ahead, the batches a failed commit held). A journal that cannot be
  written either is said once (:attr:`JournalFallback.problem`) and the run goes on.
* :meth:`JournalFallback.drain` moves the journal into the ledger in order, from where the
  last drain stopped; :meth:`JournalFallback.drained_all` discards it once the ledger holds
  all of it.
* :meth:`JournalFallback.replay_others` replays the journals other members of this machine
  left for the same ledger (trusted keys only).

No thread of its own: the recorder calls it under its lock (signing and appending, so that
batches keep their order) or from its writer thread (draining, replaying).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from carbonledger.events import Event, MemberChain, SignedBatch
from carbonledger.run.journal import Journal

if TYPE_CHECKING:
    from carbonledger.ledger import Ledger

__all__ = ["DRAIN_CHUNK", "JournalFallback"]

log = logging.getLogger("carbonledger")

#: batches per ledger append when a journal is moved into the ledger
DRAIN_CHUNK = 256


class JournalFallback:
    """The journal of one member (``journal`` None: nothing is kept when the ledger fails)."""

    def __init__(self, chain: MemberChain, journal: Journal | None) -> None:
        self._chain = chain
        self.journal = journal
        #: why the journal could not be written ('' while it can); said once
        self.problem = ""
        #: the journal's batches already in the ledger (a drain goes on from there)
        self.drained = 0

    @property
    def path(self) -> str:
        return self.journal.path if self.journal is not None else ""

    @property
    def usable(self) -> bool:
        """Whether batches can be written ahead into the journal (it exists and writes)."""
        return self.journal is not None and not self.problem

    def sign(self, events: Sequence[Event], *, sync: bool) -> None:
        """(Under the recorder's lock) ``events`` as the member's next batch, signed, into
        the journal; ``sync`` forces it to disk (a batch that changes the run)."""
        if self.journal is None:
            return
        try:
            batch = self._chain.make(events)
        except Exception as exc:  # a batch that cannot be made (a non-finite number)
            log.warning("carbonledger: a batch was not recorded: %s", exc)
            return
        self.append(batch, sync)

    def append(self, batch: SignedBatch, sync: bool) -> None:
        """(Under the recorder's lock) a signed batch into the journal; a journal that fails
        is said once, and the run goes on."""
        if self.journal is None:
            return
        try:
            self.journal.append(batch, sync=sync)
        except Exception as exc:
            if not self.problem:
                self.problem = f"{self.journal.path}: {type(exc).__name__}: {exc}"
                log.warning(
                    "carbonledger: measurements could not be journalled either (%s)",
                    self.problem,
                )

    def keep(self, held: Sequence[tuple[SignedBatch, bool]]) -> None:
        """(Under the recorder's lock) the batches of a commit that did not happen, each with
        whether it is in the journal already: those that are not are journalled now, forced
        to disk."""
        for batch, in_journal in held:
            if not in_journal:
                self.append(batch, True)

    def committed(self) -> None:
        """(Under the recorder's lock) the ledger holds every batch the journal holds: the
        journal is emptied (kept when that fails: a replay skips what the ledger holds)."""
        journal = self.journal
        if journal is None or not journal.count:
            return
        try:
            journal.reset()
        except OSError as exc:
            log.info("carbonledger: journal %s not emptied: %s", journal.path, exc)

    def drain(self, ledger: Ledger) -> None:
        """Move the journal's batches the ledger lacks into ``ledger``, in order, from where
        the last drain stopped. Raises what the ledger raises (the journal is kept)."""
        if self.journal is None:
            return
        batches = self.journal.batches(self.drained)
        for i in range(0, len(batches), DRAIN_CHUNK):
            chunk = batches[i : i + DRAIN_CHUNK]
            ledger.append(chunk)
            self.drained += len(chunk)

    def drained_all(self) -> bool:
        """(Under the recorder's lock, so that nothing is appended meanwhile) whether the
        ledger holds the whole journal: then the journal is discarded."""
        if self.journal is None or self.journal.count > self.drained:
            return False
        self.journal.discard()
        self.drained = 0
        return True

    def replay_others(self, ledger: Ledger, trusted: set[str] | None) -> None:
        """Replay the journals other members left for this ledger (trusted keys only)."""
        from carbonledger.run.journal import IN_USE, replay_pending

        journal = self.journal
        if journal is None or trusted is None:
            return
        for done in replay_pending(
            ledger,
            trusted,
            directory=journal.directory,
            target=journal.target,
            skip=journal.path,
        ):
            if done.done:
                log.info("carbonledger: replayed %d batches from %s", done.batches, done.path)
            elif done.error and done.error != IN_USE:
                log.warning("carbonledger: journal %s not replayed: %s", done.path, done.error)
