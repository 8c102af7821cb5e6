"""A failing ledger never stops or stalls the user's work, and loses nothing measured.

Each fault is real: a corrupt file, a path that cannot be created, a read-only file system,
a full disk (a file-size limit), a locked database, a PostgreSQL server that is not there.
The tracker must start anyway, keep measuring into the local journal, warn once, and the
journal must replay into a working ledger with every sample and window.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import carbonledger as cl
from carbonledger.ledger.keys import load_or_create_signing_key
from carbonledger.run.journal import journal_dir, pending, replay, trusted_for_replay

sys.path.insert(0, str(Path(__file__).parent))
from fakes import StepSensor


def trusted() -> set[str]:
    """The keys a replay takes: this user's own (the tests' key) and trusted ones."""
    return trusted_for_replay(load_or_create_signing_key().public_hex)


def sensors() -> list[StepSensor]:
    return [
        StepSensor("cpu", "cpu:package-0", 3600.0, host_wide=True),
        StepSensor("ram", "ram", 360.0, measured=False),
    ]


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "carbonledger", *args],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip


def _run_with_windows(ledger: object, caplog: pytest.LogCaptureFixture) -> cl.RunSummary:
    with caplog.at_level(logging.WARNING, logger="carbonledger"):
        run = cl.Tracker(
            "faulty", grid_g_per_kwh=100, sensors=sensors(), ledger=ledger, interval_s=0.05
        )
        run.start()  # must not raise
        for epoch in range(2):
            with run.window(f"epoch-{epoch}"):
                run.flush()
        summary = run.stop()
    return summary


def _assert_journalled_then_replayed(
    summary: cl.RunSummary, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    warnings = [r for r in caplog.records if "journal" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in caplog.records]  # warned once
    assert "carbonledger sync" in warnings[0].getMessage()  # ... naming the fix
    spool = summary.extra["spool"]
    assert os.path.exists(spool) and oct(os.stat(spool).st_mode & 0o777) == "0o600"
    assert any(e.startswith("ledger:") for e in summary.errors)
    assert summary.status == "completed" and summary.energy_j > 0
    # replay into a working ledger: the same run, its windows, its energy
    good = cl.open_ledger(str(tmp_path / "good.sqlite"))
    try:
        (path,) = pending(journal_dir())
        result = replay(path, good, trusted())
        assert result.done and result.batches >= 4
        stored = good.summary(summary.run_id)
        assert stored.status == "completed"
        assert [w.path for w in stored.windows] == ["epoch-0", "epoch-1"]
        assert stored.energy_j == pytest.approx(summary.energy_j)
    finally:
        good.close()
    from carbonledger.ledger import verify

    report = verify(str(tmp_path / "good.sqlite"))  # the replayed run is signed and sealed
    assert report.ok, report.problems
    assert pending(journal_dir()) == [] and not os.path.exists(spool)


def test_corrupt_ledger_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "corrupt.sqlite"
    bad.write_bytes(b"this is not a database, but it is where the ledger was" * 100)
    summary = _run_with_windows(str(bad), caplog)
    _assert_journalled_then_replayed(summary, caplog, tmp_path)
    assert bad.read_bytes().startswith(b"this is not a database")  # not overwritten


def test_ledger_path_that_cannot_be_created(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    summary = _run_with_windows(str(blocker / "ledger.sqlite"), caplog)
    _assert_journalled_then_replayed(summary, caplog, tmp_path)


def test_read_only_file_system(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """/proc refuses new files even to root: a read-only place for a ledger."""
    summary = _run_with_windows("/proc/carbonledger-test/ledger.sqlite", caplog)
    _assert_journalled_then_replayed(summary, caplog, tmp_path)


def test_locked_database_does_not_stall_window_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While another process holds the write lock, a window's end is handed to the writer:
    it returns at once, and the run's writes land (in the ledger or the journal) all the same."""
    path = tmp_path / "locked.sqlite"
    cl.open_ledger(str(path)).close()
    with caplog.at_level(logging.WARNING, logger="carbonledger"):
        run = cl.Tracker("locked", grid_g_per_kwh=100, sensors=sensors(), ledger=str(path))
        run.start()
        holder = sqlite3.connect(path, timeout=30, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            with run.window("epoch-0"):
                pass
            # the window's end returned while the lock is still held: it was handed off
            assert holder.in_transaction
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        summary = run.stop()
    assert summary.status == "completed"
    if "spool" in summary.extra:  # the writer gave up waiting: the journal has the rest
        with cl.open_ledger(str(path)) as ledger:
            (journal,) = pending(journal_dir())
            assert replay(journal, ledger, trusted()).done
    with cl.open_ledger(str(path)) as ledger:
        stored = ledger.summary(summary.run_id)
    assert stored.status == "completed" and [w.path for w in stored.windows] == ["epoch-0"]


def test_postgres_server_down(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    pytest.importorskip("psycopg")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://nobody@127.0.0.1:{port}/nothing?connect_timeout=2"
    summary = _run_with_windows(url, caplog)
    _assert_journalled_then_replayed(summary, caplog, tmp_path)


FULL_DISK = textwrap.dedent(
    """
    import json, resource, signal, sys
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    import time
    import carbonledger as cl
    from carbonledger.models import SensorInfo
    from carbonledger.testing import FakeSensor
    limit = int(sys.argv[2])
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    info = SensorInfo(component="cpu", device="cpu:0", method="fake", measured=True)
    sensors = [FakeSensor(info, 50.0, time.monotonic)]
    run = cl.Tracker("full", grid_g_per_kwh=100, sensors=sensors, ledger=sys.argv[1],
                     interval_s=0.01, tags={"pad": "x" * 190})
    run.start()
    for i in range(40):
        with run.window(f"step-{i}"):
            run.flush()
    s = run.stop()
    print(json.dumps({"run_id": s.run_id, "spool": s.extra.get("spool"),
                      "windows": len(s.windows), "errors": list(s.errors)}))
    """
)


def test_full_disk_mid_run(tmp_path: Path) -> None:
    """The ledger's file cannot grow past a file-size limit (as on a full disk): the run
    goes on, and the journal holds what the ledger could not take."""
    path = tmp_path / "full.sqlite"
    with cl.open_ledger(str(path)) as ledger:
        del ledger
    size = max(os.path.getsize(p) for p in tmp_path.glob("full.sqlite*"))
    env = {**os.environ, "CARBONLEDGER_NO_CLOUD_PROBE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(path), str(size + 8192)],
        capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["windows"] == 40 and result["spool"], result
    (journal,) = pending(journal_dir())
    with cl.open_ledger(str(tmp_path / "roomy.sqlite")) as roomy:
        assert replay(journal, roomy, trusted()).done
    # the ledger that filled up still opens: nothing in it was corrupted
    with cl.open_ledger(str(path)) as full:
        assert full.run_record(result["run_id"]).project == "full"


def test_sync_command_replays_into_the_named_ledger(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    summary = _run_with_windows(str(blocker / "ledger.sqlite"), caplog)
    env = {**os.environ}
    nothing = _cli("sync", env=env)  # the journal's own ledger still cannot be opened
    assert nothing.returncode == 1 and "kept" in nothing.stdout, nothing
    target = str(tmp_path / "fixed.sqlite")
    done = _cli("sync", "--ledger", target, "--json", env=env)
    assert done.returncode == 0, done.stderr
    (item,) = json.loads(done.stdout.strip().splitlines()[-1])
    assert item["done"] and item["batches"] >= 4
    with cl.open_ledger(target) as ledger:
        assert ledger.summary(summary.run_id).status == "completed"
    again = _cli("sync", env=env)
    assert again.returncode == 0 and "nothing to sync" in again.stdout


def test_next_tracker_on_the_ledger_replays_the_journal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A journal left for a ledger is replayed by the next tracker that opens it."""
    path = tmp_path / "flaky.sqlite"
    path.write_bytes(b"garbage" * 1000)
    first = _run_with_windows(str(path), caplog)
    assert pending(journal_dir())
    path.unlink()  # the user fixes the ledger
    with cl.Tracker("next", grid_g_per_kwh=100, sensors=sensors(), ledger=str(path)):
        pass
    assert pending(journal_dir()) == []
    with cl.open_ledger(str(path)) as ledger:
        assert ledger.summary(first.run_id).status == "completed"
