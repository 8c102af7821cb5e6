"""The joins between a measurement and its record, attacked: a SIGKILL, an edited or planted
journal, an outage then a sync, a status reset then a settle, a heartbeat in the future, a
locked ledger at start, a statement from a tampered ledger. Each on SQLite and PostgreSQL.

Every fault is real: a process killed with SIGKILL, a database lock held by another
connection, a journal file edited on disk, a key of another user.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import carbonledger as cl
from carbonledger.events import MemberChain, MemberJoined, RunOpened, SamplesAdded
from carbonledger.ledger.keys import Signer, load_or_create_signing_key, public_key_pem
from carbonledger.models import MemberRecord, RunRecord, Sample
from carbonledger.run.journal import (
    Journal,
    journal_dir,
    pending,
    read_journal,
    replay_pending,
)
from carbonledger.run.recording import COMMIT_EVERY_S
from carbonledger.testing import FakeSensor

BUSY = "import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"
BUSY_THEN_MARK = (
    "import time, sys\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"
    "open(sys.argv[1], 'w').close()\n"
)


def _cli(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "carbonledger", *args],
        capture_output=True, text=True, timeout=120, **kw,
    )  # fmt: skip


def _pin(tmp_path: Path) -> str:
    """A file holding this user's public key: the pin a verifier trusts."""
    pin = tmp_path / "me.pub"
    pin.write_text(public_key_pem(load_or_create_signing_key().public_hex))
    return str(pin)


def _start_run(target: str, code: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "carbonledger", "run", "--ledger", target, "--interval", "0.5",
         "--grid", "100", "--json", "--", sys.executable, "-c", code, *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip


def _kill(proc: subprocess.Popen[str]) -> float:
    """SIGKILL the tracking process and its child; the time of the kill."""
    t = time.time()
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    return t


def _run_ids(backend: Any) -> set[str]:
    try:
        return {str(r[0]) for r in backend.execute("SELECT run_id FROM runs")}
    except Exception:  # the file or the schema is not there yet
        return set()


def _wait_for_the_run(backend: Any, timeout_s: float = 60.0) -> None:
    """Until the ledger holds the run's opening batch."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        try:
            if backend.execute("SELECT run_id FROM runs"):
                return
        except Exception:  # the file or the schema is not there yet
            pass
        time.sleep(0.05)
    raise AssertionError("the run never reached the ledger")


def _latest(rows: Any) -> dict[str, tuple[float, float]]:
    """The newest (energy, time) of each device among ``(device, energy, time)`` rows."""
    latest: dict[str, tuple[float, float]] = {}
    for device, energy, t in rows:
        if device not in latest or float(t) >= latest[device][1]:
            latest[device] = (float(energy), float(t))
    return latest


def _committed(backend: Any) -> tuple[str, float, float]:
    """The one run's id, the energy of its committed samples (the newest of each device,
    summed) and the time of its newest sample."""
    (run_id,) = [r[0] for r in backend.execute("SELECT run_id FROM runs")]
    latest = _latest(_ledger_samples(backend, run_id))
    return run_id, sum(e for e, _ in latest.values()), max(t for _, t in latest.values())


def _ledger_samples(backend: Any, run_id: str) -> list[tuple[str, float, float]]:
    return [
        (str(d), float(e), float(t))
        for d, e, t in backend.execute(
            "SELECT d.device, s.energy_j, s.time_unix_s FROM samples s JOIN devices d "
            "ON d.device_ref = s.device_ref WHERE d.run_id = ?",
            (run_id,),
        )
    ]


def _signed(backend: Any, run_id: str) -> tuple[float, float]:
    """What the killed process had signed: its committed samples and those it wrote ahead
    into its journal on this machine (energy of the newest of each device, summed; the time
    of the newest)."""
    rows = _ledger_samples(backend, run_id)
    for path in pending(journal_dir()):
        for batch in read_journal(path)[1]:
            decoded = batch.decode()
            if decoded.run_id != run_id:
                continue
            for event in decoded.events:
                if isinstance(event, SamplesAdded):
                    rows += [(s.device, s.energy_j, s.time_unix_s) for s in event.samples]
    latest = _latest(rows)
    return sum(e for e, _ in latest.values()), max(t for _, t in latest.values())


def _settle_later(target: str) -> cl.RunSummary:
    """As the next writer on this machine does: replay the journals left for the ledger, then
    settle with a clock two minutes on (every lease has run out); read the run."""
    with cl.open_ledger(target, clock=lambda: time.time() + 120) as led:
        replay_pending(led)
        led.settle()
        (run,) = led.list_runs()
    return run


@pytest.mark.parametrize("kill_after_s", [1.3, 4.1, 7.2])
def test_sigkill_mid_run_loses_at_most_one_interval(
    backend: Any, tmp_path: Path, kill_after_s: float
) -> None:
    """Killed while its busy command runs, the run has signed its samples to within one
    interval of the kill (committed, or written ahead into its journal: the ledger alone lags
    by at most one commit period), and once the journal is replayed it is settled with the
    energy of every sample signed."""
    proc = _start_run(backend.target, BUSY.format(seconds=30))
    _wait_for_the_run(backend)  # the tracker's start (a busy machine can take a while)
    time.sleep(kill_after_s)
    killed_at = _kill(proc)
    run_id, committed_j, newest_committed_s = _committed(backend)
    signed_j, newest_s = _signed(backend, run_id)
    assert signed_j > 0 and signed_j >= committed_j
    slack = 1.0  # a loaded machine's
    assert killed_at - newest_s <= 0.5 + slack  # one interval
    assert killed_at - newest_committed_s <= COMMIT_EVERY_S + 0.5 + slack
    run = _settle_later(backend.target)
    assert run.run_id == run_id and run.status == "interrupted"
    assert run.energy_j == pytest.approx(signed_j)
    assert pending(journal_dir()) == []  # replayed, then removed
    with cl.open_ledger(backend.target, read_only=True) as led:
        report = led.verify([_pin(tmp_path)])
    assert report.ok, report.problems


def test_sigkill_just_after_the_command_exits_keeps_its_energy(
    backend: Any, tmp_path: Path
) -> None:
    """Killed 0-8 ms after its command exited (while it stops), the run keeps every joule it
    signed: its own end when it got that far, else a settlement from its last sample."""
    marker = tmp_path / "done"
    proc = _start_run(backend.target, BUSY_THEN_MARK.format(seconds=1.5), str(marker))
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.001)
    time.sleep(0.004)
    _kill(proc)
    run_id, committed_j, _ = _committed(backend)
    signed_j, _ = _signed(backend, run_id)
    assert signed_j > 0 and signed_j >= committed_j
    run = _settle_later(backend.target)
    assert run.status in ("completed", "interrupted")
    assert run.energy_j >= signed_j * (1 - 1e-9) and run.energy_j > 0


def test_what_a_killed_run_wrote_ahead_reaches_the_ledger_by_the_next_command(
    backend: Any,
) -> None:
    """The batches a killed tracker had signed but not committed are replayed by the next
    tracker on that ledger (its start), and by ``carbonledger settle``: the ledger then holds
    every sample the killed run signed."""
    for next_command in (
        ["run", "--ledger", backend.target, "--", sys.executable, "-c", "pass"],
        ["settle", "--ledger", backend.target, "--json"],
    ):
        before = _run_ids(backend)
        proc = _start_run(backend.target, BUSY.format(seconds=30))
        deadline = time.time() + 60
        while not _run_ids(backend) - before and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(2.5)  # within the first commit period: the tail is in the journal only
        _kill(proc)
        (run_id,) = _run_ids(backend) - before
        signed_j, newest_s = _signed(backend, run_id)
        assert pending(journal_dir()), "the killed run left nothing written ahead"
        done = _cli(*next_command)
        assert done.returncode == 0, done.stderr
        if next_command[0] == "settle":
            assert json.loads(done.stdout)["replayed_batches"] > 0
        latest = _latest(_ledger_samples(backend, run_id))
        assert max(t for _, t in latest.values()) == pytest.approx(newest_s)
        assert sum(e for e, _ in latest.values()) == pytest.approx(signed_j)
        assert pending(journal_dir()) == []


def test_a_settlement_made_before_the_journal_is_replayed_is_superseded(
    backend: Any, tmp_path: Path
) -> None:
    """A settler that cannot see the killed process's journal (another machine) seals the
    run with what was committed; once the journal is replayed the member's later batches
    supersede that settlement, and the next settlement carries every signed sample. No
    energy is lost and the record verifies at each step."""
    proc = _start_run(backend.target, BUSY.format(seconds=30))
    _wait_for_the_run(backend)
    time.sleep(2.5)  # within the first commit period: the ticks are in the journal only
    _kill(proc)
    run_id, committed_j, _ = _committed(backend)
    signed_j, _ = _signed(backend, run_id)
    assert signed_j > committed_j
    later = lambda: time.time() + 120  # noqa: E731  (every lease has run out)
    with cl.open_ledger(backend.target, clock=later) as led:
        assert led.settle() == [run_id]  # elsewhere: no journal to replay
        first = led.summary(run_id)
        assert first.status == "interrupted"
        assert first.energy_j == pytest.approx(committed_j)
        assert sum(r.batches for r in replay_pending(led)) > 0  # the killed machine's turn
        assert led.settle() == [run_id]  # it signed after the first settlement
        final = led.summary(run_id)
    assert final.status == "interrupted"
    assert final.energy_j == pytest.approx(signed_j)
    with cl.open_ledger(backend.target, read_only=True) as led:
        report = led.verify([_pin(tmp_path)])
    assert report.ok, report.problems


def _journal_of_an_outage(tmp_path: Path) -> tuple[str, str]:
    """A run whose ledger could not be made at all: its journal, and its run id."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    info = cl.SensorInfo("cpu", "cpu:0", "fake", True)
    run = cl.Tracker(
        "outage", grid_g_per_kwh=50, ledger=str(blocker / "l.sqlite"), interval_s=0.05,
        sensors=[FakeSensor(info, 100.0, time.monotonic)], handle_signals=False,
    )  # fmt: skip
    with run:
        with run.window("epoch-0"):
            time.sleep(0.2)
    (path,) = pending(journal_dir())
    return path, run.run_id


def _edit_journal(path: str, old: str, new: str, *, rehash: bool) -> None:
    """Change ``old`` to ``new`` in the journal's batches (and their hashes, as a forger
    without the key could)."""
    import hashlib

    lines = Path(path).read_text().splitlines()
    out = [lines[0]]
    for line in lines[1:]:
        d = json.loads(line)
        if old in d["body"]:
            d["body"] = d["body"].replace(old, new)
            if rehash:
                d["hash"] = hashlib.sha256(d["body"].encode()).hexdigest()
        out.append(json.dumps(d))
    Path(path).write_text("\n".join(out) + "\n")


@pytest.mark.parametrize("rehash", [False, True])
def test_an_edited_journal_is_refused_whole(tmp_path: Path, rehash: bool) -> None:
    path, _ = _journal_of_an_outage(tmp_path)
    _edit_journal(path, '"intensity_g_per_kwh":50.0', '"intensity_g_per_kwh":4.4', rehash=rehash)
    before = Path(path).read_bytes()
    target = str(tmp_path / "good.sqlite")
    out = _cli("sync", "--ledger", target)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "not replayed" in out.stdout
    assert ("changed after it was signed" in out.stdout) != rehash
    assert ("does not hold" in out.stdout) == rehash
    assert Path(path).read_bytes() == before  # left as it was
    with cl.open_ledger(target) as led:
        assert led.list_runs() == []


def test_a_journal_planted_with_another_key_is_never_replayed(tmp_path: Path) -> None:
    """Another user's key signs a journal for the victim's ledger: neither the victim's next
    run nor a plain sync takes it; the victim's ledger verifies intact."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    target = str(tmp_path / "victim.sqlite")
    attacker = Signer(Ed25519PrivateKey.generate())
    chain = MemberChain("planted", "m-planted", attacker)
    run = RunRecord("planted", "p", "e", 1.7e9, "process", "FR", "argument", 4.4, "x", 1.0, "x")
    member = MemberRecord("m-planted", "planted", "h", 1, 1.7e9)
    journal = Journal(target, "planted", "m-planted", directory=journal_dir())
    journal.append(chain.make([RunOpened(run), MemberJoined(member, 15.0)]))
    journal.append(chain.make([SamplesAdded((Sample(1.7e9 + 1, "cpu", "cpu:0", 1e9),))]))
    journal.close()
    first = _cli("run", "--ledger", target, "--grid", "100", "--", sys.executable, "-c", "pass")
    assert first.returncode == 0, first.stderr
    with cl.open_ledger(target) as led:
        assert [r.run_id for r in led.list_runs()] != ["planted"]
        assert "planted" not in {r.run_id for r in led.list_runs()}
    out = _cli("sync")
    assert out.returncode == 1 and "which you do not trust" in out.stdout
    assert pending(journal_dir()) == [journal.path]
    with cl.open_ledger(target, read_only=True) as led:
        report = led.verify([_pin(tmp_path)])
    assert report.ok, report.problems


def _tracked(target: str, *, windows: int = 2, members: int = 2) -> str:
    """A completed run of ``members`` processes (sharing a run id), each with windows."""
    run_id = f"run-{os.urandom(4).hex()}"
    for k in range(members):
        info = cl.SensorInfo("gpu", f"gpu:{k}", "fake", True, uid=f"GPU-{k}")
        with cl.Tracker(
            "reset", run_id=run_id, grid_g_per_kwh=100, ledger=target, interval_s=0.05,
            sensors=[FakeSensor(info, 50.0, time.monotonic)], handle_signals=False,
        ) as run:  # fmt: skip
            for w in range(windows):
                with run.window(f"epoch-{w}"):
                    time.sleep(0.05)
    return run_id


def test_a_status_reset_is_not_laundered_by_settle(backend: Any, tmp_path: Path) -> None:
    run_id = _tracked(backend.target)
    backend.execute("UPDATE runs SET status = 'running', finished_unix_s = NULL")
    backend.execute(
        "UPDATE members SET status = 'running', finished_unix_s = NULL, components = NULL, "
        "heartbeat_unix_s = 0"
    )
    with cl.open_ledger(backend.target, clock=lambda: time.time() + 3600) as led:
        assert led.summary(run_id).status == "completed"  # the members signed their ends
        assert led.settle() == []  # nothing to settle: no status decided from columns
        report = led.verify([_pin(tmp_path)])
    assert not report.ok
    assert {(p.ref, p.kind) for p in report.problems} == {(run_id, "modified")}
    assert "status" in report.problems[0].detail


def test_a_heartbeat_in_the_future_keeps_nobody_alive(backend: Any, tmp_path: Path) -> None:
    proc = _start_run(backend.target, BUSY.format(seconds=30))
    _wait_for_the_run(backend)
    time.sleep(1.5)
    _kill(proc)
    (run_id,) = [r[0] for r in backend.execute("SELECT run_id FROM runs")]
    backend.execute("UPDATE seals SET claimed_unix_s = 9e9 WHERE member_seq IS NOT NULL")
    backend.execute("UPDATE members SET heartbeat_unix_s = 9e9")
    with cl.open_ledger(backend.target, clock=lambda: time.time() + 60) as led:
        assert led.summary(run_id).status == "interrupted"
        assert led.settle() == [run_id]
        report = led.verify([_pin(tmp_path)])
    assert not report.ok
    assert any("time reads 9000000000.0" in p.detail for p in report.problems)


def test_a_member_whose_own_clock_runs_ahead_is_not_alive_forever(backend: Any) -> None:
    """A batch signed with a time far ahead (a clock set wrong) keeps its member live no
    longer than any other: the reader's clock judges."""
    led = backend.open()
    now = time.time()
    chain = MemberChain("ahead", "m1", led.signer(), clock=lambda: now + 10 * 365 * 86400)
    run = RunRecord("ahead", "p", "e", now, "process", "FR", "argument", 50.0, "x", 1.0, "x")
    joined = MemberJoined(MemberRecord("m1", "ahead", "h", 1, now), 15.0)
    led.append([chain.make([RunOpened(run), joined])])
    assert led.summary("ahead").status == "interrupted"
    led.close()


def _lock(backend: Any) -> tuple[Any, Any]:
    """Hold the ledger's write lock from another connection (released by the returned
    function)."""
    if backend.name == "sqlite":
        holder = sqlite3.connect(backend.target, timeout=30, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")

        def release() -> None:
            holder.execute("ROLLBACK")
            holder.close()

        return holder, release
    import psycopg

    conn = psycopg.connect(backend.target)
    conn.execute("LOCK TABLE seals IN ACCESS EXCLUSIVE MODE")

    def release_pg() -> None:
        conn.rollback()
        conn.close()

    return conn, release_pg


@pytest.mark.parametrize("unlock", ["mid-run", "after-the-run"])
def test_an_outage_mid_run_then_sync_verifies_with_true_times(
    backend: Any, tmp_path: Path, unlock: str
) -> None:
    """An honest run whose ledger was locked for a while mid-run: the journal takes its
    batches, the ledger gets them (in the background when it answers again, or from
    ``sync``), and the run verifies intact with its own start and end times."""
    cl.open_ledger(backend.target).close()
    info = cl.SensorInfo("cpu", "cpu:0", "fake", True)
    run = cl.Tracker(
        "outage", grid_g_per_kwh=50, ledger=backend.target, interval_s=0.1,
        sensors=[FakeSensor(info, 100.0, time.monotonic)], handle_signals=False,
    )  # fmt: skip
    run.start()
    time.sleep(0.3)
    _, release = _lock(backend)
    locked = True
    try:
        for w in range(3):
            with run.window(f"epoch-{w}"):
                time.sleep(0.4)
        if unlock == "mid-run":
            release()
            locked = False
            from carbonledger.run.recording import RETRY_S

            time.sleep(RETRY_S + 1.0)  # the writer's next try of the ledger moves the journal
        mine = run.stop()
    finally:
        if locked:
            release()
    if unlock == "after-the-run":
        assert pending(journal_dir()), "the locked ledger's batches went to the journal"
        out = _cli("sync")
        assert out.returncode == 0, out.stdout + out.stderr
    assert pending(journal_dir()) == []
    with cl.open_ledger(backend.target, read_only=True) as led:
        stored = led.summary(mine.run_id)
        report = led.verify([_pin(tmp_path)])
    assert report.ok, report.problems
    assert stored.status == "completed"
    assert stored.energy_j == pytest.approx(mine.energy_j)
    assert stored.duration_s == pytest.approx(mine.duration_s, abs=0.1)
    assert [w.path for w in stored.windows] == ["epoch-0", "epoch-1", "epoch-2"]


def _child_start_delay(target: str) -> float:
    """Seconds from the call of ``carbonledger run`` to its command's first instruction."""
    t0 = time.time()
    out = _cli(
        "run", "--ledger", target, "--grid", "100", "--",
        sys.executable, "-c", "import time; print(repr(time.time()))",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    started = float(out.stdout.strip().splitlines()[0])
    return started - t0


def test_a_locked_ledger_does_not_delay_the_command(backend: Any) -> None:
    """With the ledger locked by another connection, the command starts as soon as half a
    second after an unlocked ledger's would (the run goes to the journal). Each case the
    better of two calls: a loaded machine's start-up noise is not the ledger's wait."""
    cl.open_ledger(backend.target).close()
    free = min(_child_start_delay(backend.target) for _ in range(2))
    _, release = _lock(backend)
    try:
        locked = min(_child_start_delay(backend.target) for _ in range(2))
    finally:
        release()
    assert locked - free < 0.75, (locked, free)


def test_a_silent_postgres_server_does_not_delay_the_command(tmp_path: Path) -> None:
    """A server that accepts the connection and never answers."""
    pytest.importorskip("psycopg")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    threading.Thread(target=accept, daemon=True).start()
    try:
        url = f"postgresql://u@127.0.0.1:{server.getsockname()[1]}/db"
        free = _child_start_delay(str(tmp_path / "free.sqlite"))
        silent = _child_start_delay(url)
    finally:
        server.close()
        for c in held:
            c.close()
    assert silent - free < 0.75, (silent, free)
    assert pending(journal_dir())  # the run is in the journal, nothing lost


def test_statements_from_a_tampered_ledger_are_refused(
    backend: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from carbonledger.cli.main import main

    run_id = _tracked(backend.target, members=1)
    pin = _pin(tmp_path)
    assert main(["report", run_id, "--format", "md", "--ledger", backend.target, "--key", pin]) == 0
    out = capsys.readouterr().out
    assert "verified against its signing key" in out
    assert main(["report", run_id, "--format", "md", "--ledger", backend.target]) == 0
    assert "not anchored" in capsys.readouterr().out
    backend.execute("UPDATE runs SET intensity_g_per_kwh = intensity_g_per_kwh / 10")
    for fmt in ("md", "latex"):
        code = main(["report", run_id, "--format", fmt, "--ledger", backend.target, "--key", pin])
        out, err = capsys.readouterr()
        assert code == 1 and out == ""
        assert "does not verify" in err and "intensity_g_per_kwh" in err
    assert main(["show", run_id, "--ledger", backend.target, "--key", pin]) == 1
    assert "does NOT verify" in capsys.readouterr().out


def test_two_syncs_at_once_duplicate_nothing(tmp_path: Path) -> None:
    path, run_id = _journal_of_an_outage(tmp_path)
    _, batches, _ = read_journal(path)
    target = str(tmp_path / "good.sqlite")
    cl.open_ledger(target).close()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "carbonledger", "sync", "--ledger", target],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for p in procs:
        p.communicate(timeout=120)
    with sqlite3.connect(target) as db:
        (n,) = db.execute("SELECT count(*) FROM seals WHERE run_id = ?", (run_id,)).fetchone()
        (dup,) = db.execute(
            "SELECT count(*) FROM (SELECT time_unix_s, device_ref FROM samples GROUP BY "
            "time_unix_s, device_ref HAVING count(*) > 1)"
        ).fetchone()
    assert n == len(batches) and dup == 0
