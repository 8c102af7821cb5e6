"""Runs, members, leases, samples, statuses and summaries — on SQLite and on PostgreSQL.

Everything is written as a tracker writes it: events in signed batches, one chain per member
(the ``write`` fixture)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from carbonledger.errors import InputError
from carbonledger.events import (
    Heartbeat,
    MemberChain,
    MemberFinished,
    MetaUpdated,
    RunOpened,
    SamplesAdded,
    Settled,
    WindowEnded,
)
from carbonledger.ledger import Ledger, MemberRecord, RunRecord
from carbonledger.models import ComponentEnergy, Sample, SensorInfo, WindowSummary

from .conftest import Backend, Clock, Writer

T0 = 1_700_000_000.0
CPU = SensorInfo("cpu", "cpu:package-0", "rapl", True, model="Xeon", host_wide=True)
RAM = SensorInfo("ram", "ram", "ram-model", False, host_wide=True)
GPU = SensorInfo("gpu", "gpu:0", "nvml-energy", True, model="H100", uid="GPU-1")


def member(mid: str, run_id: str = "run-1", host: str = "h1", **kw: Any) -> MemberRecord:
    return MemberRecord(member_id=mid, run_id=run_id, host=host, pid=100, started_unix_s=T0, **kw)


def comp(device: str, energy_j: float, component: str = "cpu", **kw: Any) -> ComponentEnergy:
    fields: dict[str, Any] = {"method": "rapl", "measured": True, "duration_s": 10.0}
    fields.update(kw)
    return ComponentEnergy(component, device, energy_j=energy_j, **fields)  # type: ignore[arg-type]


def kinds(led: Ledger, run_id: str) -> list[str]:
    """The kinds of the run's records (one per batch), oldest first."""
    with led.transport.transaction(write=False) as tx:
        rows = tx.rows("SELECT kind FROM seals WHERE run_id = ? ORDER BY seq", (run_id,))
    return [str(r[0]) for r in rows]


def settlements(led: Ledger, run_id: str) -> list[dict[str, Any]]:
    """The ``settled`` events recorded for the run, oldest first."""
    with led.transport.transaction(write=False) as tx:
        rows = tx.rows(
            "SELECT canonical FROM seals WHERE run_id = ? AND kind = 'events:settled' ORDER BY seq",
            (run_id,),
        )
    return [e for (body,) in rows for e in json.loads(body)["events"] if e["type"] == "settled"]


def test_open_run_creates_then_joins(
    led: Ledger, write: Writer, make_run: Callable[..., RunRecord]
) -> None:
    first = make_run(tags={"lr": "0.1"}, meta={"os": "Linux", "cpu_count": 8})
    write.open(first, member("m1"), 5)
    assert led.run_record("run-1") == first
    # another rank arrives with other accounting: its opening is kept, the run is the first
    write.open(make_run(project="other", intensity_g_per_kwh=999.0), member("m2"), 5)
    stored = led.run_record("run-1")
    assert stored == first and stored.project == "proj" and stored.intensity_g_per_kwh == 50.0
    assert kinds(led, "run-1") == ["events:opened", "events:opened"]
    report = led.verify()
    assert report.ok, report.problems
    with pytest.raises(InputError, match="unknown run 'nope'"):
        led.run_record("nope")


def test_samples_summary_while_running_then_completed(
    led: Ledger, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    run = make_run(meta={"market_g_per_kwh": 10.0, "forecast": {"co2e_g": 5.0}})
    write.open(run, member("m1"), 5, CPU, RAM)
    for i in range(1, 4):
        clock.advance(1)
        write.samples(
            "run-1",
            "m1",
            Sample(T0 + i, "cpu", "cpu:package-0", 10.0 * i, 10.0),
            Sample(T0 + i, "ram", "ram", 1.0 * i, 1.0, low_j=0.8 * i, high_j=1.2 * i),
        )
    s = led.summary("run-1")
    assert s.status == "running"
    assert s.energy_j == pytest.approx(33.0)
    cpu = next(c for c in s.components if c.component == "cpu")
    ram = next(c for c in s.components if c.component == "ram")
    assert (cpu.method, cpu.measured, cpu.model, cpu.host) == ("rapl", True, "Xeon", "h1")
    assert cpu.duration_s == pytest.approx(3.0)
    assert (ram.method, ram.measured) == ("ram-model", False)
    assert (ram.low_j, ram.high_j) == (pytest.approx(2.4), pytest.approx(3.6))
    assert s.extra["forecast"] == {"co2e_g": 5.0}
    assert s.market_co2e_g == pytest.approx(33.0 / 3.6e6 * 1.2 * 10.0)
    assert [(x.time_unix_s, x.device) for x in led.samples("run-1", since_unix_s=T0 + 2)] == [
        (T0 + 3, "cpu:package-0"),
        (T0 + 3, "ram"),
    ]

    window = WindowSummary("epoch-1", "epoch-1", T0, 3.0, (comp("cpu:package-0", 30.0),), 0.1)
    write("run-1", "m1", WindowEnded(window))
    clock.advance(1)
    final = [
        comp("cpu:package-0", 40.0),
        comp("ram", 4.0, "ram", method="ram-model", measured=False, low_j=3.0, high_j=5.0),
    ]
    write.finish("run-1", "m1", final, "completed", errors=["a warning"])
    s = led.summary("run-1")
    assert s.status == "completed"
    assert s.energy_j == pytest.approx(44.0)
    assert s.energy_low_j == pytest.approx(43.0) and s.energy_high_j == pytest.approx(45.0)
    assert s.duration_s == pytest.approx(4.0)
    assert s.errors == ("a warning",)
    assert s.hosts == ("h1",)
    assert [w.name for w in s.windows] == ["epoch-1"]
    assert s.windows[0].components[0].host == "h1"
    assert s.windows[0].co2e_g == pytest.approx(0.1)
    assert led.windows("run-1") == list(s.windows)
    assert s.co2e_g == pytest.approx(44.0 / 3.6e6 * 1.2 * 50.0)
    assert s.extra["finished_unix_s"] == pytest.approx(clock.t)
    assert kinds(led, "run-1") == ["events:opened"] + ["events"] * 4 + ["events:finished"]
    report = led.verify()
    assert report.ok and not report.notes, (report.problems, report.notes)


def test_failed_member_fails_the_run(
    led: Ledger, write: Writer, make_run: Callable[..., RunRecord]
) -> None:
    write.open(make_run(), member("m1"), 5)
    write.open(make_run(), member("m2", host="h2"), 5)
    write.finish("run-1", "m1", [comp("cpu:package-0", 1.0)], "failed", ["boom"])
    assert led.summary("run-1").status == "running"  # m2 still live
    write.finish("run-1", "m2", [comp("cpu:package-0", 2.0)], "completed")
    s = led.summary("run-1")
    assert s.status == "failed"
    assert s.hosts == ("h1", "h2")
    assert s.energy_j == pytest.approx(3.0)
    assert len(s.components) == 2  # one CPU per host
    assert any("boom" in e for e in s.errors)
    # a member ends completed, failed or interrupted: a signed end "running" is refused
    # (else the run would read completed), and nothing of it is recorded
    records = kinds(led, "run-1")
    with pytest.raises(InputError, match="not 'running'"):
        write.finish("run-1", "m1", [], "running")  # type: ignore[arg-type]
    assert kinds(led, "run-1") == records and led.summary("run-1").status == "failed"
    assert led.verify().ok


def test_two_members_share_one_run_and_one_lease(
    backend: Backend, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    a = backend.open(clock)
    b = backend.open(clock)  # a second "process"
    wa, wb = Writer(a, clock), Writer(b, clock)
    try:
        wa.open(make_run("job-7"), member("m1", "job-7"), 5)
        wb.open(make_run("job-7"), member("m2", "job-7"), 5)
        assert a.acquire_lease("job-7", "host:h1:cpu", "m1", 5) is True
        assert b.acquire_lease("job-7", "host:h1:cpu", "m2", 5) is False
        assert a.acquire_lease("job-7", "host:h1:cpu", "m1", 5) is True  # renewal
        assert b.acquire_lease("job-7", "host:h2:cpu", "m2", 5) is True  # another key
        clock.advance(4)
        wa("job-7", "m1", Heartbeat(5))  # a signed batch: renews the lease until t+9
        clock.advance(4)
        assert b.acquire_lease("job-7", "host:h1:cpu", "m2", 5) is False
        clock.advance(2)  # m1 went silent 6 s ago, TTL 5 s: taken over
        assert b.acquire_lease("job-7", "host:h1:cpu", "m2", 5) is True
        assert a.acquire_lease("job-7", "host:h1:cpu", "m1", 5) is False
        assert len(a.list_runs()) == 1
        # finishing releases a lease at once
        wb.finish("job-7", "m2", [], "completed")
        assert a.acquire_lease("job-7", "host:h1:cpu", "m1", 5) is True
        report = a.verify()
        assert report.ok, report.problems
    finally:
        a.close()
        b.close()


def test_sampling_members_keep_their_lease_renewed_every_third_of_the_ttl(
    backend: Backend, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    """Each tick is a signed batch; the lease's expiry is renewed once a third of the TTL has
    passed (not on every tick), so a sampling member never loses its lease; the member is
    live while its last batch is younger than its TTL (the lease is coordination only)."""
    a = backend.open(clock)
    b = backend.open(clock)
    wa, wb = Writer(a, clock), Writer(b, clock)
    try:
        # as a tracker does: ask for the lease, then open the run
        assert a.acquire_lease("job-8", "host:h1:cpu", "m1", 3) is True
        wa.open(make_run("job-8"), member("m1", "job-8"), 3, CPU)
        wb.open(make_run("job-8"), member("m2", "job-8"), 3)

        def expiry() -> float:
            ((value,),) = backend.execute(
                "SELECT expires_unix_s FROM leases WHERE member_id = 'm1'"
            )
            return float(value)

        first = expiry()
        energy = 0.0
        bare = 0
        for _ in range(12):  # 0.5 s ticks for 6 s = two TTLs
            clock.advance(0.5)
            energy += 1.0
            before = expiry()
            wa.samples("job-8", "m1", Sample(clock(), "cpu", "cpu:package-0", energy))
            bare += expiry() == before  # a tick that left the lease alone
            assert expiry() - 3 > clock() - 3 * 2 / 3 - 1e-9  # renewed within 2/3 of the TTL
            assert b.acquire_lease("job-8", "host:h1:cpu", "m2", 3) is False
        assert expiry() > first and bare >= 5
        if expiry() == clock() + 3:  # end on a bare tick: the lease is older than the batch
            clock.advance(0.5)
            energy += 1.0
            wa.samples("job-8", "m1", Sample(clock(), "cpu", "cpu:package-0", energy))
        last_batch = clock()
        assert expiry() < last_batch + 3
        (m1,) = [m for m in a.summary("job-8").extra["members"] if m["member_id"] == "m1"]
        assert m1["heartbeat_unix_s"] == pytest.approx(last_batch)  # the batch's time
        clock.t = last_batch + 3 - 0.1  # the lease has lapsed, the last batch is 2.9 s old
        assert a.summary("job-8").status == "running"  # the batch is the sign of life
        assert a.summary("job-8").energy_j == pytest.approx(energy)
        clock.advance(0.2)  # silent for longer than the TTL since its last batch
        assert a.summary("job-8").status == "interrupted"
        assert b.acquire_lease("job-8", "host:h1:cpu", "m2", 3) is True
    finally:
        a.close()
        b.close()


def test_lease_takeover_counts_the_device_once_per_interval(
    led: Ledger, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    write.open(make_run(), member("m1"), 5)
    write.open(make_run(), member("m2"), 5)
    write.finish("run-1", "m1", [comp("cpu:package-0", 100.0, duration_s=10)], "completed")
    clock.advance(10)
    write.finish("run-1", "m2", [comp("cpu:package-0", 50.0, duration_s=5)], "completed")
    s = led.summary("run-1")
    (cpu,) = s.components
    assert cpu.energy_j == pytest.approx(150.0) and cpu.host == "h1"
    assert cpu.duration_s == pytest.approx(10.0)


def test_dead_members_make_the_run_interrupted_with_last_samples(
    led: Ledger, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    """Reading reports a silent run interrupted without writing; a writer's settle records it
    from what the member signed: every sample is signed where it is made, so the settlement
    counts them all and nothing is left unsigned."""
    write.open(make_run(), member("m1", rank=0), 5, GPU)
    clock.advance(1)
    write.samples("run-1", "m1", Sample(clock(), "gpu", "gpu:0", 100.0, 100.0))
    clock.advance(5)
    write.samples("run-1", "m1", Sample(clock(), "gpu", "gpu:0", 250.0, 150.0))
    clock.advance(1)
    last = write.samples("run-1", "m1", Sample(clock(), "gpu", "gpu:0", 300.0, 50.0))
    last_time = clock()
    clock.advance(4.9)
    assert led.summary("run-1").status == "running"
    clock.advance(0.2)  # 5.1 s after the last batch
    s = led.summary("run-1")
    assert s.status == "interrupted"
    assert s.energy_j == pytest.approx(300.0)  # every committed sample
    (gpu,) = s.components
    assert (gpu.method, gpu.measured, gpu.model) == ("nvml-energy", True, "H100")
    assert any("stopped signing" in e and "not yet recorded" in e for e in s.errors)
    assert kinds(led, "run-1") == ["events:opened"] + ["events"] * 3  # reading wrote nothing
    assert led.settle() == ["run-1"]
    s = led.summary("run-1")
    assert s.status == "interrupted" and led.list_runs()[0].status == "interrupted"
    assert s.energy_j == pytest.approx(300.0)  # the last sample was signed: it counts
    assert any(
        "settled with its energy up to its last signed sample (batch 4)" in e for e in s.errors
    )
    assert not any("not yet recorded" in e for e in s.errors)
    assert kinds(led, "run-1")[-1] == "events:settled"
    (settled,) = settlements(led, "run-1")
    assert (settled["member_id"], settled["last_seq"], settled["last_hash"]) == ("m1", 4, last.hash)
    assert settled["finished_unix_s"] == pytest.approx(last_time)
    assert settled["components"][0]["energy_j"] == pytest.approx(300.0)
    report = led.verify()
    assert report.ok and not report.notes, (report.problems, report.notes)
    assert led.settle() == []  # settled once


def test_a_member_that_comes_back_after_a_settlement_is_running_again(
    led: Ledger, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    """A member settled while silent (e.g. a suspended laptop) that signs again: what it
    signs after the settlement decides; readers and verify agree, and it can be settled
    again when it goes silent again."""
    write.open(make_run(), member("m1"), 5, CPU)
    write.samples("run-1", "m1", Sample(T0, "cpu", "cpu:package-0", 10.0))
    clock.advance(60)
    assert led.summary("run-1").status == "interrupted"
    assert led.settle() == ["run-1"]
    clock.advance(1)
    write.samples("run-1", "m1", Sample(clock(), "cpu", "cpu:package-0", 20.0))
    s = led.summary("run-1")
    assert s.status == "running" and s.energy_j == pytest.approx(20.0) and s.errors == ()
    assert [r.status for r in led.list_runs()] == ["running"]
    report = led.verify()
    assert report.ok, report.problems
    assert any("superseded" in n for n in report.notes)
    assert led.settle() == []  # live again
    clock.advance(60)
    assert led.settle() == ["run-1"]  # silent again: settled again, from its newer batch
    assert [x["last_seq"] for x in settlements(led, "run-1")] == [2, 3]
    s = led.summary("run-1")
    assert s.status == "interrupted" and s.energy_j == pytest.approx(20.0)
    assert len(s.errors) == 1
    clock.advance(1)
    write.finish("run-1", "m1", [comp("cpu:package-0", 70.0)], "completed")
    s = led.summary("run-1")
    assert s.status == "completed" and s.energy_j == pytest.approx(70.0) and s.errors == ()
    report = led.verify()
    assert report.ok, report.problems


def test_a_signed_end_wins_over_a_settlement_whenever_it_arrives(
    led: Ledger, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    """The member's MemberFinished, made before a settlement but appended after it (replayed
    from its journal), decides; a settlement appended after a signed end changes nothing."""
    write.open(make_run(), member("m1"), 5, CPU)
    write.samples("run-1", "m1", Sample(T0, "cpu", "cpu:package-0", 10.0))
    clock.advance(1)
    end = write.make(
        "run-1", "m1", MemberFinished("completed", (comp("cpu:package-0", 70.0),), clock())
    )  # journalled: the ledger did not answer
    clock.advance(60)
    assert led.settle() == ["run-1"]
    assert led.summary("run-1").status == "interrupted"
    assert led.append([end]) == 1  # the journal is replayed
    s = led.summary("run-1")
    assert s.status == "completed" and s.energy_j == pytest.approx(70.0) and s.errors == ()
    assert [r.status for r in led.list_runs()] == ["completed"]
    assert led.append([end]) == 0  # a second replay duplicates nothing
    report = led.verify()
    assert report.ok, report.problems
    assert any("superseded" in n for n in report.notes)
    # a settlement planned before the end arrived, appended after it: the end stands
    (first,) = settlements(led, "run-1")
    late = Settled("m1", first["last_seq"], first["last_hash"], (), clock(), "late settler")
    led.record("run-1", [late])
    s = led.summary("run-1")
    assert s.status == "completed" and s.energy_j == pytest.approx(70.0)
    report = led.verify()
    assert report.ok, report.problems
    assert led.settle() == []


def test_settlers_racing_on_one_member_agree_with_verify(
    led: Ledger, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    """Two settlers (two trackers starting at once) both settle the same silent member: the
    member reads one settlement, and verify agrees with what the rows hold."""
    first = write.open(make_run(), member("m1"), 5, CPU)
    clock.advance(60)
    for who in ("settler a", "settler b"):
        led.record("run-1", [Settled("m1", 1, first.hash, (), clock(), f"{who}: silent")])
    s = led.summary("run-1")
    assert s.status == "interrupted" and s.errors == ("settler b: silent",)
    report = led.verify()
    assert report.ok, report.problems
    assert led.settle() == []


def test_joining_a_finished_run_reopens_it(
    led: Ledger, write: Writer, make_run: Callable[..., RunRecord]
) -> None:
    write.open(make_run(), member("m1"), 5)
    write.finish("run-1", "m1", [comp("cpu:package-0", 1.0)], "completed")
    assert led.summary("run-1").status == "completed"
    assert led.verify().ok
    write.open(make_run(), member("m2", host="h2"), 5)  # a late rank, or an elastic restart
    assert led.summary("run-1").status == "running"
    assert [r.status for r in led.list_runs()] == ["running"]
    report = led.verify()
    assert report.ok, report.problems
    write.finish("run-1", "m2", [comp("cpu:package-0", 2.0)], "completed")
    s = led.summary("run-1")
    assert s.status == "completed" and s.energy_j == pytest.approx(3.0)
    report = led.verify()
    assert report.ok, report.problems
    # no seal or reopen record: the run's state is covered by its members' batches
    assert kinds(led, "run-1") == ["events:opened", "events:finished"] * 2


def test_update_meta_merges_and_verifies(
    led: Ledger, write: Writer, make_run: Callable[..., RunRecord]
) -> None:
    write.open(make_run(meta={"os": "Linux"}), member("m1"), 5)
    write("run-1", "m1", MetaUpdated({"forecast": {"windows_done": 1}}))
    write("run-1", "m1", MetaUpdated({"forecast": {"windows_done": 2}}))
    assert led.run_record("run-1").meta == {"os": "Linux", "forecast": {"windows_done": 2}}
    write.finish("run-1", "m1", [], "completed")
    assert led.verify().ok
    # what 'carbonledger metric' writes after the end: a batch of a writer of its own
    batch = led.record("run-1", [MetaUpdated({"note": "added after the end"})])
    assert batch.decode().member_id not in ("m1", "")
    assert led.run_record("run-1").meta["note"] == "added after the end"
    assert led.summary("run-1").status == "completed"
    report = led.verify()
    assert report.ok, report.problems


def test_windows_of_several_members_merge_by_path(
    led: Ledger, write: Writer, make_run: Callable[..., RunRecord]
) -> None:
    write.open(make_run(), member("m1"), 5)
    write.open(make_run(), member("m2", host="h2"), 5)
    for mid, offset in (("m1", 0.0), ("m2", 0.5)):
        for k in range(2):
            window = WindowSummary(
                "epoch", "epoch", T0 + 10 * k + offset, 9.0, (comp("gpu:0", 5.0, "gpu"),), 1.0
            )
            write("run-1", mid, WindowEnded(window))
    ws = led.windows("run-1")
    assert [w.path for w in ws] == ["epoch", "epoch"]
    assert [len(w.components) for w in ws] == [2, 2]
    assert ws[0].energy_j == pytest.approx(10.0) and ws[0].co2e_g == pytest.approx(2.0)
    assert ws[0].duration_s == pytest.approx(9.5)
    assert {c.host for c in ws[0].components} == {"h1", "h2"}
    assert led.verify().ok
    # a list without the windows: the same figures, the windows counted (rows), none kept
    (full,) = led.list_runs()
    (light,) = led.list_runs(windows=False)
    assert len(full.windows) == 2 and light.windows == ()
    assert light.extra["window_count"] == 4  # two per member, before merging by path
    assert "window_count" not in full.extra
    assert (light.energy_j, light.co2e_g, light.status) == (
        full.energy_j,
        full.co2e_g,
        full.status,
    )
    # a window row no writer writes makes the run damaged either way
    with led.transport.transaction(write=True) as tx:  # behind the ledger's back
        assert tx.run("UPDATE windows SET components = '[{' WHERE member_id = 'm2'") == 2
    assert led.list_runs()[0].status == "damaged"
    assert led.list_runs(windows=False)[0].status == "damaged"


def test_list_runs_and_prefixes(
    led: Ledger, write: Writer, make_run: Callable[..., RunRecord]
) -> None:
    for i, (rid, project) in enumerate([("abc-111", "a"), ("abc-222", "b"), ("xyz-333", "a")]):
        write(rid, "m", RunOpened(make_run(rid, started=T0 + i, project=project)))
    assert [s.run_id for s in led.list_runs()] == ["xyz-333", "abc-222", "abc-111"]
    assert [s.run_id for s in led.list_runs(project="a")] == ["xyz-333", "abc-111"]
    assert [s.run_id for s in led.list_runs(limit=1)] == ["xyz-333"]
    assert list(led.iter_run_ids()) == ["abc-111", "abc-222", "xyz-333"]
    assert led.resolve_run_id("xyz") == "xyz-333"
    assert led.resolve_run_id("abc-111") == "abc-111"
    with pytest.raises(InputError, match="ambiguous"):
        led.resolve_run_id("abc")
    with pytest.raises(InputError, match="unknown run"):
        led.resolve_run_id("q")
    with pytest.raises(InputError, match="unknown run"):
        led.summary("q")


def test_orphan_run_without_members(
    led: Ledger, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    write("run-1", "m1", RunOpened(make_run(started=clock.t)))
    assert led.summary("run-1").status == "running"
    clock.advance(3600)
    s = led.summary("run-1")
    assert s.status == "interrupted" and s.energy_j == 0


def test_a_time_claimed_far_ahead_keeps_nobody_alive(
    led: Ledger, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    """A member whose clock is set ahead: up to 300 s is skew, beyond it its batches keep it
    alive for nobody; verify says so, and a settlement ends it at the settler's time."""
    write.open(make_run(), member("m1"), 5, CPU)
    write.samples("run-1", "m1", Sample(T0 + 200, "cpu", "cpu:package-0", 1.0), at=T0 + 200)
    assert led.summary("run-1").status == "running"  # 200 s ahead: skew
    ahead = write.samples(
        "run-1", "m1", Sample(T0 + 3600, "cpu", "cpu:package-0", 2.0), at=T0 + 3600
    )
    assert led.summary("run-1").status == "interrupted"
    report = led.verify()
    assert report.ok, report.problems
    assert any("ahead" in n for n in report.notes)
    assert led.settle() == ["run-1"]
    (settled,) = settlements(led, "run-1")
    assert settled["last_hash"] == ahead.hash
    assert settled["finished_unix_s"] == pytest.approx(clock())  # not the claimed future
    assert led.summary("run-1").status == "interrupted"


def test_unknown_member_or_run_is_input_error(
    led: Ledger, write: Writer, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    """A member's events before it joined the run, and a member joining a run the ledger does
    not hold without opening it, are refused and leave nothing behind (else verify would
    report a run deleted that never was)."""
    write("run-1", "m0", RunOpened(make_run()))
    records = kinds(led, "run-1")
    with pytest.raises(InputError, match="has not joined"):
        write.samples("run-1", "ghost", Sample(T0, "cpu", "cpu:package-0", 1.0))
    with pytest.raises(InputError, match="unknown run 'missing'"):
        write.join(member("m1", run_id="missing"), 5)
    assert kinds(led, "run-1") == records and kinds(led, "missing") == []
    assert led.samples("run-1") == [] and [s.run_id for s in led.list_runs()] == ["run-1"]
    report = led.verify()
    assert report.ok, report.problems


def test_a_journal_tail_of_a_run_the_ledger_does_not_hold_is_kept_as_signed(
    led: Ledger, clock: Clock
) -> None:
    """The batches a member journalled after its ledger filled up, replayed into another
    ledger: kept as they were signed, they make no run there, and verify stays intact."""
    chain = MemberChain("elsewhere", "m9", led.signer(), seq=4, prev="ab" * 32, clock=clock)
    tail = [
        chain.make([SamplesAdded((Sample(T0, "cpu", "cpu:package-0", 5.0),))]),
        chain.make([MemberFinished("completed", (comp("cpu:package-0", 6.0),), T0 + 1)]),
    ]
    assert led.append(tail) == 2 and led.append(tail) == 0
    assert led.list_runs() == [] and kinds(led, "elsewhere") == ["events", "events:finished"]
    with pytest.raises(InputError, match="unknown run 'elsewhere'"):
        led.summary("elsewhere")
    report = led.verify()
    assert report.ok, report.problems


def test_samples_renew_the_leases_of_their_member(
    backend: Backend, clock: Clock, make_run: Callable[..., RunRecord]
) -> None:
    a = backend.open(clock)
    b = backend.open(clock)
    wa, wb = Writer(a, clock), Writer(b, clock)
    try:
        wa.open(make_run("job-8"), member("m1", "job-8"), 5, CPU)
        wb.open(make_run("job-8"), member("m2", "job-8"), 5)
        assert a.acquire_lease("job-8", "host:h1:cpu", "m1", 5) is True
        for k in range(3):  # 12 s of samples, 4 s apart: the 5 s lease never lapses
            clock.advance(4)
            wa.samples("job-8", "m1", Sample(clock(), "cpu", "cpu:package-0", 1.0 + k))
            wb("job-8", "m2", SamplesAdded(()))  # holds no lease: liveness only
            assert b.acquire_lease("job-8", "host:h1:cpu", "m2", 5) is False
        assert b.summary("job-8").status == "running"
        clock.advance(6)  # m1 silent past its TTL: the lease can be taken over
        assert b.acquire_lease("job-8", "host:h1:cpu", "m2", 5) is True
    finally:
        a.close()
        b.close()
