"""Ledger benchmark: sample ingest rate and the time of a run summary over many samples.

Run: ``.venv/bin/python benchmarks/ledger_bench.py`` (SQLite in a temporary folder), or
``--postgres postgresql://...`` to measure a PostgreSQL ledger too (an empty database).
Targets: ingest >= 50,000 samples/s; summary over 1,000,000 samples < 1 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from carbonledger.ledger import MemberRecord, RunRecord, SqlLedger, open_ledger
from carbonledger.models import ComponentEnergy, Sample, SensorInfo, WindowSummary

DEVICES = 10
RUNS = 1_000


def _run(led: SqlLedger, run_id: str, devices: int = DEVICES) -> str:
    now = time.time()
    led.open_run(
        RunRecord(
            run_id, "bench", "ingest", now, "machine", "FR", "bench", 50.0, "bench", 1.0, "bench"
        )
    )
    member = f"{run_id}-m"
    led.join(MemberRecord(member, run_id, "bench-host", os.getpid(), now), lease_ttl_s=3600)
    led.register_devices(
        run_id, member, [SensorInfo("cpu", f"cpu:{k}", "rapl", True) for k in range(devices)]
    )
    return member


def ingest(led: SqlLedger, run_id: str, total: int, per_call: int) -> float:
    """Write ``total`` samples, ``per_call`` per add_samples call; samples per second."""
    member = _run(led, run_id)
    ticks = per_call // DEVICES
    t0 = time.perf_counter()
    written = 0
    tick = 0
    while written < total:
        batch = [
            Sample(float(tick + j), "cpu", f"cpu:{k}", float(tick + j), 10.0)
            for j in range(ticks)
            for k in range(DEVICES)
        ]
        led.add_samples(run_id, member, batch)
        written += len(batch)
        tick += ticks
    return written / (time.perf_counter() - t0)


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    """Median seconds of ``fn()``."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(target: str, label: str, samples: int) -> list[tuple[str, str, str, str]]:
    rows = []
    led = open_ledger(target)
    try:
        for per_call, n in ((10, min(samples, 100_000)), (1_000, samples)):
            run_id = f"ingest-{per_call}"
            rate = ingest(led, run_id, n, per_call)
            # the target is on throughput (bulk calls); one sampler tick is a small call
            ok = ("yes" if rate >= 50_000 else "NO") if per_call > DEVICES else ""
            rows.append(
                (
                    label,
                    f"ingest, {per_call} samples per call ({n:,} samples)",
                    f"{rate:,.0f} samples/s ({per_call / rate * 1e3:.2f} ms per call)",
                    ok,
                )
            )
        big = "ingest-1000"  # the run holding `samples` samples, its member still live
        t = timed(lambda: led.summary(big))
        rows.append(
            (
                label,
                f"summary of a live run over {samples:,} samples",
                f"{t * 1e3:.1f} ms",
                "yes" if t < 1 else "NO",
            )
        )
        led.finish_member(
            big,
            f"{big}-m",
            [ComponentEnergy("cpu", f"cpu:{k}", "rapl", True, 1.0, 1.0) for k in range(DEVICES)],
            "completed",
        )
        t = timed(lambda: led.summary(big))
        rows.append(
            (
                label,
                "summary of the same run, completed",
                f"{t * 1e3:.1f} ms",
                "yes" if t < 1 else "NO",
            )
        )
        for k in range(RUNS):  # many small finished runs, each with windows
            rid = f"small-{k}"
            member = _run(led, rid, devices=2)
            cpu = ComponentEnergy("cpu", "cpu:0", "rapl", True, 10.0, 1.0)
            for w in range(5):
                led.add_window(
                    rid, member, WindowSummary(f"epoch-{w}", f"epoch-{w}", w, 1.0, (cpu,))
                )
            led.finish_member(rid, member, [cpu], "completed")
        t = timed(lambda: led.list_runs(limit=20))
        rows.append((label, f"list_runs, newest 20 of {RUNS + 2:,} runs", f"{t * 1e3:.1f} ms", ""))
        t = timed(lambda: led.list_runs(), repeat=3)
        rows.append((label, f"list_runs, all {RUNS + 2:,} runs", f"{t * 1e3:.0f} ms", ""))
        t = timed(lambda: led.verify(), repeat=3)
        rows.append((label, f"verify {RUNS + 1:,} sealed runs", f"{t * 1e3:.0f} ms", ""))
    finally:
        led.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--postgres", help="also measure this (empty) PostgreSQL database")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        # a throwaway signing key: the benchmark never touches the user's own
        os.environ["CARBONLEDGER_SIGNING_KEY"] = str(Path(tmp) / "bench-key.pem")
        path = str(Path(tmp) / "bench.sqlite")
        rows += bench(path, "sqlite", args.samples)
        size_mb = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 1e6
    if args.postgres:
        rows += bench(args.postgres, "postgres", args.samples)
    print(
        f"carbonledger ledger benchmark - Python {platform.python_version()}, SQLite "
        f"{sqlite3.sqlite_version}, {platform.machine()}, {os.cpu_count()} CPUs"
    )
    header = ("backend", "measure", "result", "target met")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    print(f"SQLite file size after {args.samples + 100_000:,} samples: {size_mb:.0f} MB")
    return 0 if all(r[3] != "NO" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
