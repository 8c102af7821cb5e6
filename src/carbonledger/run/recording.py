"""The recorder: the sink of a member's events, signed where they are made, never in the way.

Sampler -> ``Meter.tick()`` -> events -> :meth:`Recorder.emit` -> the ledger, or the local
journal when the ledger cannot take them. Either way a batch is signed by the process that
measured it before it goes anywhere.

* While the ledger works, events go to a thread of the recorder's own ("carbonledger-
  writer"), which signs every event waiting as the member's next batch
  (:class:`carbonledger.events.MemberChain`) and writes it: the thread that emitted (the
  user's, the sampler's) never waits on the database nor spends time signing. How many
  events may wait for it is bounded (:mod:`carbonledger.run.backlog`): past that an emit
  waits a little, so memory does not grow with the run.
* A sampler's tick is signed on the sampler's own thread (:meth:`Recorder.record_tick`),
  written ahead into the member's journal and committed with the other ticks in one
  transaction (:mod:`carbonledger.run.writeahead`): a SIGKILL leaves the last ticks signed in
  the journal, which the next tracker on that ledger, ``settle`` and ``sync`` replay. A
  window's end waits for the next tick (:meth:`Recorder.expect_ticks`) and is signed in its
  batch. A batch that changes the run's shape (start, join, devices, metadata, end) is
  committed at once with everything before it, as is everything at the stop, at a question
  and at :meth:`Recorder.flush`.
* When the ledger fails (not opened in time, or a write raised), events are signed into the
  journal at once (:mod:`carbonledger.run.fallback`); the writer tries the ledger again every
  ``retry_s`` seconds and, once it answers, moves the journal into it and writes directly.

A run's start asks the ledger questions (is this run already open? which devices may this
member count?): :meth:`Recorder.ask` waits for the answer at most ``wait_s`` (0.5 s at a
start), then the run goes on with the journal: a locked, slow or silent ledger never delays
the user's work by more than that.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TypeVar

from carbonledger.events import (
    Event,
    Heartbeat,
    MemberChain,
    Signer,
    WindowEnded,
)
from carbonledger.run.backlog import Ask, Backlog, Commit, Job, Stop, Write, gather
from carbonledger.run.fallback import JournalFallback
from carbonledger.run.journal import Journal
from carbonledger.run.writeahead import COMMIT_EVERY_S, Unsent, changes_run

if TYPE_CHECKING:
    from carbonledger.ledger import Ledger

__all__ = ["COMMIT_EVERY_S", "Recorder"]

T = TypeVar("T")

log = logging.getLogger("carbonledger")

#: the longest a run's start waits for the ledger's answers before it goes on (seconds)
START_WAIT_S = 0.5
#: how long a tracker's write waits for a locked ledger before the journal takes it (seconds)
WRITE_TIMEOUT_S = 1.0
#: seconds between the writer's tries of a failed ledger
RETRY_S = 5.0
#: the most window ends that wait for the sampler's next tick (more go to the writer)
MAX_WAITING = 256


def _nothing(ledger: Ledger) -> None:
    """The question :meth:`Recorder.flush` asks: answered once everything is committed."""


class Recorder:
    """Signs a member's events and delivers them to the ledger, or to the journal.

    Give ``ledger`` (an open ledger) or ``opener`` (opens it, called on the writer thread);
    neither: the ledger is known to be unusable (``problem`` says why) and batches go to the
    journal from the start. ``journal`` None and no ledger: nothing is kept (``ledger=False``).
    ``trusted`` are the keys whose journals (left by other members) are replayed when the
    ledger opens. ``commit_every_s`` (default: :data:`COMMIT_EVERY_S`, at most a third of
    ``lease_ttl_s``) is how long batches written ahead into the journal wait for their commit;
    0 commits every batch at once.
    """

    def __init__(
        self,
        chain: MemberChain,
        journal: Journal | None,
        *,
        ledger: Ledger | None = None,
        opener: Callable[[], Ledger] | None = None,
        problem: str = "",
        lease_ttl_s: float = 90.0,
        on_problem: Callable[[str], None] | None = None,
        retry_s: float = RETRY_S,
        trusted: set[str] | None = None,
        commit_every_s: float | None = None,
    ) -> None:
        self._chain = chain
        #: the journal, where batches go while the ledger fails (and ticks are written ahead)
        self._fallback = JournalFallback(chain, journal)
        self._ledger = ledger
        self._opener = opener
        self._lease_ttl_s = lease_ttl_s
        self._on_problem = on_problem
        self._retry_s = retry_s
        self._trusted = trusted
        if commit_every_s is None:
            commit_every_s = min(COMMIT_EVERY_S, lease_ttl_s / 3.0)
        #: (under the lock) batches not committed to the ledger yet
        self._unsent = Unsent(commit_every_s)
        self._queue: queue.SimpleQueue[Job] = queue.SimpleQueue()
        #: (under the lock) window ends waiting for the sampler's next tick; seconds between
        #: ticks (0: no sampler ticks, so nothing waits)
        self._waiting: list[Event] = []
        self._tick_s = 0.0
        #: signing and handing on happen under this lock, so batches keep their order
        self._lock = threading.Lock()
        #: events handed to the writer and not written yet
        self._backlog = Backlog()
        self._thread: threading.Thread | None = None
        self._last_try = 0.0
        self._stopped = False
        self.problem = ""
        #: "connecting" (opening), "direct", "journal" or "none" (nothing kept)
        self._mode = "direct" if ledger is not None else "connecting" if opener else "journal"
        if ledger is None and opener is None:
            if journal is None:
                self._mode = "none"
            else:
                self._fail(problem or "no ledger")

    # --- state -----------------------------------------------------------------------------

    @property
    def spooling(self) -> bool:
        """True while batches go to the local journal instead of the ledger."""
        return self._mode == "journal"

    @property
    def spool_path(self) -> str:
        return self._fallback.path

    @property
    def chain(self) -> MemberChain:
        return self._chain

    @property
    def signer(self) -> Signer | None:
        return self._chain.signer

    def _fail(self, problem: str) -> None:
        """Say once that the ledger failed and where measurements go instead."""
        self._mode = "journal"
        if self.problem:
            return
        self.problem = problem
        where = self._fallback.path or "(no journal)"
        message = (
            f"the ledger could not be written ({problem}); measurement goes on into the local "
            f"journal {where}, and the ledger is tried again in the background. What is left "
            "when the run ends is replayed by 'carbonledger sync' (or the next tracker on that "
            "ledger): nothing is lost."
        )
        log.warning("carbonledger: %s", message)
        if self._on_problem is not None:
            self._on_problem(message)

    # --- the calling threads ---------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread (it opens the ledger first, when given an opener)."""
        if self._thread is None and self._mode != "none":
            self._thread = threading.Thread(
                target=self._loop, name="carbonledger-writer", daemon=True
            )
            self._thread.start()

    def emit(self, events: Sequence[Event]) -> None:
        """Hand ``events`` on (returns at once; no events: a heartbeat): to the writer thread,
        or, while the ledger fails, signed into the journal."""
        if self._mode == "none":
            return
        if not events:
            events = (Heartbeat(self._lease_ttl_s),)
        self._backlog.make_room()  # the writer is behind: give it the time it needs
        with self._lock:
            if (
                self._tick_s > 0
                and len(self._waiting) + len(events) <= MAX_WAITING
                and all(type(e) is WindowEnded for e in events)
            ):  # window ends: signed with the sampler's next tick (within one interval)
                self._waiting.extend(events)
                return
            self._hand_on(events)

    def _hand_on(self, events: Sequence[Event]) -> None:
        """(Under the lock) the window ends waiting, then ``events``: signed into the journal
        while the ledger fails, else queued for the writer."""
        if self._waiting:
            events, self._waiting = [*self._waiting, *events], []
        if not events:
            return
        if self._mode == "journal":
            self._fallback.sign(events, sync=changes_run(events))
        else:
            self._backlog.add(len(events))
            self._queue.put(Write(events))

    def expect_ticks(self, interval_s: float) -> None:
        """A sampler calls :meth:`record_tick` every ``interval_s`` seconds from now on, until
        the run stops: window ends wait for its next tick and are signed in the same batch
        (one signature a tick however many windows ended; a SIGKILL loses at most one
        interval of them, as of samples)."""
        self._tick_s = interval_s

    def record_tick(self, events: Sequence[Event]) -> None:
        """From the sampler's own thread: a tick's events signed and written ahead into the
        journal here, without waking the writer (which is told only when the ticks are due
        for their commit). Anything else, or while the ledger is not written directly, or
        while writes wait for the writer (order is kept), goes through :meth:`emit`."""
        with self._lock:
            inline = (
                self._mode == "direct"
                and self._backlog.empty
                and bool(events)
                and self._ahead()
                and not changes_run(events)
            )
            if inline:
                if self._waiting:
                    events, self._waiting = [*self._waiting, *events], []
                if self._hold(events, ahead=True) and not self._unsent.asked:
                    self._unsent.asked = True
                    self._queue.put(Commit())
        if not inline:
            self.emit(events)

    def ask(self, question: Callable[[Ledger], T], wait_s: float = START_WAIT_S) -> T | None:
        """``question(ledger)`` answered on the writer thread, or None when the ledger is not
        usable or did not answer within ``wait_s`` seconds (the question may still run)."""
        if self._mode in ("none", "journal") or self._thread is None:
            return None
        with self._lock:  # the window ends waiting go first: the question sees them
            self._hand_on(())
        job = Ask(question)
        self._queue.put(job)
        if not job.done.wait(wait_s):
            return None
        answer: T | None = job.answer
        return answer

    def journal_now(self, problem: str) -> None:
        """From now on, batches go to the journal (the ledger did not answer in time); the
        writer thread goes on trying it in the background."""
        with self._lock:
            if self._mode in ("connecting", "direct"):
                self._move_queue_to_journal()
                self._fail(problem)

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every batch handed over so far is committed to the ledger, or journalled
        while the ledger fails (True), or ``timeout_s`` passed."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._hand_on(())
        if not self._backlog.wait_empty(timeout_s):
            return False
        if self._mode == "journal" or self._thread is None or not self._unsent:
            return True
        job = Ask(_nothing)
        self._queue.put(job)
        return job.done.wait(max(0.0, deadline - time.monotonic()))

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is handed over (bounded by ``timeout_s``), try once more to move the
        journal into the ledger, stop the thread, close the journal and the ledger."""
        self._tick_s = 0.0
        with self._lock:
            self._hand_on(())
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(Stop())
            thread.join(timeout_s)
            if thread.is_alive():  # the ledger hangs past its own bounds: keep it all
                with self._lock:
                    self._move_queue_to_journal()
                    self._fail(f"the ledger did not answer within {timeout_s:g} s")
        if self._fallback.journal is not None:
            self._fallback.journal.close()
        opened_here = self._opener is not None  # we opened it: we close it
        if (
            thread is not None
            and not thread.is_alive()
            and self._ledger is not None
            and opened_here
        ):
            self._ledger.close()

    # --- the journal -----------------------------------------------------------------------

    def _move_queue_to_journal(self) -> None:
        """(Under the lock) journal the events still queued, in order; keep other jobs."""
        others: list[Job] = []
        events: list[Event] = []
        done = 0
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(job, Write):
                events.extend(job.events)
                done += len(job.events)
            else:
                others.append(job)
        if events:
            self._fallback.sign(events, sync=changes_run(events))
        self._backlog.done(done)
        for job in others:
            self._queue.put(job)

    # --- the writer thread -----------------------------------------------------------------

    def _loop(self) -> None:
        if self._ledger is None and self._opener is not None:
            self._open()
        while True:
            if self._mode == "journal":
                wait: float | None = self._retry_s
            elif self._unsent:  # commit them in time even when nothing else comes
                wait = self._unsent.wait_s()
            else:
                wait = None
            try:
                job = self._queue.get(timeout=wait)
            except queue.Empty:
                if self._mode == "journal":
                    self._try_drain()
                else:
                    self._commit()
                continue
            if not self._handle(job):
                return
            if self._mode == "journal" and time.monotonic() - self._last_try >= self._retry_s:
                self._try_drain()

    def _handle(self, job: Job) -> bool:
        """Do one job; False for the stop."""
        if isinstance(job, Stop):
            self._commit()
            if self._mode == "journal":
                self._try_drain(force=True)
            elif self._fallback.journal is not None:  # everything is in the ledger
                self._fallback.journal.discard()
            self._stopped = True
            return False
        if isinstance(job, Ask):
            self._answer(job)
        elif isinstance(job, Commit):
            self._commit()
        else:
            self._write(job)
        return not self._stopped

    def _open(self) -> bool:
        assert self._opener is not None
        self._last_try = time.monotonic()
        try:
            ledger = self._opener()
        except Exception as exc:
            with self._lock:
                self._move_queue_to_journal()
                self._fail(f"{type(exc).__name__}: {exc}")
            return False
        self._ledger = ledger
        with self._lock:
            if self._mode == "connecting":
                self._mode = "direct"
        self._replay_others()
        if self._mode == "journal":
            self._try_drain(force=True)
        return True

    def _answer(self, job: Ask) -> None:
        self._commit()  # the answer sees every batch made so far
        ledger = self._ledger
        try:
            if ledger is not None and self._mode != "journal":
                job.answer = job.question(ledger)
        except Exception as exc:
            with self._lock:
                self._move_queue_to_journal()
                self._fail(f"{type(exc).__name__}: {exc}")
        finally:
            job.done.set()

    def _write(self, first: Write) -> None:
        """Append ``first``'s events and every event queued behind them as ONE signed batch
        (:func:`~carbonledger.run.backlog.gather`); the job met after them is done next."""
        events, later = gather(first, self._queue)
        try:
            with self._lock:
                if self._mode == "journal" or self._ledger is None:
                    self._fallback.sign(events, sync=changes_run(events))
                    return
                # a tick is written ahead (its commit waits); any other batch is committed
                # now, and journalled only should that fail
                due = self._hold(events, ahead=not changes_run(events) and self._ahead())
            if due:
                self._commit()
        finally:
            self._backlog.done(len(events))
            if later is not None:
                self._handle(later)

    def _hold(self, events: Sequence[Event], *, ahead: bool) -> bool:
        """(Under the lock) ``events`` as the next signed batch, kept for the next commit and,
        when ``ahead``, written ahead into the journal (a process's death then loses nothing;
        a power cut may: the commit follows soon). True when the commit is due: the batch
        was not written ahead, enough waits, or the commit period has passed."""
        try:
            batch = self._chain.make(events)
        except Exception as exc:  # a non-finite number: never written, never raised
            log.warning("carbonledger: a batch was not recorded: %s", exc)
            return False
        if ahead:
            self._fallback.append(batch, False)
            ahead = self._fallback.usable
        return self._unsent.add(batch, len(events), ahead=ahead)

    def _ahead(self) -> bool:
        """Whether batches are written ahead into the journal and committed together."""
        return self._unsent.every_s > 0 and self._fallback.usable

    def _commit(self) -> None:
        """Append the batches written ahead to the ledger in one transaction, then empty the
        journal; when the ledger fails they stay in the journal (written there now if they
        were not) and the journal takes the batches from now on."""
        with self._lock:
            held = self._unsent.take()
        if not held:
            return
        batches = [batch for batch, _ in held]
        ledger = self._ledger

        if ledger is None or self._mode == "journal":
            with self._lock:
                self._fallback.keep(held)
            return
        try:
            ledger.append(batches)
        except Exception as exc:
            with self._lock:
                self._fallback.keep(held)
                self._fallback.drained = 0  # the journal holds what the ledger lacks (and
                self._move_queue_to_journal()  # may hold batches it has: a replay skips those)
                self._fail(f"{type(exc).__name__}: {exc}")
            return
        with self._lock:  # empty the journal unless a tick was written ahead meanwhile
            if not self._unsent:
                self._fallback.committed()

    def _try_drain(self, force: bool = False) -> None:
        """Move the journal into the ledger (in order) and go back to writing directly."""
        if not force and time.monotonic() - self._last_try < self._retry_s:
            return
        self._last_try = time.monotonic()
        if self._ledger is None and (self._opener is None or not self._open()):
            return
        ledger = self._ledger
        if ledger is None:
            return
        try:
            while True:
                self._fallback.drain(ledger)
                with self._lock:  # caught up: write directly again (nothing appended meanwhile)
                    if self._fallback.drained_all():
                        self._mode = "direct"
                        self.problem = ""
                        break
        except Exception as exc:
            log.info("carbonledger: the ledger still fails (%s); journal kept", exc)
            return
        log.warning(
            "carbonledger: the ledger %s answers again; the journal was moved into it",
            getattr(ledger, "location", ""),
        )

    def _replay_others(self) -> None:
        """Replay the journals other members left for this ledger (trusted keys only)."""
        if self._ledger is not None:
            self._fallback.replay_others(self._ledger, self._trusted)
