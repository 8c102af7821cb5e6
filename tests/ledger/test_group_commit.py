"""Ticks written ahead, committed together: what the ledger and the journal hold, and when.

A sampler's tick is signed and appended to the member's journal at once; the ledger gets the
ticks together every commit period (a third of the lease at most), and at once whatever
changes the run (metadata, an end), a flush or the stop. A window's end waits like a tick. These tests read the ledger file and the journal
file as they are at each step.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

import carbonledger as cl
from carbonledger.events import (
    Heartbeat,
    MemberChain,
    MemberJoined,
    RunOpened,
    SamplesAdded,
    WindowEnded,
)
from carbonledger.ledger import Ledger
from carbonledger.models import MemberRecord, RunRecord, Sample
from carbonledger.run.journal import Journal, journal_dir, pending, read_journal
from carbonledger.run.recording import Recorder
from carbonledger.testing import FakeSensor


def _tracker(ledger: str, interval_s: float = 0.05) -> cl.Tracker:
    info = cl.SensorInfo("gpu", "gpu:0", "fake", True, uid="GPU-0")
    return cl.Tracker(
        "ahead", grid_g_per_kwh=100, ledger=ledger, interval_s=interval_s,
        sensors=[FakeSensor(info, 100.0, time.monotonic)], handle_signals=False,
    )  # fmt: skip


def _samples(ledger: str, run_id: str) -> int:
    with cl.open_ledger(ledger, read_only=True) as led:
        return len(led.samples(run_id))


def _journalled(run_id: str) -> int:
    """Ticks of ``run_id`` in the journals on this machine."""
    n = 0
    for path in pending(journal_dir()):
        n += sum(1 for b in read_journal(path)[1] if b.decode().run_id == run_id)
    return n


def test_ticks_wait_in_the_journal_until_a_flush_commits_them(tmp_path: Path) -> None:
    ledger = str(tmp_path / "l.sqlite")
    run = _tracker(ledger).start()
    try:
        # well within the first 30 s commit period; the ledger read before the journal, so
        # a commit between the two reads (the start's settle question makes one) undercounts
        deadline = time.monotonic() + 10.0
        while True:
            at_start = _samples(ledger, run.run_id)
            written_ahead = _journalled(run.run_id)
            if written_ahead >= 5 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert at_start >= 1  # the run's opening sample, committed with its start
        assert written_ahead >= 5  # each tick signed into the journal as it was taken
        run.flush()
        assert _samples(ledger, run.run_id) >= at_start + written_ahead
    finally:
        run.stop()
    assert pending(journal_dir()) == []  # nothing left behind by a run that stopped
    with cl.open_ledger(ledger, read_only=True) as led:
        assert led.verify().ok


def _windows(ledger: str, run_id: str) -> list[str]:
    with cl.open_ledger(ledger, read_only=True) as led:
        return [w.name for w in led.windows(run_id)]


def _journalled_windows(run_id: str) -> list[str]:
    names = []
    for path in pending(journal_dir()):
        for b in read_journal(path)[1]:
            batch = b.decode()
            if batch.run_id == run_id:
                names += [e.window.name for e in batch.events if isinstance(e, WindowEnded)]
    return names


def test_a_window_end_is_written_ahead_and_committed_with_the_ticks(tmp_path: Path) -> None:
    """A window's end is measured data like a tick: signed into the journal at once, in the
    ledger at the next commit (or a flush); metadata changes the run and is committed at once
    with everything written ahead before it."""
    ledger = str(tmp_path / "l.sqlite")
    run = _tracker(ledger).start()
    try:
        with run.window("epoch-0"):
            time.sleep(0.3)
        deadline = time.monotonic() + 2.0  # the writer signs it in the background
        while time.monotonic() < deadline and not _journalled_windows(run.run_id):
            time.sleep(0.02)
        assert _journalled_windows(run.run_id) == ["epoch-0"]
        assert _windows(ledger, run.run_id) == []  # not committed yet: the period is 10 s
        with run.window("epoch-1"):
            time.sleep(0.1)
        run.update_meta({"note": "shape"})  # committed at once, with what came before it
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and len(_windows(ledger, run.run_id)) < 2:
            time.sleep(0.02)
        assert _windows(ledger, run.run_id) == ["epoch-0", "epoch-1"]
        assert _samples(ledger, run.run_id) >= 5  # the ticks of the windows came with them
    finally:
        run.stop()
    with cl.open_ledger(ledger, read_only=True) as led:
        assert led.verify().ok


def test_a_window_written_ahead_survives_a_kill_through_the_journal(tmp_path: Path) -> None:
    """The windows a killed member wrote ahead are in its journal and replayed into the
    ledger by the next writer: a window is never lost to the commit period."""
    import os
    import subprocess
    import sys

    ledger = str(tmp_path / "l.sqlite")
    code = (
        "import time, carbonledger as cl\n"
        f"run = cl.Tracker('ahead', grid_g_per_kwh=100, ledger={ledger!r}, interval_s=0.1,"
        " handle_signals=False).start()\n"
        "for k in range(3):\n"
        "    with run.window(f'step-{k}'):\n"
        "        time.sleep(0.05)\n"
        "time.sleep(0.5)\n"
        "print(run.run_id, flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "CARBONLEDGER_NO_CLOUD_PROBE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    try:
        assert proc.stdout is not None
        run_id = proc.stdout.readline().decode().strip()
        assert _windows(ledger, run_id) == []  # all three wait in the journal
        proc.kill()
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
        if proc.stdout is not None:
            proc.stdout.close()
    with cl.open_ledger(ledger) as led:
        from carbonledger.run.journal import replay_pending

        replay_pending(led)
        assert [w.name for w in led.windows(run_id)] == ["step-0", "step-1", "step-2"]
        assert led.verify().ok


def _opened_recorder(tmp_path: Path, lease_ttl_s: float) -> tuple[Ledger, Journal, Recorder]:
    """A recorder on a new SQLite ledger (run r1, member m1), its run opened and committed."""
    led = cl.open_ledger(str(tmp_path / "l.sqlite"))
    now = time.time()
    chain = MemberChain("r1", "m1", led.signer())
    journal = Journal(led.location, "r1", "m1", directory=str(tmp_path / "spool"))
    recorder = Recorder(chain, journal, ledger=led, lease_ttl_s=lease_ttl_s)
    recorder.start()
    run = RunRecord("r1", "p", "e", now, "process", "FR", "argument", 50.0, "x", 1.0, "x")
    member = MemberRecord("m1", "r1", "h", 1, now)
    recorder.emit([RunOpened(run), MemberJoined(member, lease_ttl_s)])
    assert recorder.flush(5.0)
    return led, journal, recorder


def test_ticks_are_committed_every_period_without_a_flush(tmp_path: Path) -> None:
    """A recorder with a 0.6 s lease commits its ticks every 0.2 s by itself."""
    led, journal, recorder = _opened_recorder(tmp_path, 0.6)
    try:
        for k in range(20):
            t = time.time()
            recorder.record_tick([SamplesAdded((Sample(t, "cpu", "cpu", float(k), 1.0),))])
            time.sleep(0.05)
        samples = led.samples("r1")
        assert len(samples) >= 10  # committed by the period, nobody asked
        assert time.time() - max(s.time_unix_s for s in samples) <= 0.2 + 0.05 + 0.5
    finally:
        recorder.close()
    assert len(led.samples("r1")) == 20
    assert not Path(journal.path).exists()
    led.close()


def test_window_ends_are_signed_with_the_next_tick(tmp_path: Path) -> None:
    """Window ends wait for the sampler's next tick and share its signed batch: many windows
    a second cost a signature a tick (or one per MAX_WAITING windows), none is lost, and the
    chain verifies."""
    from carbonledger.run.recording import MAX_WAITING

    ledger = str(tmp_path / "l.sqlite")
    run = _tracker(ledger, interval_s=0.2).start()
    try:
        for k in range(1000):
            with run.window(f"step-{k}"):
                pass
        time.sleep(0.5)  # two ticks or more
    finally:
        run.stop()
    with cl.open_ledger(ledger, read_only=True) as led:
        names = [w.name for w in led.windows(run.run_id)]
        assert sorted(names) == sorted(f"step-{k}" for k in range(1000))
        assert led.verify().ok
        path = led.location
    import sqlite3

    with sqlite3.connect(path) as db:
        bodies = [row[0] for row in db.execute("SELECT canonical FROM seals")]
    with_windows = [b for b in bodies if '"window_ended"' in b]
    # 1,000 windows in at most 1000/MAX_WAITING + a few batches, not 1,000 batches
    assert len(with_windows) <= 1000 // MAX_WAITING + 4
    assert any('"samples_added"' in b for b in with_windows)  # a tick carried windows


def test_the_writer_backlog_is_bounded_in_events(tmp_path: Path) -> None:
    """Window ends handed on to a writer that does not keep up (here: not running) count
    by the event: once MAX_BACKLOG events wait, each emit waits for the writer (at most
    BACKLOG_WAIT_S), however the events were grouped; memory does not grow with the run."""
    from carbonledger.models import ComponentEnergy, WindowSummary
    from carbonledger.run.backlog import BACKLOG_WAIT_S, MAX_BACKLOG
    from carbonledger.run.recording import MAX_WAITING

    led = cl.open_ledger(str(tmp_path / "l.sqlite"))
    chain = MemberChain("r1", "m1", led.signer())
    journal = Journal(led.location, "r1", "m1", directory=str(tmp_path / "spool"))
    recorder = Recorder(chain, journal, ledger=led)  # its writer is never started
    recorder.expect_ticks(1.0)
    part = ComponentEnergy("cpu", "cpu", "model", False, 1.0, 0.1)

    def window(k: int) -> WindowEnded:
        return WindowEnded(WindowSummary(f"w{k}", f"w{k}", 1.7e9 + k, 0.1, (part,)))

    groups = -(-MAX_BACKLOG // (MAX_WAITING + 1))  # hand-ons of MAX_WAITING + 1 events
    try:
        t0 = time.monotonic()
        for k in range(groups * (MAX_WAITING + 1)):
            recorder.emit([window(k)])
        assert time.monotonic() - t0 < 1.0  # none of these waited
        t1 = time.monotonic()
        recorder.emit([window(-1)])
        assert time.monotonic() - t1 >= BACKLOG_WAIT_S * 0.8  # the backlog is full: it waited
    finally:
        recorder.close(0.0)
        led.close()


def test_a_commit_empties_the_journal(tmp_path: Path) -> None:
    """Ticks written ahead, then committed by a flush: the journal holds its header alone
    (nothing else writes meanwhile here, so the emptying is not deferred)."""
    led, journal, recorder = _opened_recorder(tmp_path, 30.0)
    now = time.time()
    try:
        for k in range(5):
            recorder.record_tick([SamplesAdded((Sample(now + k, "cpu", "cpu", float(k), 1.0),))])
        assert len(read_journal(journal.path)[1]) == 5  # written ahead, not committed
        header = Path(journal.path).read_bytes().split(b"\n", 1)[0] + b"\n"
        assert len(led.samples("r1")) == 0
        assert recorder.flush(5.0)
        assert len(led.samples("r1")) == 5
        assert read_journal(journal.path)[1] == []  # emptied once committed
        assert Path(journal.path).read_bytes() == header  # the header kept as it was
        recorder.record_tick([SamplesAdded((Sample(now + 5, "cpu", "cpu", 5.0, 1.0),))])
        assert len(read_journal(journal.path)[1]) == 1  # and written after it again
    finally:
        recorder.close()
    led.close()


def test_a_forced_append_does_not_wait_for_the_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch that changes the run is forced to disk by a thread of the journal's own: the
    thread that appended (the user's, at a start while the ledger is locked) goes on at once;
    appends forced while a force runs are forced by one more round; close() forces the rest
    before it returns. The disk is slow here: each fsync takes 0.5 s."""
    forced: list[int] = []
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        forced.append(fd)
        time.sleep(0.5)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    journal = Journal(str(tmp_path / "l.sqlite"), "r1", "m1", directory=str(tmp_path / "spool"))
    chain = MemberChain("r1", "m1", None)
    started = time.monotonic()
    for _ in range(3):
        journal.append(chain.make([Heartbeat(90.0)]), sync=True)
    assert time.monotonic() - started < 0.45  # none of the three waited for a 0.5 s fsync
    deadline = time.monotonic() + 5.0
    while len(forced) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.7)  # the second round ends; no third comes
    assert len(forced) == 2  # the first append's round, and one more for the two after it
    journal.close()
    assert len(forced) == 3  # close() forced the journal itself before it returned
    _, batches, cut = read_journal(journal.path)
    assert [b.decode().seq for b in batches] == [1, 2, 3] and cut == 0


@pytest.mark.parametrize(
    "body",
    ['{"note":"plain"}', '{"note":"quote \\" backslash \\\\ tab \\t é ✓ 😀 \\u2028 \\u0001"}'],
)
def test_a_journal_line_reads_back_as_the_batch_appended(tmp_path: Path, body: str) -> None:
    """The journal writes a batch's line without building its dict (once a tick): what is read
    back is the batch appended, every character of its body and of its signature kept, and
    the line is the JSON object of the four fields, ASCII only."""
    from carbonledger.events import SignedBatch, body_hash

    batch = SignedBatch(body, body_hash(body), "ab" * 32, "cd" * 64)
    journal = Journal("ledger.sqlite", "r" * 32, "m" * 32, directory=str(tmp_path))
    journal.append(batch)
    journal.close()
    lines = Path(journal.path).read_bytes().splitlines()
    assert lines[1].isascii()
    assert json.loads(lines[1]) == batch.to_dict()
    assert [b.to_dict() for b in read_journal(journal.path)[1]] == [batch.to_dict()]
