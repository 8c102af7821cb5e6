"""One measurement in a fresh interpreter (run by benchmarks/run.py, one process per call).

    python _probe.py TOOL METRIC [--workdir DIR] [--seconds S] [--interval S]

TOOL is ``carbonledger``, ``codecarbon``, ``eco2ai`` or ``none`` (no tracker: the baseline).
METRIC is ``startstop``, ``cpu`` (busy main thread), ``cpu-idle`` (sleeping main thread)
or ``rss``. The result is one JSON line on stdout prefixed
with ``@@RESULT``; whatever the tool logs goes before it. Standard library only, so the same
file runs in every tool's venv.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~1.7 MB of RSS


def _status_kb() -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of this process in KiB, from /proc/self/status."""
    out: dict[str, int] = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


# Read before anything else is imported: the RSS metric is "what the tool adds" to this.
# The harness itself imports only os, sys and time (already loaded or built in) until the
# measurement is over; json is imported to print the result afterwards.
_STATUS_AT_START = _status_kb()

import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

if TYPE_CHECKING:
    from typing import Any

MARKER = "@@RESULT "


class _Adapter:
    """Construct / start / stop one tool's tracker with the settings the benchmark compares."""

    def __init__(self, tool: str, workdir: str, interval: float) -> None:
        self.tool = tool
        self.workdir = workdir
        self.interval = interval
        self.count = 0

    def construct(self) -> Any:
        self.count += 1
        n = self.count
        if self.tool == "carbonledger":
            from carbonledger import Tracker

            return Tracker(
                project="bench",
                country="FR",
                ledger=os.path.join(self.workdir, f"ledger-{n}.sqlite"),
                interval_s=self.interval,
            )
        if self.tool == "codecarbon":
            from codecarbon import OfflineEmissionsTracker

            return OfflineEmissionsTracker(
                country_iso_code="FRA",
                save_to_file=False,
                log_level="error",
                measure_power_secs=self.interval,
            )
        if self.tool == "eco2ai":
            import eco2ai

            return eco2ai.Tracker(
                project_name="bench",
                file_name=os.path.join(self.workdir, f"emission-{n}.csv"),
                alpha_2_code="FR",
                measure_period=self.interval,
                ignore_warnings=True,
            )
        if self.tool == "none":
            return None
        raise SystemExit(f"unknown tool {self.tool!r}")

    @staticmethod
    def start(tracker: Any) -> None:
        if tracker is not None:
            tracker.start()

    @staticmethod
    def stop(tracker: Any) -> None:
        if tracker is not None:
            tracker.stop()


def _busy_loop(seconds: float) -> int:
    """A CPU-bound pure-Python loop in the calling thread for about ``seconds``."""
    end = time.perf_counter() + seconds
    x = 0
    while True:
        for i in range(20_000):
            x += i * i
        if time.perf_counter() >= end:
            return x


def measure_startstop(adapter: _Adapter) -> dict[str, Any]:
    """First-call costs in this fresh process, then a second tracker in the same process."""
    t0 = time.perf_counter()
    # Import first, so the construct time below does not include it.
    if adapter.tool == "carbonledger":
        from carbonledger import Tracker  # noqa: F401
    elif adapter.tool == "codecarbon":
        from codecarbon import OfflineEmissionsTracker  # noqa: F401
    elif adapter.tool == "eco2ai":
        import eco2ai  # noqa: F401
    t1 = time.perf_counter()
    tracker = adapter.construct()
    t2 = time.perf_counter()
    adapter.start(tracker)
    t3 = time.perf_counter()
    adapter.stop(tracker)
    t4 = time.perf_counter()
    result: dict[str, Any] = {
        "import_s": t1 - t0,
        "construct_s": t2 - t1,
        "start_s": t3 - t2,
        "stop_s": t4 - t3,
        "startstop_s": t4 - t2,
    }
    # A second tracker in the same (now warm) process.
    try:
        w0 = time.perf_counter()
        second = adapter.construct()
        w1 = time.perf_counter()
        adapter.start(second)
        w2 = time.perf_counter()
        adapter.stop(second)
        w3 = time.perf_counter()
        result.update(
            warm_construct_s=w1 - w0,
            warm_start_s=w2 - w1,
            warm_stop_s=w3 - w2,
            warm_startstop_s=w3 - w1,
        )
    except Exception as exc:
        result["warm_error"] = f"{type(exc).__name__}: {exc}"
    return result


def measure_cpu(adapter: _Adapter, seconds: float, busy: bool = True) -> dict[str, Any]:
    """CPU time spent outside the main thread while the main thread runs a busy loop
    (``busy``: the sampler competes for the GIL) or sleeps (it has the interpreter to itself).

    extra = process CPU time - main-thread CPU time over the same span, plus the CPU time of
    child processes the tracker ran and reaped meanwhile (eco2AI runs ``top`` every tick).
    Process and thread times come from clock_gettime (process_time / thread_time, ns
    resolution, where os.times() counts 10 ms ticks); children's from getrusage (us).
    """
    import resource  # here, not at the top: the RSS metric must not count it

    def children_cpu() -> float:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        return ru.ru_utime + ru.ru_stime

    tracker = adapter.construct()
    adapter.start(tracker)
    try:
        w0 = time.perf_counter()
        c0 = children_cpu()
        p0 = time.process_time()
        th0 = time.thread_time()
        if busy:
            _busy_loop(seconds)
        else:
            time.sleep(seconds)
        th1 = time.thread_time()
        p1 = time.process_time()
        c1 = children_cpu()
        w1 = time.perf_counter()
    finally:
        adapter.stop(tracker)
    wall = w1 - w0
    extra = (p1 - p0) - (th1 - th0) + (c1 - c0)
    # A process-tree sampler's cost grows with the number of processes on the host.
    host_processes = sum(1 for name in os.listdir("/proc") if name.isdigit())
    return {
        "host_processes": host_processes,
        "wall_s": wall,
        "process_cpu_s": p1 - p0,
        "main_thread_cpu_s": th1 - th0,
        "children_cpu_s": c1 - c0,
        "extra_cpu_s": extra,
        "share_pct": extra / wall * 100.0,
    }


def measure_rss(adapter: _Adapter, seconds: float) -> dict[str, Any]:
    """Peak RSS added by import + construct + start + ``seconds`` running + stop."""
    before = _STATUS_AT_START
    tracker = adapter.construct()
    adapter.start(tracker)
    time.sleep(seconds)
    adapter.stop(tracker)
    after = _status_kb()
    return {
        "rss_before_kb": before["VmRSS"],
        "hwm_before_kb": before["VmHWM"],
        "rss_after_kb": after["VmRSS"],
        "hwm_after_kb": after["VmHWM"],
        "added_peak_mib": (after["VmHWM"] - before["VmRSS"]) / 1024.0,
    }


TOOLS = ("carbonledger", "codecarbon", "eco2ai", "none")
METRICS = ("startstop", "cpu", "cpu-idle", "rss")
USAGE = "usage: _probe.py TOOL METRIC [--workdir DIR] [--seconds S] [--interval S]"


def _parse(argv: list[str]) -> tuple[str, str, dict[str, str]]:
    """A tiny argv parser: argparse would add its own megabytes to the RSS being measured."""
    if len(argv) < 2 or argv[0] not in TOOLS or argv[1] not in METRICS:
        raise SystemExit(USAGE)
    options = {"--workdir": os.getcwd(), "--seconds": "10", "--interval": "1"}
    rest = argv[2:]
    if len(rest) % 2 or any(k not in options for k in rest[::2]):
        raise SystemExit(USAGE)
    options.update(zip(rest[::2], rest[1::2], strict=True))
    return argv[0], argv[1], options


def main(argv: list[str] | None = None) -> int:
    tool, metric, opts = _parse(sys.argv[1:] if argv is None else argv)
    seconds = float(opts["--seconds"])
    adapter = _Adapter(tool, opts["--workdir"], float(opts["--interval"]))
    if metric == "startstop":
        result = measure_startstop(adapter)
    elif metric in ("cpu", "cpu-idle"):
        result = measure_cpu(adapter, seconds, busy=metric == "cpu")
    else:
        result = measure_rss(adapter, seconds)
    import json

    sys.stdout.flush()
    print(MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
