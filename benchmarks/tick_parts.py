"""Where a tracker's CPU goes beside a busy thread: the sampler's wake-up, its reading, its
recording, and the writer's commit, each measured on the real tracker.

    .venv/bin/python benchmarks/tick_parts.py [--seconds 31] [--runs 3]

Each run is a fresh interpreter holding one :class:`carbonledger.Tracker` (1 s interval, an
SQLite ledger, country given) whose main thread runs a busy pure-Python loop for
``--seconds``; the CPU time of every other thread of the process comes from
``/proc/self/task/*/schedstat`` over the loop, as a share of one core, with the thread's
voluntary context switches per tick. Three parts, each a run of its own, interleaved:

* ``wake``: the sampler thread wakes every second and does nothing (its tick is skipped);
* ``read``: it reads every sensor and makes the tick's events, which are then dropped
  (the recorder is not handed them: no signature, no journal, no commit);
* ``full``: the tracker as it ships (the writer's commit every 30 s included).

The differences are what reading, and recording (sign, encode, write ahead, commit), cost.
Linux only (/proc). The parts are made by replacing one method of the tracker's own in the
measuring process, never in the library.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

PARTS = ("wake", "read", "full")

_CHILD = textwrap.dedent(
    """
    import json, os, sys, threading, time
    part, seconds, folder = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    import carbonledger
    if part == "wake":
        from carbonledger.meter.sampler import Sampler
        Sampler._tick = lambda self, sink: None
    elif part == "read":
        from carbonledger.run.recording import Recorder
        Recorder.record_tick = lambda self, events: None

    def threads():
        out = {}
        for tid in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{tid}/schedstat") as fh:
                    ns = int(fh.read().split()[0])
                vol = 0
                with open(f"/proc/self/task/{tid}/status") as fh:
                    for line in fh:
                        if line.startswith("voluntary_ctxt_switches"):
                            vol = int(line.split(":")[1])
            except OSError:
                continue
            out[int(tid)] = (ns, vol)
        return out

    tracker = carbonledger.Tracker(project="parts", country="FR", interval_s=1.0,
                                   ledger=os.path.join(folder, "ledger.sqlite"))
    tracker.start()
    time.sleep(1.5)  # the start's own work is not counted
    names = {t.native_id: t.name for t in threading.enumerate()}
    main = threading.get_native_id()
    before, w0 = threads(), time.perf_counter()
    end, x = w0 + seconds, 0
    while time.perf_counter() < end:
        for i in range(20_000):
            x += i * i
    after, wall = threads(), time.perf_counter() - w0
    tracker.stop()
    out = {}
    for tid, (ns, vol) in after.items():
        if tid == main or tid not in before:
            continue
        name = names.get(tid, "other").replace("carbonledger-", "")
        cpu_ms, switches = (ns - before[tid][0]) / 1e6, vol - before[tid][1]
        old = out.get(name, (0.0, 0))
        out[name] = (old[0] + cpu_ms, old[1] + switches)
    print("@@PARTS " + json.dumps({"wall_s": wall, "threads": out}))
    """
)


def run_part(part: str, seconds: float) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "HOME": home,
            "XDG_CONFIG_HOME": os.path.join(home, "config"),
            "XDG_DATA_HOME": os.path.join(home, "data"),
            "XDG_CACHE_HOME": os.path.join(home, "cache"),
        }
        env = {k: v for k, v in env.items() if not k.startswith("CARBONLEDGER_")}
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, part, str(seconds), home],
            env=env,
            capture_output=True,
            text=True,
            timeout=seconds + 120,
            check=False,
        )
    for line in done.stdout.splitlines():
        if line.startswith("@@PARTS "):
            result: dict[str, object] = json.loads(line[len("@@PARTS ") :])
            return result
    raise RuntimeError(f"part {part} gave no result: {done.stderr[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=31.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    shares: dict[str, list[float]] = {p: [] for p in PARTS}
    per_thread: dict[str, dict[str, list[tuple[float, int]]]] = {p: {} for p in PARTS}
    for _ in range(args.runs):
        for part in PARTS:  # interleaved: the machine's drift hits every part alike
            got = run_part(part, args.seconds)
            wall = float(got["wall_s"])  # type: ignore[arg-type]
            threads: dict[str, list[float]] = got["threads"]  # type: ignore[assignment]
            total = sum(cpu for cpu, _ in threads.values())
            shares[part].append(total / 1e3 / wall * 100.0)
            for name, (cpu, switches) in threads.items():
                per_thread[part].setdefault(name, []).append((cpu / wall, int(switches / wall)))
    print(f"| part ({args.runs} runs of {args.seconds:g} s, medians) | share of a core | "
          "per thread: ms of CPU and voluntary switches per second |")  # fmt: skip
    print("| --- | ---: | --- |")
    for part in PARTS:
        med = statistics.median(shares[part])
        lo, hi = min(shares[part]), max(shares[part])
        threads_text = ", ".join(
            f"{name} {statistics.median(c for c, _ in v):.2f} ms, "
            f"{statistics.median(s for _, s in v):.0f}"
            for name, v in sorted(per_thread[part].items())
        )
        print(f"| {part} | {med:.3f} % ({lo:.3f}-{hi:.3f}) | {threads_text} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
