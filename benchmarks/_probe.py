"""One measurement in a fresh interpreter (run by benchmarks/run.py, one process per call).

    python _probe.py TOOL METRIC [--workdir DIR] [--seconds S] [--interval S]

TOOL is ``carbonledger``, ``codecarbon``, ``eco2ai`` or ``none`` (no tracker: the baseline).
METRIC is ``import``, ``firstuse``, ``cpu`` (busy main thread), ``cpu-idle`` (sleeping main
thread) or ``rss``. The result is one JSON line on stdout prefixed with ``@@RESULT``;
whatever the tool logs goes before it. Standard library only, so the same file runs in every
tool's venv; it imports nothing beyond what the interpreter has loaded at start-up until its
measurement is over (annotations are never evaluated, so no ``typing`` either).
"""

from __future__ import annotations


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
_STATUS_AT_START = _status_kb()

import os  # noqa: E402  (loaded by the interpreter at start-up already)
import sys  # noqa: E402
import time  # noqa: E402

MARKER = "@@RESULT "

#: per tool: the package, and the tracker class the benchmark constructs
PACKAGES = {
    "carbonledger": ("carbonledger", "Tracker"),
    "codecarbon": ("codecarbon", "OfflineEmissionsTracker"),
    "eco2ai": ("eco2ai", "Tracker"),
}


class _Adapter:
    """Construct / start / stop one tool's tracker with the settings the benchmark compares:
    the country given (no network), a sampling interval, output to a new file per tracker."""

    def __init__(self, tool: str, workdir: str, interval_s: float) -> None:
        self.tool = tool
        self.workdir = workdir
        self.interval_s = interval_s
        self.count = 0

    def tracker_class(self) -> object:
        if self.tool == "none":
            return None
        package, name = PACKAGES[self.tool]
        return getattr(__import__(package), name)

    def construct(self) -> object:
        self.count += 1
        new_file = os.path.join(self.workdir, f"{self.tool}-{os.getpid()}-{self.count}")
        cls = self.tracker_class()
        if self.tool == "carbonledger":
            return cls(  # type: ignore[operator]
                project="bench",
                country="FR",
                ledger=new_file + ".sqlite",
                interval_s=self.interval_s,
            )
        if self.tool == "codecarbon":
            return cls(  # type: ignore[operator]
                country_iso_code="FRA",
                save_to_file=False,
                log_level="error",
                measure_power_secs=self.interval_s,
            )
        if self.tool == "eco2ai":
            return cls(  # type: ignore[operator]
                project_name="bench",
                file_name=new_file + ".csv",
                alpha_2_code="FR",
                measure_period=self.interval_s,
                ignore_warnings=True,
            )
        return None

    @staticmethod
    def start(tracker: object) -> None:
        if tracker is not None:
            tracker.start()  # type: ignore[attr-defined]

    @staticmethod
    def stop(tracker: object) -> None:
        if tracker is not None:
            tracker.stop()  # type: ignore[attr-defined]


def measure_import(tool: str) -> dict[str, float]:
    """``import PACKAGE``, then the tracker class's attribute (a lazy package loads its
    module then), timed in-process: the cost over a bare interpreter, without the noise of
    timing two interpreters' start-up."""
    if tool == "none":
        return {"package_s": 0.0, "class_s": 0.0, "modules_package": 0.0}
    package, name = PACKAGES[tool]
    before = len(sys.modules)
    t0 = time.perf_counter()
    module = __import__(package)
    t1 = time.perf_counter()
    getattr(module, name)
    t2 = time.perf_counter()
    return {
        "package_s": t1 - t0,
        "class_s": t2 - t0,
        "modules_package": float(len(sys.modules) - before),
    }


def measure_firstuse(adapter: _Adapter) -> dict[str, float]:
    """import + construct + start() + stop(), the first tracker of this fresh process. The
    harness times the whole process too (its exit included); these are the parts."""
    t0 = time.perf_counter()
    adapter.tracker_class()
    t1 = time.perf_counter()
    tracker = adapter.construct()
    t2 = time.perf_counter()
    adapter.start(tracker)
    t3 = time.perf_counter()
    adapter.stop(tracker)
    t4 = time.perf_counter()
    return {
        "import_s": t1 - t0,
        "construct_s": t2 - t1,
        "start_s": t3 - t2,
        "stop_s": t4 - t3,
        "in_process_s": t4 - t0,
    }


def _busy_loop(seconds: float) -> int:
    """A CPU-bound pure-Python loop in the calling thread for about ``seconds``."""
    end = time.perf_counter() + seconds
    x = 0
    while True:
        for i in range(20_000):
            x += i * i
        if time.perf_counter() >= end:
            return x


def _task_cpu_ns() -> dict[int, int]:
    """CPU time (ns) each thread of this process has run, by thread id, from
    /proc/self/task/*/schedstat (Linux; empty elsewhere)."""
    out: dict[int, int] = {}
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as fh:
                out[int(tid)] = int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


def _thread_split(before: dict[int, int], after: dict[int, int]) -> dict[str, float]:
    """``thread_cpu_s:NAME`` for each thread but the main one that ran between the two
    snapshots (NAME: the thread's Python name where it has one, else its id)."""
    threading = sys.modules.get("threading")  # loaded by any tool that runs a thread
    names = {}
    if threading is not None:
        names = {t.native_id: t.name for t in threading.enumerate()}
    main = threading.main_thread().native_id if threading is not None else os.getpid()
    out: dict[str, float] = {}
    for tid, ns in after.items():
        if tid == main:
            continue
        key = "thread_cpu_s:" + names.get(tid, str(tid))
        out[key] = out.get(key, 0.0) + (ns - before.get(tid, 0)) / 1e9
    return out


def measure_cpu(adapter: _Adapter, seconds: float, busy: bool = True) -> dict[str, float]:
    """CPU time spent outside the main thread while the main thread runs a busy pure-Python
    loop (``busy``: the sampler competes for the GIL) or sleeps.

    extra = process CPU time - main-thread CPU time over the same span, plus the CPU time of
    child processes the tracker ran and reaped meanwhile (eco2AI runs ``top`` every tick).
    Process and thread times come from clock_gettime (process_time / thread_time, ns
    resolution); children's from getrusage (us). Where /proc/self/task is readable, the
    result also splits the extra among the tracker's threads (``thread_cpu_s:NAME``, from
    each thread's schedstat): which of them the CPU went to.
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
        tasks0 = _task_cpu_ns()
        p0 = time.process_time()
        th0 = time.thread_time()
        if busy:
            _busy_loop(seconds)
        else:
            time.sleep(seconds)
        th1 = time.thread_time()
        p1 = time.process_time()
        tasks1 = _task_cpu_ns()
        c1 = children_cpu()
        w1 = time.perf_counter()
        split = _thread_split(tasks0, tasks1)  # named while the threads still run
    finally:
        adapter.stop(tracker)
    wall = w1 - w0
    extra = (p1 - p0) - (th1 - th0) + (c1 - c0)
    return {
        "host_processes": float(sum(1 for name in os.listdir("/proc") if name.isdigit())),
        "wall_s": wall,
        "main_thread_cpu_s": th1 - th0,
        "children_cpu_s": c1 - c0,
        "extra_cpu_s": extra,
        "share_pct": extra / wall * 100.0,
        **split,
    }


def measure_rss(adapter: _Adapter, seconds: float) -> dict[str, float]:
    """Peak RSS added by import + construct + start + ``seconds`` running + stop."""
    before = _STATUS_AT_START
    tracker = adapter.construct()
    adapter.start(tracker)
    time.sleep(seconds)
    adapter.stop(tracker)
    after = _status_kb()
    return {
        "rss_before_kb": float(before["VmRSS"]),
        "hwm_after_kb": float(after["VmHWM"]),
        "added_peak_mib": (after["VmHWM"] - before["VmRSS"]) / 1024.0,
    }


TOOLS = ("carbonledger", "codecarbon", "eco2ai", "none")
METRICS = ("import", "firstuse", "cpu", "cpu-idle", "rss")
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
    result: dict[str, float]
    if metric == "import":
        result = measure_import(tool)
    elif metric == "firstuse":
        result = measure_firstuse(adapter)
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
