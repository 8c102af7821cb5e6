"""A small ledger for the report and dashboard tests, written as a tracker writes it (events in
signed batches, one chain per member, appended with ``Ledger.append``): three finished runs
(two of experiment ``base``, one of ``gelu``) and one running run, with samples of a measured
CPU and an estimated RAM (with a range)."""

from __future__ import annotations

import time
from pathlib import Path

from carbonledger.events import (
    DevicesClaimed,
    MemberChain,
    MemberFinished,
    MemberJoined,
    RunOpened,
    SamplesAdded,
    WindowEnded,
)
from carbonledger.ledger import MemberRecord, RunRecord, open_ledger
from carbonledger.models import ComponentEnergy, Sample, SensorInfo, WindowSummary


def start_s() -> float:
    """The first run's start: ~1 h before now (each build), so the last run (never
    finished) is still live (lease 1 h)."""
    return float(int(time.time()) - 4000)


CPU = SensorInfo("cpu", "cpu:package-0", "rapl", True, host_wide=True)
RAM = SensorInfo("ram", "ram", "ram-model", False, host_wide=True)

#: run id -> (experiment, CPU power W, seconds, finished)
RUNS = {
    "aaaa1111base0001": ("base", 100.0, 10, True),
    "aaaa1111base0002": ("base", 104.0, 10, True),
    "bbbb2222gelu0001": ("gelu", 80.0, 10, True),
    "cccc3333live0001": ("gelu", 90.0, 5, False),
}


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def build_ledger(path: Path | str) -> Path | str:
    """Write the runs into the ledger at ``path`` (a SQLite file, or a postgresql:// URL);
    return it."""
    t0 = start_s()
    clock = Clock(t0)
    led = open_ledger(path, clock=clock)
    try:
        for k, (rid, (exp, cpu_w, secs, finished)) in enumerate(RUNS.items()):
            clock.t = t0 + 1000 * k
            member = f"m{k}"
            chain = MemberChain(rid, member, led.signer(), clock=clock)
            run = RunRecord(rid, "vision", exp, clock.t, "process", "FR", "argument", 50.0,
                            "Our World in Data, test figure, 2023 (FR, lifecycle)", 1.2,
                            "argument")  # fmt: skip
            joined = MemberJoined(MemberRecord(member, rid, "h1", 100 + k, clock.t, rank=0), 3600)
            led.append([chain.make([RunOpened(run), joined, DevicesClaimed((CPU, RAM))])])
            for i in range(1, secs + 1):
                clock.t += 1
                ram = 5.0 * i
                samples = (Sample(clock.t, "cpu", "cpu:package-0", cpu_w * i, cpu_w, "h1"),
                           Sample(clock.t, "ram", "ram", ram, 5.0, "h1", 0.5 * ram, 1.5 * ram))  # fmt: skip
                led.append([chain.make([SamplesAdded(samples)])])
            if not finished:
                continue
            cpu = ComponentEnergy("cpu", "cpu:package-0", "rapl", True, cpu_w * secs, secs)
            ram = ComponentEnergy("ram", "ram", "ram-model", False, 5.0 * secs, secs,
                                  2.5 * secs, 7.5 * secs)  # fmt: skip
            window = WindowSummary("epoch-1", "epoch-1", clock.t - 5, 5.0, (cpu,))
            led.append([chain.make([WindowEnded(window)])])
            led.append([chain.make([MemberFinished("completed", (cpu, ram), clock.t)])])
    finally:
        led.close()
    return path
