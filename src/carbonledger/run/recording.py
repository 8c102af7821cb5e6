"""The writer: ledger writes leave the user's threads at once and never stop their work.

The tracker hands every write made while a run goes on (samples, window ends, metadata, the
member's end) to :class:`Recorder`, which makes them from a thread of its own
("carbonledger-writer"). When the ledger fails (it could not be opened, or a write raised) the
recorder warns once, naming the problem and the fix, and from then on appends the writes to
the member's local journal (:mod:`carbonledger.run.journal`) instead; ``carbonledger sync`` or the
next tracker that opens the ledger replays it. The training thread waits on the database only
where it asks to (``flush()``, ``stop()``), and then for a bounded time.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from carbonledger.run.journal import Spool

if TYPE_CHECKING:
    import logging
    from collections.abc import Mapping

    from carbonledger.ledger.base import Ledger

__all__ = ["Recorder", "open_recorder"]


def _log() -> logging.Logger:
    """The "carbonledger" logger (logging is loaded when something is logged)."""
    import logging

    return logging.getLogger("carbonledger")


#: calls whose line the journal forces to disk (rare, and the ones a crash must not lose)
_SYNC_OPS = frozenset({"open_run", "join", "register_devices", "add_window", "finish_member"})
_STOP = ("", ())
#: a run's start records: a journal begins with them
_START_OPS = frozenset({"open_run", "join", "register_devices"})


class Recorder:
    """Make ledger writes from a background thread, or journal them when the ledger fails.

    ``ledger`` None means the ledger is already known to be unusable (``problem`` says why):
    every write goes to the journal from the start. ``on_problem`` is called once, with the
    message, the first time the ledger fails.
    """

    def __init__(
        self,
        ledger: Ledger | None,
        spool: Spool,
        *,
        problem: str = "",
        on_problem: Callable[[str], None] | None = None,
    ) -> None:
        self._ledger = ledger
        self._spool = spool
        self._on_problem = on_problem
        self._queue: queue.SimpleQueue[tuple[str, tuple[Any, ...]]] = queue.SimpleQueue()
        self._pending = 0
        self._idle = threading.Condition()
        #: one write at a time, from the writer thread or the sampler's (see write_now)
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.problem = ""
        self.journal_problem = ""
        #: the start records the ledger took (open_run, join, register_devices)
        self._preamble: list[tuple[str, tuple[Any, ...]]] = []
        if ledger is None:
            self._fail(problem or "no ledger")

    @property
    def spooling(self) -> bool:
        """True once writes go to the local journal instead of the ledger."""
        return self._ledger is None

    @property
    def spool_path(self) -> str:
        return self._spool.path

    def _fail(self, problem: str) -> None:
        self._ledger = None
        if self.problem:
            return
        self.problem = problem
        message = (
            f"the ledger could not be written ({problem}); measurement goes on into the local "
            f"journal {self._spool.path}. Fix the ledger, then run 'carbonledger sync' "
            "(or start another tracker on it) to replay the journal: nothing is lost."
        )
        _log().warning("carbonledger: %s", message)
        if self._on_problem is not None:
            self._on_problem(message)

    def call_now(self, op: str, *args: Any) -> Any:
        """Make one write from the calling thread (a run's start, whose answers the tracker
        needs); on failure, journal it and return None."""
        with self._write_lock:
            return self._write_locked(op, args)

    def _journal(self, op: str, args: tuple[Any, ...]) -> None:
        try:
            if not self._spool.active:
                # a journal stands alone: it begins with the run's start records (already in
                # the failed ledger, perhaps; replaying them there changes nothing)
                for start_op, start_args in self._preamble:
                    self._spool.append(start_op, *start_args, sync=True)
            self._spool.append(op, *args, sync=op in _SYNC_OPS)
        except Exception as exc:  # the journal itself failed: say so once, keep going
            if not self.journal_problem:
                self.journal_problem = f"{self._spool.path}: {type(exc).__name__}: {exc}"
                _log().warning(
                    "carbonledger: measurements could not be journalled either (%s)",
                    self.journal_problem,
                )

    def start(self) -> None:
        """Start the writer thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._loop, name="carbonledger-writer", daemon=True
            )
            self._thread.start()

    def write_now(self, op: str, *args: Any) -> None:
        """Make a write from the calling thread — the sampler's, whose samples need no hand-off
        to another thread (one wake-up less per tick). Never call it from the user's thread:
        it may wait on the database (boundedly), and journals on failure like the writer."""
        self._write(op, args)

    def submit(self, op: str, *args: Any) -> None:
        """Hand a write to the writer thread (returns at once)."""
        with self._idle:
            self._pending += 1
        self._queue.put((op, args))

    def _loop(self) -> None:
        while True:
            op, args = self._queue.get()
            if not op:
                return
            try:
                self._write(op, args)
            finally:
                with self._idle:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.notify_all()

    def replay_pending(self) -> None:
        """Replay, from the writer thread, the journals other members left for this ledger
        (the "next successful open" of :mod:`carbonledger.run.journal`)."""
        self.submit("_replay")

    def _replay(self) -> None:
        from carbonledger.run.journal import pending, replay

        ledger = self._ledger
        if ledger is None:
            return
        for path in pending(self._spool.directory, self._spool.target):
            if path == self._spool.path:
                continue
            try:
                done = replay(path, ledger)
            except Exception as exc:  # a journal that cannot be read: leave it for sync
                _log().warning("carbonledger: journal %s not replayed: %s", path, exc)
                continue
            if done.done:
                _log().info("carbonledger: replayed %d writes from %s", done.calls, path)

    def _write(self, op: str, args: tuple[Any, ...]) -> None:
        with self._write_lock:
            self._write_locked(op, args)

    def _write_locked(self, op: str, args: tuple[Any, ...]) -> Any:
        """The ledger's answer to one call, or None once it is journalled instead."""
        if op == "_replay":
            self._replay()
            return None
        if self._ledger is not None:
            try:
                result = getattr(self._ledger, op)(*args)
            except Exception as exc:
                self._fail(f"{type(exc).__name__}: {exc}")
            else:
                if op in _START_OPS:  # a later journal begins with them
                    self._preamble.append((op, args))
                return result
        self._journal(op, args)
        return None

    def flush(self, timeout_s: float = 10.0) -> bool:
        """Wait until every write handed over so far is made (True) or ``timeout_s`` passed."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout_s)

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is queued (bounded by ``timeout_s``), stop the thread, close the journal.

        Writes still queued after the timeout (a ledger that hangs past its own bounds) are
        journalled from this thread so that nothing is lost.
        """
        thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout_s)
            if thread.is_alive():
                self._fail(f"the ledger did not answer within {timeout_s:g} s")
                while True:
                    try:
                        op, args = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if op:
                        self._journal(op, args)
        self._spool.close()


def _target_name(ledger: object) -> str:
    return str(getattr(ledger, "location", "") or type(ledger).__name__)


def open_recorder(
    ledger_arg: Ledger | bool | None,
    ledger_setting: str | None,
    run_id: str,
    member_id: str,
    env: Mapping[str, str],
) -> tuple[Recorder, str | None, Ledger | None]:
    """The recorder of a run's writes, where they go, and the ledger when it could be opened.

    ``ledger_arg`` is a Ledger object, False (no durable ledger: an in-memory one), or
    None/True (the ledger named by ``ledger_setting``, else the default per-user file). A
    ledger that cannot be opened gives a recorder that journals from the start.
    """
    from carbonledger.ledger import open_ledger
    from carbonledger.ledger.paths import default_ledger_file, is_postgres_url
    from carbonledger.run.journal import spool_dir

    directory = spool_dir(env)
    if ledger_arg is False:
        memory = open_ledger(":memory:")
        spool = Spool("memory", run_id, member_id, directory=directory)
        return Recorder(memory, spool), None, memory
    if ledger_arg is None or ledger_arg is True:
        target = ledger_setting or default_ledger_file(env)
        if not is_postgres_url(target):
            target = os.path.abspath(target)  # a journal may be replayed from elsewhere
        spool = Spool(target, run_id, member_id, directory=directory)
        try:
            ledger: Ledger = open_ledger(target)
        except Exception as exc:
            problem = f"{type(exc).__name__}: {exc}"
            return Recorder(None, spool, problem=problem), None, None
        location = _target_name(ledger)
        recorder = Recorder(ledger, spool)
        recorder.replay_pending()
        return recorder, location, ledger
    else:
        ledger, location = ledger_arg, _target_name(ledger_arg)
        spool = Spool(location, run_id, member_id, directory=directory)
    recorder = Recorder(ledger, spool)
    return recorder, location, ledger
