"""Write-path benchmark: what signing at the source costs, and memory that does not grow.

Run: ``.venv/bin/python benchmarks/write_path.py`` (``make bench`` runs it). Each figure is
measured in a fresh process (its own peak RSS), with a throwaway signing key and ledger:

- signing: signed batches per second for a sampler tick of 3 devices (events made, encoded
  and signed with Ed25519), and the bytes of signed body and of SQLite ledger per sample;
- a window's begin and end in the user's thread, with a SQLite ledger and with none;
- RSS growth over 1,000,000 windows, and over 24 h simulated at 10 Hz (864,000 sampler ticks
  with a fake clock), both into a SQLite ledger: target <= 10 MiB each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

TARGET_MIB = 10.0

PROBE = textwrap.dedent(
    """
    import json, os, resource, sys, time
    import carbonledger as cl
    from carbonledger.models import Reading, SensorInfo

    def rss_mib():
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    class Clock:
        def __init__(self):
            self.t = 1_700_000_000.0
        def __call__(self):
            return self.t

    class Counter:  # the hardware edge: a counter at a constant power on the given clock
        def __init__(self, clock, device, power_w):
            self.clock, self.power_w, self.t0 = clock, power_w, clock()
            self.info = SensorInfo("cpu" if "cpu" in device else "gpu", device, "rapl", True)
        def read(self):
            return Reading(self.clock(), (self.clock() - self.t0) * self.power_w, self.power_w)
        def close(self):
            pass

    what, n, ledger = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    led = False if ledger == "none" else ledger
    out = {}
    if what == "windows":
        clock = time.monotonic
        sensors = [Counter(clock, "cpu:0", 50.0), Counter(clock, "gpu:0", 300.0)]
        run = cl.Tracker("bench", grid_g_per_kwh=100, sensors=sensors, ledger=led,
                         interval_s=1.0, handle_signals=False).start()
        for i in range(min(1000, n)):
            run.begin_window("step"); run.end_window("step")
        base = rss_mib()
        t0 = time.perf_counter()
        for i in range(n):
            run.begin_window("step"); run.end_window("step")
        out["us_per_window"] = (time.perf_counter() - t0) / n * 1e6
        out["rss_growth_mib"] = rss_mib() - base
        run.stop()
        out["rss_growth_after_stop_mib"] = rss_mib() - base
    elif what == "ticks":
        clock = Clock()
        sensors = [Counter(clock, "cpu:0", 50.0), Counter(clock, "gpu:0", 300.0),
                   Counter(clock, "gpu:1", 300.0)]
        run = cl.Tracker("bench", grid_g_per_kwh=100, sensors=sensors, ledger=led,
                         interval_s=86400, clock=clock, wall_clock=clock,
                         handle_signals=False).start()
        sampler = run._s.sampler
        for i in range(1000):
            clock.t += 0.1
            sampler.tick()
        base = rss_mib()
        t0 = time.perf_counter()
        for i in range(n):
            clock.t += 0.1
            sampler.tick()
        out["us_per_tick"] = (time.perf_counter() - t0) / n * 1e6
        out["rss_growth_mib"] = rss_mib() - base
        run.stop()
        out["energy_j"] = run.summary().energy_j
    elif what == "sign":
        from carbonledger.events import MemberChain, SamplesAdded
        from carbonledger.ledger.keys import load_or_create_signing_key
        from carbonledger.models import Sample
        chain = MemberChain("r", "m", load_or_create_signing_key())
        t0 = time.perf_counter()
        size = 0
        for i in range(n):
            samples = tuple(Sample(1.7e9 + i, "gpu", f"gpu:{k}", 1000.0 + i, 300.0, "node-01")
                            for k in range(3))
            size += len(chain.make([SamplesAdded(samples)]).body)
        out["batches_per_s"] = n / (time.perf_counter() - t0)
        out["body_bytes_per_sample"] = size / (3 * n)
        if led:
            from carbonledger.ledger import open_ledger
            db = open_ledger(led)
            before = sum(p.stat().st_size for p in __import__("pathlib").Path(led).parent.iterdir())
            chain2 = MemberChain("r2", "m2", load_or_create_signing_key())
            from carbonledger.events import RunOpened, MemberJoined
            from carbonledger.models import RunRecord, MemberRecord
            db.append([chain2.make([RunOpened(RunRecord("r2", "b", "b", 1.7e9, "process", "FR",
                       "x", 50.0, "x", 1.0, "x")), MemberJoined(MemberRecord("m2", "r2", "h", 1,
                       1.7e9), 15.0)])])
            ticks = min(n, 20000)
            for i in range(ticks):
                samples = tuple(Sample(1.7e9 + i, "gpu", f"gpu:{k}", 1000.0 + i, 300.0,
                                       "node-01") for k in range(3))
                db.append([chain2.make([SamplesAdded(samples)])])
            db.close()
            import sqlite3
            con = sqlite3.connect(led); con.execute("PRAGMA wal_checkpoint(TRUNCATE)"); con.close()
            after = sum(p.stat().st_size for p in __import__("pathlib").Path(led).parent.iterdir())
            out["ledger_bytes_per_sample"] = (after - before) / (3 * ticks)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
    """
)


def probe(what: str, n: int, ledger: str, tmp: Path) -> dict[str, float]:
    env = {
        **os.environ,
        "CARBONLEDGER_SIGNING_KEY": str(tmp / "key.pem"),
        "XDG_CONFIG_HOME": str(tmp / "config"),
        "XDG_DATA_HOME": str(tmp / "data"),
        "CARBONLEDGER_NO_CLOUD_PROBE": "1",
    }
    out = subprocess.run(
        [sys.executable, "-c", PROBE, what, str(n), ledger],
        capture_output=True, text=True, env=env, check=False, timeout=3600,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"{what}: {out.stderr.strip()[-2000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=1_000_000)
    parser.add_argument("--ticks", type=int, default=864_000, help="24 h at 10 Hz")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    rows: list[tuple[str, str, str]] = []
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)

        def ledger(name: str) -> str:
            (tmp / name).mkdir()
            return str(tmp / name / "ledger.sqlite")

        sign = figures["sign"] = probe("sign", 20_000, ledger("sign"), tmp)
        rows.append(
            (
                "signed batches per second (a tick of 3 devices)",
                f"{sign['batches_per_s']:,.0f}/s",
                "",
            )
        )
        rows.append(
            (
                "bytes per sample: signed body / SQLite ledger",
                f"{sign['body_bytes_per_sample']:.0f} B / {sign['ledger_bytes_per_sample']:.0f} B",
                "",
            )
        )
        small = figures["window_none"] = probe("windows", 100_000, "none", tmp)
        rows.append(("a window's begin + end, no ledger", f"{small['us_per_window']:.1f} us", ""))
        big = figures["windows"] = probe("windows", args.windows, ledger("windows"), tmp)
        rows.append(("a window's begin + end, SQLite ledger", f"{big['us_per_window']:.1f} us", ""))
        growth = big["rss_growth_mib"]
        rows.append(
            (
                f"RSS growth over {args.windows:,} windows (SQLite ledger)",
                f"{growth:.1f} MiB (after stop {big['rss_growth_after_stop_mib']:.1f})",
                "yes" if growth <= TARGET_MIB else "NO",
            )
        )
        ticks = figures["ticks"] = probe("ticks", args.ticks, ledger("ticks"), tmp)
        rows.append(
            (
                f"RSS growth over {args.ticks:,} ticks (24 h at 10 Hz, SQLite ledger)",
                f"{ticks['rss_growth_mib']:.1f} MiB ({ticks['us_per_tick']:.0f} us per tick)",
                "yes" if ticks["rss_growth_mib"] <= TARGET_MIB else "NO",
            )
        )
    print(f"carbonledger write path - Python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
    header = ("measure", "result", "target met")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if args.json:
        print(json.dumps(figures))
    return 0 if all(r[2] != "NO" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
