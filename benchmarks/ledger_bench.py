"""Ledger benchmark: signed-batch ingest rate, summaries, lists and verify over many samples.

Run: ``.venv/bin/python benchmarks/ledger_bench.py`` (SQLite in a temporary folder, and a
PostgreSQL server of its own when Debian's server binaries are installed), or
``--postgres postgresql://...`` for a database of yours (an empty one).
Targets: ingest >= 50,000 samples/s on SQLite; summary over 1,000,000 samples < 1 s.
Every batch is signed where it is made (as a tracker signs its ticks), so the ingest rate
includes making and signing the batches.
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

from carbonledger.events import (
    DevicesClaimed,
    MemberChain,
    MemberFinished,
    MemberJoined,
    RunOpened,
    SamplesAdded,
    WindowEnded,
)
from carbonledger.ledger import Ledger, MemberRecord, RunRecord, open_ledger
from carbonledger.models import ComponentEnergy, Sample, SensorInfo, WindowSummary

DEVICES = 10
RUNS = 1_000


def _run(led: Ledger, run_id: str, devices: int = DEVICES) -> MemberChain:
    """Open a run with one member and its devices; the member's chain, to write more."""
    now = time.time()
    chain = MemberChain(run_id, f"{run_id}-m", led.signer())
    run = RunRecord(
        run_id, "bench", "ingest", now, "machine", "FR", "bench", 50.0, "bench", 1.0, "bench"
    )
    member = MemberRecord(chain.member_id, run_id, "bench-host", os.getpid(), now)
    infos = tuple(SensorInfo("cpu", f"cpu:{k}", "rapl", True) for k in range(devices))
    led.append([chain.make([RunOpened(run), MemberJoined(member, 3600.0), DevicesClaimed(infos)])])
    return chain


def ingest(led: Ledger, run_id: str, total: int, per_call: int) -> tuple[float, float]:
    """Write ``total`` samples, ``per_call`` per signed batch (one batch per append, as a
    tracker's tick); samples per second and the batch body's bytes per sample."""
    chain = _run(led, run_id)
    ticks = per_call // DEVICES
    t0 = time.perf_counter()
    written = 0
    tick = 0
    body_bytes = 0
    while written < total:
        samples = tuple(
            Sample(float(tick + j), "cpu", f"cpu:{k}", float(tick + j), 10.0, "bench-host")
            for j in range(ticks)
            for k in range(DEVICES)
        )
        batch = chain.make([SamplesAdded(samples)])
        body_bytes += len(batch.body)
        led.append([batch])
        written += len(samples)
        tick += ticks
    return written / (time.perf_counter() - t0), body_bytes / written


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
            rate, per_sample = ingest(led, run_id, n, per_call)
            # the target is on throughput (bulk batches) on SQLite; a tick is a small batch
            bulk = per_call > DEVICES and label == "sqlite"
            ok = ("yes" if rate >= 50_000 else "NO") if bulk else ""
            rows.append(
                (
                    label,
                    f"ingest, signed batches of {per_call} samples ({n:,} samples)",
                    f"{rate:,.0f} samples/s ({per_call / rate * 1e3:.2f} ms per batch, "
                    f"{per_sample:.0f} B of signed body per sample)",
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
        end = MemberFinished(
            "completed",
            tuple(
                ComponentEnergy("cpu", f"cpu:{k}", "rapl", True, 1.0, 1.0) for k in range(DEVICES)
            ),
            time.time(),
        )
        led.append([MemberChain(big, f"{big}-m", led.signer(), seq=_last_seq(led, big)[0],
                                prev=_last_seq(led, big)[1]).make([end])])  # fmt: skip
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
            chain = _run(led, rid, devices=2)
            cpu = ComponentEnergy("cpu", "cpu:0", "rapl", True, 10.0, 1.0)
            batches = [
                chain.make([WindowEnded(WindowSummary(f"epoch-{w}", f"epoch-{w}", w, 1.0, (cpu,)))])
                for w in range(5)
            ]
            batches.append(chain.make([MemberFinished("completed", (cpu,), time.time())]))
            led.append(batches)
        t = timed(lambda: led.list_runs(limit=20))
        rows.append((label, f"list_runs, newest 20 of {RUNS + 2:,} runs", f"{t * 1e3:.1f} ms", ""))
        t = timed(lambda: led.list_runs(), repeat=3)
        rows.append((label, f"list_runs, all {RUNS + 2:,} runs", f"{t * 1e3:.0f} ms", ""))
        t = timed(lambda: led.verify(), repeat=3)
        rows.append((label, f"verify {RUNS + 2:,} runs (every batch)", f"{t * 1e3:.0f} ms", ""))
    finally:
        led.close()
    return rows


def _last_seq(led: Ledger, run_id: str) -> tuple[int, str]:
    """The member's last batch (seq, hash): to continue its chain from another object."""
    with led.transport.transaction(write=False) as tx:
        row = tx.one(
            "SELECT member_seq, batch_hash FROM seals WHERE run_id = ? AND member_seq IS NOT NULL "
            "ORDER BY member_seq DESC LIMIT 1",
            (run_id,),
        )
    assert row is not None
    return int(row[0]), str(row[1])


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
    else:
        rows += _own_postgres(args.samples)
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


def _own_postgres(samples: int) -> list[tuple[str, str, str, str]]:
    """The benchmark on a PostgreSQL server of its own (Debian's binaries), when installed."""
    sys.path.insert(0, str(Path(__file__).parent))
    from scale import start_postgres, stop_postgres

    with tempfile.TemporaryDirectory() as tmp:
        try:
            url, stop = start_postgres(Path(tmp))
        except Exception as exc:  # no server binaries here: say so, measure the rest
            print(f"PostgreSQL not measured: {exc}", file=sys.stderr)
            return []
        try:
            return bench(url, "postgres", min(samples, 200_000))
        finally:
            stop_postgres(stop)


if __name__ == "__main__":
    sys.exit(main())
