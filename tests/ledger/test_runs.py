"""Runs, members, leases, samples, statuses and summaries — on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from carbonledger.errors import InputError
from carbonledger.ledger import MemberRecord, RunRecord, SqlLedger
from carbonledger.models import ComponentEnergy, Sample, SensorInfo, WindowSummary

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


def seal_kinds(led: SqlLedger, run_id: str) -> list[str]:
    """The run's seal and reopen records, oldest first."""
    with led._transaction(write=False) as tx:
        rows = tx.rows(
            "SELECT kind FROM seals WHERE run_id = ? AND kind IN ('seal', 'reopen') ORDER BY seq",
            (run_id,),
        )
    return [str(r[0]) for r in rows]


def test_open_run_creates_then_joins(
    led: SqlLedger, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    first = led.open_run(make_run(tags={"lr": "0.1"}, meta={"os": "Linux", "cpu_count": 8}))
    assert first.tags == {"lr": "0.1"} and first.meta["cpu_count"] == 8
    # another rank arrives with other accounting: it gets the stored record
    second = led.open_run(make_run(project="other", intensity_g_per_kwh=999.0))
    assert second.project == "proj" and second.intensity_g_per_kwh == 50.0
    assert led.run_record("run-1") == first
    with pytest.raises(InputError, match="unknown run 'nope'"):
        led.run_record("nope")


def test_samples_summary_while_running_then_completed(
    led: SqlLedger, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    led.open_run(make_run(meta={"market_g_per_kwh": 10.0, "forecast": {"co2e_g": 5.0}}))
    led.join(member("m1"), lease_ttl_s=5)
    led.register_devices("run-1", "m1", [CPU, RAM])
    for i in range(1, 4):
        clock.advance(1)
        led.add_samples(
            "run-1",
            "m1",
            [
                Sample(T0 + i, "cpu", "cpu:package-0", 10.0 * i, 10.0),
                Sample(T0 + i, "ram", "ram", 1.0 * i, 1.0, low_j=0.8 * i, high_j=1.2 * i),
            ],
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

    window = WindowSummary("epoch-1", "epoch-1", T0, 3.0, (comp("cpu:package-0", 30.0),), 0.1)
    led.add_window("run-1", "m1", window)
    clock.advance(1)
    final = [
        comp("cpu:package-0", 40.0),
        comp("ram", 4.0, "ram", method="ram-model", measured=False, low_j=3.0, high_j=5.0),
    ]
    led.finish_member("run-1", "m1", final, "completed", errors=["a warning"])
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


def test_failed_member_fails_the_run(
    led: SqlLedger, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    led.open_run(make_run())
    led.join(member("m1"), 5)
    led.join(member("m2", host="h2"), 5)
    led.finish_member("run-1", "m1", [comp("cpu:package-0", 1.0)], "failed", ["boom"])
    assert led.summary("run-1").status == "running"  # m2 still live
    led.finish_member("run-1", "m2", [comp("cpu:package-0", 2.0)], "completed")
    s = led.summary("run-1")
    assert s.status == "failed"
    assert s.hosts == ("h1", "h2")
    assert s.energy_j == pytest.approx(3.0)
    assert len(s.components) == 2  # one CPU per host
    assert any("boom" in e for e in s.errors)
    with pytest.raises(InputError, match="not 'running'"):
        led.finish_member("run-1", "m1", [], "running")  # type: ignore[arg-type]


def test_two_members_share_one_run_and_one_lease(
    backend: Any, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    a = backend.open(clock)
    b = backend.open(clock)  # a second "process"
    try:
        a.open_run(make_run("job-7"))
        b.open_run(make_run("job-7"))
        a.join(member("m1", "job-7"), 5)
        b.join(member("m2", "job-7"), 5)
        assert a.acquire_lease("job-7", "host:h1:cpu", "m1", 5) is True
        assert b.acquire_lease("job-7", "host:h1:cpu", "m2", 5) is False
        assert a.acquire_lease("job-7", "host:h1:cpu", "m1", 5) is True  # renewal
        assert b.acquire_lease("job-7", "host:h2:cpu", "m2", 5) is True  # another key
        clock.advance(4)
        a.heartbeat("job-7", "m1", 5)  # renews the lease until t+9
        clock.advance(4)
        assert b.acquire_lease("job-7", "host:h1:cpu", "m2", 5) is False
        clock.advance(2)  # m1 went silent 6 s ago, TTL 5 s: taken over
        assert b.acquire_lease("job-7", "host:h1:cpu", "m2", 5) is True
        assert a.acquire_lease("job-7", "host:h1:cpu", "m1", 5) is False
        assert len(a.list_runs()) == 1
        # finishing releases a lease at once
        b.finish_member("job-7", "m2", [], "completed")
        assert a.acquire_lease("job-7", "host:h1:cpu", "m1", 5) is True
    finally:
        a.close()
        b.close()


def test_sampling_members_keep_their_lease_with_heartbeats_every_third_of_the_ttl(
    backend: Any, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    """A tick between renewals is one INSERT; the heartbeat row and the lease expiry are
    renewed once a third of the TTL has passed, so a sampling member never loses its lease."""
    a = backend.open(clock)
    b = backend.open(clock)
    try:
        a.open_run(make_run("job-8"))
        a.join(member("m1", "job-8"), 3)
        b.join(member("m2", "job-8"), 3)
        a.register_devices("job-8", "m1", [CPU])
        assert a.acquire_lease("job-8", "host:h1:cpu", "m1", 3) is True

        def beat() -> float:
            with a._transaction(write=False) as tx:
                row = tx.one("SELECT heartbeat_unix_s FROM members WHERE member_id = 'm1'")
            return float(row[0])

        joined = clock()
        energy = 0.0
        bare = 0
        for _ in range(12):  # 0.5 s ticks for 6 s = two TTLs
            clock.advance(0.5)
            energy += 1.0
            a.add_samples("job-8", "m1", [Sample(clock(), "cpu", "cpu:package-0", energy)])
            bare += beat() < clock()  # a bare INSERT: the heartbeat row was left alone
            assert clock() - beat() < 3 * 2 / 3 + 1e-9  # never older than 2/3 of the TTL
            assert b.acquire_lease("job-8", "host:h1:cpu", "m2", 3) is False
        assert beat() > joined and bare >= 5
        if beat() == clock():  # end on a bare tick: the row is older than the last sample
            clock.advance(0.5)
            energy += 1.0
            a.add_samples("job-8", "m1", [Sample(clock(), "cpu", "cpu:package-0", energy)])
        last_row = beat()
        assert last_row < clock()
        clock.advance(3.0 - (clock() - last_row) + 0.1)  # the row is 3.1 s old, the sample less
        assert a.summary("job-8").status == "running"  # the sample is a sign of life
        assert a.summary("job-8").energy_j == pytest.approx(energy)
        clock.advance(0.6)  # now silent for longer than the TTL since its last sample
        assert a.summary("job-8").status == "interrupted"
        assert b.acquire_lease("job-8", "host:h1:cpu", "m2", 3) is True
    finally:
        a.close()
        b.close()


def test_lease_takeover_counts_the_device_once_per_interval(
    led: SqlLedger, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    led.open_run(make_run())
    led.join(member("m1"), 5)
    led.join(member("m2"), 5)
    led.finish_member("run-1", "m1", [comp("cpu:package-0", 100.0, duration_s=10)], "completed")
    clock.advance(10)
    led.finish_member("run-1", "m2", [comp("cpu:package-0", 50.0, duration_s=5)], "completed")
    s = led.summary("run-1")
    (cpu,) = s.components
    assert cpu.energy_j == pytest.approx(150.0) and cpu.host == "h1"
    assert cpu.duration_s == pytest.approx(10.0)


def test_dead_members_make_the_run_interrupted_with_last_samples(
    led: SqlLedger, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    """Reading reports a silent run interrupted without writing; a writer's settle records it
    from what the member signed (its samples up to its last checkpoint)."""
    led.open_run(make_run())
    led.join(member("m1", rank=0), 5)
    led.register_devices("run-1", "m1", [GPU])
    clock.advance(1)
    led.add_samples("run-1", "m1", [Sample(clock(), "gpu", "gpu:0", 100.0, 100.0)])
    clock.advance(5)  # a checkpoint is due: it signs both samples so far
    led.add_samples("run-1", "m1", [Sample(clock(), "gpu", "gpu:0", 250.0, 150.0)])
    clock.advance(1)
    led.add_samples("run-1", "m1", [Sample(clock(), "gpu", "gpu:0", 300.0, 50.0)])  # unsigned
    clock.advance(4.9)
    assert led.summary("run-1").status == "running"
    clock.advance(0.2)  # 5.1 s after the last sample
    s = led.summary("run-1")
    assert s.status == "interrupted"
    assert s.energy_j == pytest.approx(300.0)  # the view: every committed sample
    (gpu,) = s.components
    assert (gpu.method, gpu.measured, gpu.model) == ("nvml-energy", True, "H100")
    assert any("stopped heart-beating" in e for e in s.errors)
    assert seal_kinds(led, "run-1") == []  # reading wrote nothing
    assert led.settle() == ["run-1"]
    s = led.summary("run-1")
    assert s.status == "interrupted" and led.list_runs()[0].status == "interrupted"
    assert s.energy_j == pytest.approx(250.0)  # only what the member signed is sealed
    assert seal_kinds(led, "run-1") == ["seal"]
    report = led.verify()
    assert report.ok, report.problems
    assert any("unsigned" in n for n in report.notes)


def test_a_member_that_comes_back_is_recorded_and_resealed(
    led: SqlLedger, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    led.open_run(make_run())
    led.join(member("m1"), 5)
    led.add_samples("run-1", "m1", [Sample(T0, "cpu", "cpu:package-0", 10.0)])
    clock.advance(60)  # e.g. a suspended laptop
    assert led.summary("run-1").status == "interrupted"
    assert led.settle() == ["run-1"]
    clock.advance(1)
    led.finish_member("run-1", "m1", [comp("cpu:package-0", 70.0)], "completed")
    s = led.summary("run-1")
    assert s.status == "completed" and s.energy_j == pytest.approx(70.0)
    report = led.verify()
    assert report.ok, report.problems
    assert seal_kinds(led, "run-1") == ["seal", "seal"]


def test_joining_a_finished_run_reopens_it(
    led: SqlLedger, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    led.open_run(make_run())
    led.join(member("m1"), 5)
    led.finish_member("run-1", "m1", [comp("cpu:package-0", 1.0)], "completed")
    assert led.summary("run-1").status == "completed"
    led.join(member("m2", host="h2"), 5)  # a late rank, or an elastic restart
    assert led.summary("run-1").status == "running"
    assert led.verify().ok
    led.finish_member("run-1", "m2", [comp("cpu:package-0", 2.0)], "completed")
    s = led.summary("run-1")
    assert s.status == "completed" and s.energy_j == pytest.approx(3.0)
    report = led.verify()
    assert report.ok, report.problems
    assert seal_kinds(led, "run-1") == ["seal", "reopen", "seal"]


def test_update_meta_merges_and_reseals(
    led: SqlLedger, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    led.open_run(make_run(meta={"os": "Linux"}))
    led.join(member("m1"), 5)
    led.update_meta("run-1", {"forecast": {"windows_done": 1}})
    led.update_meta("run-1", {"forecast": {"windows_done": 2}})
    assert led.run_record("run-1").meta == {"os": "Linux", "forecast": {"windows_done": 2}}
    led.finish_member("run-1", "m1", [], "completed")
    led.update_meta("run-1", {"note": "added after the end"})
    assert led.verify().ok


def test_windows_of_several_members_merge_by_path(
    led: SqlLedger, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    led.open_run(make_run())
    led.join(member("m1"), 5)
    led.join(member("m2", host="h2"), 5)
    for mid, offset in (("m1", 0.0), ("m2", 0.5)):
        for k in range(2):
            led.add_window(
                "run-1",
                mid,
                WindowSummary(
                    "epoch",
                    "epoch",
                    T0 + 10 * k + offset,
                    9.0,
                    (comp("gpu:0", 5.0, "gpu"),),
                    1.0,
                ),
            )
    ws = led.windows("run-1")
    assert [w.path for w in ws] == ["epoch", "epoch"]
    assert [len(w.components) for w in ws] == [2, 2]
    assert ws[0].energy_j == pytest.approx(10.0) and ws[0].co2e_g == pytest.approx(2.0)
    assert ws[0].duration_s == pytest.approx(9.5)
    assert {c.host for c in ws[0].components} == {"h1", "h2"}


def test_list_runs_and_prefixes(
    led: SqlLedger, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    for i, (rid, project) in enumerate([("abc-111", "a"), ("abc-222", "b"), ("xyz-333", "a")]):
        led.open_run(make_run(rid, started=T0 + i, project=project))
    assert [s.run_id for s in led.list_runs()] == ["xyz-333", "abc-222", "abc-111"]
    assert [s.run_id for s in led.list_runs(project="a")] == ["xyz-333", "abc-111"]
    assert [s.run_id for s in led.list_runs(limit=1)] == ["xyz-333"]
    assert led.resolve_run_id("xyz") == "xyz-333"
    assert led.resolve_run_id("abc-111") == "abc-111"
    with pytest.raises(InputError, match="ambiguous"):
        led.resolve_run_id("abc")
    with pytest.raises(InputError, match="unknown run"):
        led.resolve_run_id("q")
    with pytest.raises(InputError, match="unknown run"):
        led.summary("q")


def test_orphan_run_without_members(
    led: SqlLedger, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    led.open_run(make_run(started=clock.t))
    assert led.summary("run-1").status == "running"
    clock.advance(3600)
    s = led.summary("run-1")
    assert s.status == "interrupted" and s.energy_j == 0


def test_unknown_member_is_input_error(
    led: SqlLedger, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    led.open_run(make_run())
    with pytest.raises(InputError, match="has not joined"):
        led.add_samples("run-1", "ghost", [Sample(T0, "cpu", "cpu:package-0", 1.0)])
    with pytest.raises(InputError, match="unknown run"):
        led.join(member("m1", run_id="missing"), 5)


def test_samples_renew_the_leases_of_their_member(
    backend: Any, clock: Any, make_run: Callable[..., RunRecord]
) -> None:
    a = backend.open(clock)
    b = backend.open(clock)
    try:
        a.open_run(make_run("job-8"))
        b.open_run(make_run("job-8"))
        a.join(member("m1", "job-8"), 5)
        b.join(member("m2", "job-8"), 5)
        assert a.acquire_lease("job-8", "host:h1:cpu", "m1", 5) is True
        sample = Sample(time_unix_s=clock(), component="cpu", device="cpu:package-0", energy_j=1.0)
        for _ in range(3):  # 12 s of samples, 4 s apart: the 5 s lease never lapses
            clock.advance(4)
            a.add_samples("job-8", "m1", [sample])
            b.add_samples("job-8", "m2", [])  # holds no lease: liveness only
            assert b.acquire_lease("job-8", "host:h1:cpu", "m2", 5) is False
        assert b.summary("job-8").status == "running"
        clock.advance(6)  # m1 silent past its TTL: the lease can be taken over
        assert b.acquire_lease("job-8", "host:h1:cpu", "m2", 5) is True
    finally:
        a.close()
        b.close()
