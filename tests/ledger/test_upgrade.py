"""Ledgers of earlier versions are upgraded by a writer, keep verifying, and the next runs
are signed batches of their writers:

* schema 1: one ledger key, kept beside the file (``data/ledger-v1.sql``);
* schema 2: records signed by each writer, checkpoints and seals, as carbonledger 0.1.0
  wrote them (``data/ledger-v2.sql``, its writer's public key ``data/ledger-v2.pub``): a
  completed run with two windows and ``slurm-77``, interrupted after a settle.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from carbonledger.errors import LedgerError
from carbonledger.events import WindowEnded
from carbonledger.ledger import MemberRecord, RunRecord, open_ledger
from carbonledger.ledger.keys import fingerprint, parse_public_key
from carbonledger.ledger.schema import SCHEMA_VERSION
from carbonledger.models import ComponentEnergy, Sample, SensorInfo, WindowSummary

from .conftest import Clock, Writer

DATA = Path(__file__).with_name("data")
OLD_KEY = "c55d22daf75d4be1ebc01fe9f05ab9372b9dc72432f8e4827838001caab85590"
V2_PUB = str(DATA / "ledger-v2.pub")
V2_KEY = parse_public_key((DATA / "ledger-v2.pub").read_text(), "ledger-v2.pub")
#: the schema-2 ledger's runs: (status, energy J, windows)
V2_RUNS = {
    "98c68a6a2647125b1579fb3702665779": ("completed", 225.0, 2),
    "slurm-77": ("interrupted", 1800.0, 0),
}
V2_HEAD = "21:d9575080c17aacf9b70fc659ad0c497f232233ab8dc6dc17835446a1864551c2"


def _load(path: Path, dump: str) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript((DATA / dump).read_text())
    conn.close()
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def v1(tmp_path: Path) -> Path:
    return _load(tmp_path / "old.sqlite", "ledger-v1.sql")


@pytest.fixture
def v2(tmp_path: Path) -> Path:
    return _load(tmp_path / "v2.sqlite", "ledger-v2.sql")


def test_an_old_ledger_is_read_only_until_a_writer_upgrades_it(v1: Path) -> None:
    with pytest.raises(LedgerError, match="carbonledger migrate"):
        open_ledger(v1, read_only=True)


def test_upgraded_ledger_keeps_verifying_and_new_runs_are_signed(
    v1: Path, make_run: Callable[..., RunRecord]
) -> None:
    led = open_ledger(v1)
    try:
        report = led.verify(use_trusted_file=False)
        assert report.ok, report.problems
        assert report.signers == [fingerprint(OLD_KEY)]
        assert [s.status for s in led.list_runs()] == ["completed", "completed"]
        write = Writer(led, Clock())
        write.open(make_run("new"), MemberRecord("m", "new", "h", 1, 0.0), 5)
        write.finish("new", "m", [], "completed")
        me = led.public_key()
        assert me is not None and me != OLD_KEY
        report = led.verify([OLD_KEY, me])  # both pinned: anchored and intact
        assert report.ok and report.anchored, report.problems
        only_mine = led.verify([me])  # the old runs were signed by the old ledger key
        assert {p.kind for p in only_mine.problems} == {"untrusted", "unsigned"}
    finally:
        led.close()
    conn = sqlite3.connect(v1)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        assert "carbonledger_keys" not in names
    finally:
        conn.close()
    reader = open_ledger(v1, read_only=True)
    try:
        assert reader.verify([OLD_KEY, me]).ok
    finally:
        reader.close()


def test_tampering_with_an_old_run_is_still_seen(v1: Path) -> None:
    conn = sqlite3.connect(v1)
    conn.execute("UPDATE runs SET pue = 1.0 WHERE run_id = 'old-2'")
    conn.commit()
    conn.close()
    led = open_ledger(v1)
    try:
        problems = led.verify([OLD_KEY]).problems
        assert [(p.ref, p.kind) for p in problems] == [("old-2", "modified")]
    finally:
        led.close()


def test_a_public_key_without_records_is_tampering(v1: Path) -> None:
    """An old ledger's key is there, its seals are gone (and the head reset): only tampering
    leaves that state."""
    conn = sqlite3.connect(v1)
    conn.execute("DELETE FROM seals")
    conn.execute(
        "UPDATE carbonledger_meta SET value = ? WHERE key = 'seal_head'",
        ('{"hash":"' + "0" * 64 + '","seq":0}',),
    )
    conn.commit()
    conn.close()
    led = open_ledger(v1)
    try:
        found = {(p.ref, p.kind) for p in led.verify(use_trusted_file=False).problems}
    finally:
        led.close()
    assert ("ledger", "deleted") in found
    assert {("old-1", "unsigned"), ("old-2", "unsigned")} <= found


# --- schema 2 (carbonledger 0.1.0) -------------------------------------------------------


def test_a_schema_2_ledger_is_read_only_until_a_writer_upgrades_it(v2: Path) -> None:
    before = _digest(v2)
    with pytest.raises(LedgerError, match="carbonledger migrate") as info:
        open_ledger(v2, read_only=True)
    assert str(v2) in str(info.value) and "version 2" in str(info.value)
    assert _digest(v2) == before  # nothing was written


def test_a_schema_2_ledger_upgrades_and_reads_as_before(v2: Path) -> None:
    conn = sqlite3.connect(v2)
    try:  # what carbonledger 0.1.0 recorded
        stored = dict(conn.execute("SELECT run_id, status FROM runs"))
    finally:
        conn.close()
    assert stored == {rid: status for rid, (status, _, _) in V2_RUNS.items()}
    led = open_ledger(v2, clock=Clock(1_800_000_000.0))
    try:
        got = {s.run_id: (s.status, s.energy_j, len(s.windows)) for s in led.list_runs()}
        assert got == {rid: (st, pytest.approx(e), w) for rid, (st, e, w) in V2_RUNS.items()}
        slurm = led.summary("slurm-77")
        assert slurm.hosts == ("node-0", "node-1") and len(slurm.components) == 2
        assert any("stopped heart-beating" in e for e in slurm.errors)
        assert [w.name for w in led.windows("98c68a6a2647125b1579fb3702665779")] == [
            "epoch-1",
            "epoch-2",
        ]
        assert led.run_record("slurm-77").tags == {"k": "v"}
        assert led.settle() == []  # nothing is running: nothing to record
    finally:
        led.close()
    conn = sqlite3.connect(v2)
    try:
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,) == (3,)
        columns = {r[1] for r in conn.execute("PRAGMA table_info(seals)")}
        assert {"member_seq", "batch_hash", "claimed_unix_s"} <= columns
        assert conn.execute(
            "SELECT count(*) FROM seals WHERE member_seq IS NOT NULL"
        ).fetchone() == (0,)  # the old records stay as they were
    finally:
        conn.close()
    reader = open_ledger(v2, read_only=True)  # upgraded: readers may open it now
    try:
        got = {s.run_id: (s.status, s.energy_j, len(s.windows)) for s in reader.list_runs()}
        assert got == {rid: (st, pytest.approx(e), w) for rid, (st, e, w) in V2_RUNS.items()}
    finally:
        reader.close()


def test_an_upgraded_schema_2_ledger_verifies_against_its_writers_key(v2: Path) -> None:
    led = open_ledger(v2)
    try:
        report = led.verify([V2_PUB], use_trusted_file=False)
        assert report.ok and report.anchored, report.problems
        assert report.head == V2_HEAD and report.runs == 2
        assert report.signers == [fingerprint(V2_KEY)]
        for rid in V2_RUNS:
            assert led.verify_run(rid, [V2_PUB], use_trusted_file=False).ok
        assert led.verify(expect_head=V2_HEAD, use_trusted_file=False).ok
        other = led.verify([OLD_KEY], use_trusted_file=False)
        assert {p.kind for p in other.problems} == {"untrusted", "unsigned"}
    finally:
        led.close()


@pytest.mark.parametrize("when", ["before", "after"])
def test_an_edit_of_an_old_run_is_still_seen(v2: Path, when: str) -> None:
    """An edit made in the file of 0.1.0 (the upgrade does not launder it), or after."""

    def edit() -> None:
        conn = sqlite3.connect(v2)
        conn.execute("UPDATE runs SET intensity_g_per_kwh = 38.0 WHERE run_id = 'slurm-77'")
        conn.commit()
        conn.close()

    if when == "before":
        edit()
    led = open_ledger(v2)
    try:
        if when == "after":
            edit()
        problems = led.verify([V2_PUB], use_trusted_file=False).problems
        assert [(p.ref, p.kind) for p in problems] == [("slurm-77", "modified")]
        assert "intensity_g_per_kwh: sealed 380.0, now 38.0" in problems[0].detail
    finally:
        led.close()


def test_a_new_tracked_run_after_the_upgrade_verifies(
    v2: Path, make_run: Callable[..., RunRecord], tmp_path: Path
) -> None:
    clock = Clock(1_800_000_000.0)
    led = open_ledger(v2, clock=clock)
    try:
        write = Writer(led, clock)
        cpu = SensorInfo("cpu", "cpu:package-0", "rapl", True, host_wide=True)
        run = make_run("new-run", started=clock())
        write.open(run, MemberRecord("m", "new-run", "h", 1, clock()), 5, cpu)
        for i in range(1, 4):
            clock.advance(1)
            write.samples("new-run", "m", Sample(clock(), "cpu", "cpu:package-0", 10.0 * i))
        energy = ComponentEnergy("cpu", "cpu:package-0", "rapl", True, 30.0, 3.0)
        window = WindowSummary("epoch-1", "epoch-1", clock() - 3, 3.0, (energy,))
        write("new-run", "m", WindowEnded(window))
        write.finish("new-run", "m", [energy], "completed")
        me = led.public_key()
        assert me is not None and me != V2_KEY
        report = led.verify([V2_PUB, me], use_trusted_file=False)  # both pinned
        assert report.ok and report.anchored and not report.notes, report.problems
        assert report.records == 21 + 6 and report.runs == 3
        assert report.signers == sorted([fingerprint(V2_KEY), fingerprint(me)])
        assert led.verify_run("new-run", [me], use_trusted_file=False).ok
        s = led.summary("new-run")
        assert s.status == "completed" and s.energy_j == pytest.approx(30.0)
        got = {x.run_id: (x.status, x.energy_j) for x in led.list_runs() if x.run_id in V2_RUNS}
        assert got == {rid: (st, pytest.approx(e)) for rid, (st, e, _) in V2_RUNS.items()}
        # one key pinned: the other's records are named
        only_old = {(p.ref, p.kind) for p in led.verify([V2_PUB], use_trusted_file=False).problems}
        assert ("new-run", "untrusted") in only_old
        assert not any(ref in V2_RUNS for ref, _ in only_old)
        only_mine = led.verify([me], use_trusted_file=False).problems
        assert {p.kind for p in only_mine} == {"untrusted", "unsigned"}
        assert {p.ref for p in only_mine if p.kind == "unsigned"} == set(V2_RUNS)
    finally:
        led.close()


def _requeued(v2: Path) -> tuple[Path, str]:
    """slurm-77 of the 0.1.0 ledger joined after the upgrade by a third member (a requeued
    SLURM job) that samples, ends a window and finishes completed; the path and its key."""
    clock = Clock(1_800_000_000.0)
    led = open_ledger(v2, clock=clock)
    try:
        write = Writer(led, clock)
        stored = led.run_record("slurm-77")
        gpu_info = SensorInfo("gpu", "gpu:2", "nvml", True)
        write.open(stored, MemberRecord("m-c", "slurm-77", "node-2", 7, clock()), 5, gpu_info)
        for i in range(1, 4):
            clock.advance(1)
            write.samples("slurm-77", "m-c", Sample(clock(), "gpu", "gpu:2", 100.0 * i))
        gpu = ComponentEnergy("gpu", "gpu:2", "nvml", True, 300.0, 3.0)
        write(
            "slurm-77", "m-c", WindowEnded(WindowSummary("step", "step", clock() - 3, 3.0, (gpu,)))
        )
        write.finish("slurm-77", "m-c", [gpu], "completed")
        me = led.public_key()
        assert me is not None
        return v2, str(me)
    finally:
        led.close()


def test_a_member_joining_an_old_run_after_the_upgrade_verifies(v2: Path) -> None:
    """The older members are checked against the older records, the new one against its
    batches, and the run's status against all their ends."""
    path, me = _requeued(v2)
    led = open_ledger(path, clock=Clock(1_800_000_100.0))
    try:
        s = led.summary("slurm-77")
        assert s.status == "interrupted"  # m-b of the older records was interrupted
        assert s.energy_j == pytest.approx(1800.0 + 300.0)
        report = led.verify([V2_PUB, me], use_trusted_file=False)
        assert report.ok, report.problems
        assert led.verify_run("slurm-77", [V2_PUB, me], use_trusted_file=False).ok
        # one key pinned: the other's part is named, never taken as intact
        only_old = led.verify([V2_PUB], use_trusted_file=False)
        assert ("slurm-77", "untrusted") in {(p.ref, p.kind) for p in only_old.problems}
        assert not led.verify([me], use_trusted_file=False).ok
    finally:
        led.close()


@pytest.mark.parametrize(
    ("edit", "kind"),
    [
        # an older member's end changed behind the ledger's back
        ("UPDATE members SET status = 'completed' WHERE member_id = 'm-b'", "modified"),
        # the new member's end changed
        ("UPDATE members SET status = 'failed' WHERE member_id = 'm-c'", "modified"),
        # the run's status laundered: its members' ends say interrupted
        ("UPDATE runs SET status = 'completed' WHERE run_id = 'slurm-77'", "modified"),
        # the run's start changed (checked against the older start record)
        ("UPDATE runs SET project = 'other' WHERE run_id = 'slurm-77'", "modified"),
        # the new member's samples changed
        (
            "UPDATE samples SET energy_j = energy_j * 10 WHERE device_ref IN "
            "(SELECT device_ref FROM devices WHERE member_id = 'm-c')",
            "modified",
        ),
        # the new member's batches removed: its rows stand unsigned
        ("DELETE FROM seals WHERE member_id = 'm-c'", "unsigned"),
        # a member planted with no record at all
        (
            "INSERT INTO members SELECT run_id, 'm-x', host, pid, rank, local_rank, "
            "started_unix_s, heartbeat_unix_s, lease_ttl_s, finished_unix_s, status, "
            "components, errors FROM members WHERE member_id = 'm-a'",
            "unsigned",
        ),
    ],
)
def test_the_requeued_run_holds_against_edits(v2: Path, edit: str, kind: str) -> None:
    path, me = _requeued(v2)
    with sqlite3.connect(path) as conn:
        conn.execute(edit)
    led = open_ledger(path, clock=Clock(1_800_000_100.0))
    try:
        for report in (
            led.verify([V2_PUB, me], use_trusted_file=False),
            led.verify_run("slurm-77", [V2_PUB, me], use_trusted_file=False),
        ):
            assert not report.ok
            assert kind in {p.kind for p in report.problems if p.ref == "slurm-77"}, report.problems
    finally:
        led.close()
