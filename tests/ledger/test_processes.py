"""Many processes at once in one SQLite ledger, and a process killed mid-run."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from carbonledger.events import MemberChain, MemberJoined, RunOpened, SamplesAdded
from carbonledger.ledger import MemberRecord, RunRecord, open_ledger
from carbonledger.models import Sample

from .conftest import Backend, Clock

WORKER = str(Path(__file__).with_name("_ledger_worker.py"))


def test_32_processes_write_their_own_runs_at_once(tmp_path: Path) -> None:
    target = str(tmp_path / "shared.sqlite")
    n, batches, size = 32, 20, 10
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, "run", target, f"run-{k:02d}", str(batches), str(size)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for k in range(n)
    ]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        assert out.strip() == "done"
    led = open_ledger(target)
    try:
        runs = led.list_runs()
        assert len(runs) == n
        assert all(s.status == "completed" for s in runs)
        assert all(s.energy_j == pytest.approx(batches * size) for s in runs)
        report = led.verify()
        assert report.ok, report.problems
    finally:
        led.close()
    import sqlite3

    conn = sqlite3.connect(target)
    try:
        # one signed batch per write: the opening, each tick, the end
        kinds = dict(conn.execute("SELECT kind, count(*) FROM seals GROUP BY kind"))
        counts = dict(conn.execute("SELECT run_id, count(*) FROM samples_view GROUP BY run_id"))
    finally:
        conn.close()
    assert kinds == {"events:opened": n, "events": n * batches, "events:finished": n}
    assert counts == {f"run-{k:02d}": batches * size for k in range(n)}


def test_killed_process_leaves_an_interrupted_run_with_its_committed_energy(
    tmp_path: Path,
) -> None:
    target = str(tmp_path / "l.sqlite")
    proc = subprocess.Popen(
        [sys.executable, WORKER, "hang", target, "victim", "7", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == "committed 7.0", proc.stderr.read() if proc.stderr else ""
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)  # reaps it and closes its pipes
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    led = open_ledger(target)
    try:
        assert led.summary("victim").status == "running"  # within its 30 s lease TTL
    finally:
        led.close()
    later = open_ledger(target, clock=lambda: time.time() + 40.0)
    try:
        s = later.summary("victim")
        assert s.status == "interrupted"
        assert s.energy_j == pytest.approx(3 * 7.0)  # three devices at their last sample
        assert all(c.method == "test" and c.measured for c in s.components)
        assert later.verify().ok
        assert later.settle() == ["victim"]  # a writer records it: what the member signed
        s = later.summary("victim")
        assert s.status == "interrupted" and s.energy_j == pytest.approx(3 * 7.0)
        report = later.verify()
        assert report.ok and not report.notes, (report.problems, report.notes)
    finally:
        later.close()


def test_ranks_of_one_run_count_the_shared_cpu_once(backend: Any, tmp_path: Path) -> None:
    """Six processes join one run at once (SQLite and PostgreSQL): one wins the CPU lease."""
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, WORKER, "member", backend.target, "job-1", "6", str(barrier)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    counted = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        counted.append(int(out))
    assert sorted(counted) == [1, 1, 1, 1, 1, 2]
    led = open_ledger(backend.target)
    try:
        s = led.summary("job-1")
        assert s.status == "completed"
        assert s.energy_j == pytest.approx(6 * 100.0 + 10.0)
        assert len(s.extra["members"]) == 6
        report = led.verify()
        assert report.ok, report.problems
    finally:
        led.close()


def test_two_replays_of_one_journal_at_once_duplicate_nothing(
    backend: Backend, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    """Two writers (two connections) append the same signed batches at the same time, as two
    replays of one journal do: each batch is recorded once, neither writer fails."""
    a, b = backend.open(clock), backend.open(clock)
    try:
        chain = MemberChain("run-1", "m", a.signer(), clock=clock)
        joined = MemberJoined(MemberRecord("m", "run-1", "h", 1, clock()), 5)
        batches = [chain.make([RunOpened(make_run()), joined])]
        for i in range(1, 200):
            batches.append(chain.make([SamplesAdded((Sample(clock() + i, "cpu", "cpu:0", i),))]))
        errors: list[BaseException] = []
        new = [0, 0]

        def replay(k: int) -> None:
            led = (a, b)[k]
            try:
                for i in range(0, len(batches), 10):
                    new[k] += led.append(batches[i : i + 10])
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=replay, args=(k,)) for k in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert sum(new) == len(batches)
        assert a.verify().records == len(batches) and a.verify().ok
        assert len(a.samples("run-1")) == len(batches) - 1
    finally:
        a.close()
        b.close()
