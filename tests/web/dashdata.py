"""Ledgers for the dashboard's tests and benchmark, written as trackers write them (events in
signed batches, one chain per member, appended with ``Ledger.append``) into a SQLite file or
a PostgreSQL database:

* :func:`build_team_ledger`: a team's months of work: two projects, four experiments, tags,
  runs completed, failed, interrupted and one running, over the last ~100 days;
* :func:`add_windows_run`: a run with many windows (one per step);
* :func:`build_hostile_ledger`: names holding control characters and markup.

Every figure is drawn from a seeded generator: the same call writes the same ledger (times
relative to now, so the running run is live).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from carbonledger.events import (
    DevicesClaimed,
    Event,
    MemberChain,
    MemberFinished,
    MemberJoined,
    RunOpened,
    SamplesAdded,
    WindowEnded,
)
from carbonledger.ledger import MemberRecord, RunRecord, open_ledger
from carbonledger.models import ComponentEnergy, Sample, SensorInfo, WindowSummary

CPU = SensorInfo("cpu", "cpu:package-0", "rapl", True, host_wide=True)
GPU = SensorInfo("gpu", "gpu:0", "nvml", True, model="NVIDIA A100-SXM4-40GB")
RAM = SensorInfo("ram", "ram", "ram-model", False, host_wide=True)

#: project -> (experiments, uses a GPU)
PROJECTS = {
    "vision": (("resnet-base", "resnet-gelu"), True),
    "nlp": (("bert-small", "bert-large"), False),
}
#: how far back the team's runs go (seconds)
SPAN_S = 100 * 86400


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@dataclass(frozen=True)
class Planned:
    """One run to write."""

    run_id: str
    project: str
    experiment: str
    started_unix_s: float
    duration_s: float
    cpu_w: float
    gpu_w: float | None
    ram_w: float
    status: str  # completed, failed, interrupted, running
    tags: dict[str, str]
    location: str = "FR"
    intensity_g_per_kwh: float = 56.0


def plan_team(n: int, now: float, seed: int = 7) -> list[Planned]:
    """``n`` runs spread over the last :data:`SPAN_S` seconds (the last one running)."""
    rng = random.Random(seed)
    out = []
    names = [(p, x, gpu) for p, (xs, gpu) in PROJECTS.items() for x in xs]
    for k in range(n):
        project, experiment, gpu = names[k % len(names)]
        started = now - SPAN_S + SPAN_S * k / max(n, 1) + rng.uniform(0, 3600)
        status = "completed"
        if k == n - 1:
            status, started = "running", now - 600
        elif k % 17 == 5:
            status = "failed"
        elif k % 29 == 11:
            status = "interrupted"
        large = experiment.endswith(("large", "gelu"))
        out.append(
            Planned(
                run_id=f"{rng.getrandbits(128):032x}",
                project=project,
                experiment=experiment,
                started_unix_s=started,
                duration_s=rng.uniform(600, 7200),
                cpu_w=rng.uniform(60, 120),
                gpu_w=rng.uniform(220, 300) * (1.25 if large else 1.0) if gpu else None,
                ram_w=rng.uniform(8, 16),
                status=status,
                tags={"team": "perception" if gpu else "language", "seed": str(k % 3)},
                location="DE" if (experiment == "bert-large" and k % 3 == 0) else "FR",
                intensity_g_per_kwh=380.0 if (experiment == "bert-large" and k % 3 == 0) else 56.0,
            )
        )
    return out


def _events(p: Planned, member: str, now: float) -> list[tuple[float, list[Event]]]:
    """(time, events) of each batch the run's one member signs."""
    devices = (CPU, GPU, RAM) if p.gpu_w is not None else (CPU, RAM)
    run = RunRecord(p.run_id, p.project, p.experiment, p.started_unix_s, "process", p.location,
                    "argument", p.intensity_g_per_kwh,
                    f"Our World in Data, test figure, 2023 ({p.location}, lifecycle)", 1.2,
                    "argument", tags=dict(p.tags))  # fmt: skip
    ttl = 3600.0 if p.status == "running" else 120.0
    joined = MemberJoined(
        MemberRecord(member, p.run_id, "node-1", 1000, p.started_unix_s, rank=0), ttl
    )
    out: list[tuple[float, list[Event]]] = [
        (p.started_unix_s, [RunOpened(run), joined, DevicesClaimed(devices)])
    ]
    end = min(p.started_unix_s + p.duration_s, now - 5) if p.status == "running" else (
        p.started_unix_s + p.duration_s
    )  # fmt: skip
    steps = 4
    for i in range(1, steps + 1):
        t = p.started_unix_s + (end - p.started_unix_s) * i / steps
        dt = t - p.started_unix_s
        samples = [Sample(t, "cpu", "cpu:package-0", p.cpu_w * dt, p.cpu_w, "node-1")]
        if p.gpu_w is not None:
            samples.append(Sample(t, "gpu", "gpu:0", p.gpu_w * dt, p.gpu_w, "node-1"))
        ram = p.ram_w * dt
        samples.append(Sample(t, "ram", "ram", ram, p.ram_w, "node-1", 0.6 * ram, 1.4 * ram))
        out.append((t, [SamplesAdded(tuple(samples))]))
    if p.status in ("completed", "failed"):
        dur = end - p.started_unix_s
        comps = [ComponentEnergy("cpu", "cpu:package-0", "rapl", True, p.cpu_w * dur, dur)]
        if p.gpu_w is not None:
            comps.append(ComponentEnergy("gpu", "gpu:0", "nvml", True, p.gpu_w * dur, dur,
                                         model="NVIDIA A100-SXM4-40GB"))  # fmt: skip
        ram = p.ram_w * dur
        comps.append(
            ComponentEnergy("ram", "ram", "ram-model", False, ram, dur, 0.6 * ram, 1.4 * ram)
        )
        errors = ("exit code 1",) if p.status == "failed" else ()
        out.append((end, [MemberFinished(p.status, tuple(comps), end, errors)]))  # type: ignore[arg-type]
    return out


def build_team_ledger(target: str | Path, n: int = 40, *, seed: int = 7) -> list[Planned]:
    """Write ``n`` runs of :func:`plan_team` into ``target`` (a SQLite path or a
    postgresql:// URL); return what was written."""
    now = time.time()
    plan = plan_team(n, now, seed)
    clock = Clock(now)
    led = open_ledger(target, clock=clock)
    try:
        for k, p in enumerate(plan):
            chain = MemberChain(p.run_id, f"m{k}", led.signer(), clock=clock)
            batches = []
            for t, events in _events(p, f"m{k}", now):
                clock.t = t
                batches.append(chain.make(events))
            led.append(batches)
    finally:
        led.close()
    return plan


def add_windows_run(
    target: str | Path, windows: int = 20_000, *, run_id: str = "feed0000windows0000000000000001"
) -> str:
    """Add a completed run of ``windows`` windows (``epoch-E/step-S``, 10 ms each, every
    thousandth twice as costly) to the ledger at ``target``; return its id."""
    start = time.time() - 7200
    clock = Clock(start)
    led = open_ledger(target, clock=clock)
    try:
        chain = MemberChain(run_id, "w0", led.signer(), clock=clock)
        run = RunRecord(run_id, "vision", "resnet-steps", start, "process", "FR", "argument",
                        56.0, "Our World in Data, test figure, 2023 (FR, lifecycle)", 1.2,
                        "argument", tags={"team": "perception"})  # fmt: skip
        joined = MemberJoined(MemberRecord("w0", run_id, "node-1", 1, start, rank=0), 120.0)
        batches = [chain.make([RunOpened(run), joined, DevicesClaimed((CPU, RAM))])]
        seconds = int(0.01 * windows) + 1
        for i in range(1, seconds + 1, max(1, seconds // 50)):  # about 50 samples
            clock.t = start + i
            batches.append(chain.make([SamplesAdded((
                Sample(start + i, "cpu", "cpu:package-0", 100.0 * i, 100.0, "node-1"),
                Sample(start + i, "ram", "ram", 5.0 * i, 5.0, "node-1", 2.5 * i, 7.5 * i)))]))  # fmt: skip
        per_batch = 2000
        for first in range(0, windows, per_batch):
            events: list[Event] = []
            for k in range(first, min(windows, first + per_batch)):
                t = start + 0.01 * k
                energy = 2.0 if k % 1000 == 999 else 1.0
                comp = ComponentEnergy("cpu", "cpu:package-0", "rapl", True, energy, 0.01)
                path = f"epoch-{k // 5000}/step-{k}"
                events.append(
                    WindowEnded(WindowSummary(path.rsplit("/", 1)[1], path, t, 0.01, (comp,)))
                )
            clock.t = start + 0.01 * min(windows, first + per_batch)
            batches.append(chain.make(events))
        end = start + 0.01 * windows + 1
        clock.t = end
        total = sum(2.0 if k % 1000 == 999 else 1.0 for k in range(windows))
        comps = (ComponentEnergy("cpu", "cpu:package-0", "rapl", True, total, end - start),
                 ComponentEnergy("ram", "ram", "ram-model", False, 5.0, end - start, 2.5, 7.5))  # fmt: skip
        batches.append(chain.make([MemberFinished("completed", comps, end)]))
        led.append(batches)
    finally:
        led.close()
    return run_id


#: the hostile names of :func:`build_hostile_ledger`: ESC (a terminal escape), BEL, a C1
#: control (CSI), DEL, a right-to-left override, and markup
HOSTILE_PROJECT = "evil\x1b[31mproj\x07ect"
HOSTILE_EXPERIMENT = "exp\x9b2J\x7f\u202eredli</script><b>"
HOSTILE_TAG = ("note\x1b", "<img src=x onerror=alert(1)>\x00")
HOSTILE_WINDOW = "epoch\x1b]0;title\x07-1"
HOSTILE_RUN = "bad0000control0000000000000001"


def build_hostile_ledger(target: str | Path) -> str:
    """One completed run whose project, experiment, tag and window names hold control
    characters and markup; return its id."""
    start = time.time() - 3600
    clock = Clock(start)
    led = open_ledger(target, clock=clock)
    try:
        chain = MemberChain(HOSTILE_RUN, "h0", led.signer(), clock=clock)
        run = RunRecord(HOSTILE_RUN, HOSTILE_PROJECT, HOSTILE_EXPERIMENT, start, "process", "FR",
                        "argument", 56.0, "a source\x1b[2J", 1.2, "argument",
                        tags={HOSTILE_TAG[0]: HOSTILE_TAG[1]})  # fmt: skip
        joined = MemberJoined(MemberRecord("h0", HOSTILE_RUN, "node-1", 1, start, rank=0), 120.0)
        cpu = ComponentEnergy("cpu", "cpu:package-0", "rapl", True, 1000.0, 10.0)
        ram = ComponentEnergy("ram", "ram", "ram-model", False, 50.0, 10.0, 25.0, 75.0)
        batches = [chain.make([RunOpened(run), joined, DevicesClaimed((CPU, RAM))])]
        clock.t = start + 5
        batches.append(chain.make([SamplesAdded((
            Sample(start + 5, "cpu", "cpu:package-0", 500.0, 100.0, "node-1"),
            Sample(start + 5, "ram", "ram", 25.0, 5.0, "node-1", 12.5, 37.5)))]))  # fmt: skip
        clock.t = start + 10
        batches.append(chain.make([WindowEnded(WindowSummary(HOSTILE_WINDOW, HOSTILE_WINDOW,
                                                             start + 1, 8.0, (cpu,)))]))  # fmt: skip
        batches.append(chain.make([MemberFinished("completed", (cpu, ram), start + 10)]))
        led.append(batches)
    finally:
        led.close()
    return HOSTILE_RUN


def add_live_sample(target: str | Path, run_id: str, energy_j: float = 500_000.0) -> None:
    """A new member of the running run ``run_id`` (another node's GPU) joins and signs one
    sample of ``energy_j`` joules now, as its tracker would: the run's energy grows and the
    ledger's head changes."""
    from carbonledger.events import new_member_id

    now = time.time()
    led = open_ledger(target)
    try:
        member = new_member_id()
        gpu = SensorInfo("gpu", "gpu:1", "nvml", True, model="NVIDIA A100-SXM4-40GB")
        joined = MemberJoined(MemberRecord(member, run_id, "node-2", 2000, now - 60), 3600.0)
        sample = Sample(now, "gpu", "gpu:1", energy_j, 250.0, "node-2")
        led.record(
            run_id, [joined, DevicesClaimed((gpu,)), SamplesAdded((sample,))], member_id=member
        )
    finally:
        led.close()
