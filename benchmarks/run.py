"""Speed-and-size benchmark: carbonledger side by side with CodeCarbon and eco2AI.

    python3 benchmarks/run.py            # full run (a few minutes)
    python3 benchmarks/run.py --quick    # smoke test: fewer repetitions, shorter loops
    python3 benchmarks/run.py --only carbonledger --json results.json

Each tool gets its own venv under .bench/ (created on first use, reused afterwards):
``carbonledger`` (this repository, core only, a regular non-editable install, refreshed
on every run), ``codecarbon`` (codecarbon==3.3.2), ``eco2ai`` (eco2ai==0.3.12 with
pandas<3: eco2AI 0.3.12's stop() fails under pandas 3) and ``empty`` (the size baseline).
Every measurement runs in a fresh interpreter of the tool's venv (benchmarks/_probe.py).
A peer that fails to install, or a metric that fails, shows the error in its cell; the
rest of the benchmark goes on. See docs/performance.md for what each row means.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PROBE = Path(__file__).resolve().with_name("_probe.py")
MARKER = "@@RESULT "
MIB = 1024 * 1024  # sizes are in MiB (what the "MB" figures are)


@dataclass(frozen=True)
class Tool:
    name: str
    label: str
    requirements: tuple[str, ...]
    module: str
    class_import: str


TOOLS: dict[str, Tool] = {
    "carbonledger": Tool(
        "carbonledger",
        "carbonledger",
        (str(REPO),),
        "carbonledger",
        "from carbonledger import Tracker",
    ),
    "codecarbon": Tool(
        "codecarbon",
        "CodeCarbon 3.3.2",
        ("codecarbon==3.3.2",),
        "codecarbon",
        "from codecarbon import OfflineEmissionsTracker",
    ),
    "eco2ai": Tool(
        "eco2ai",
        "eco2AI 0.3.12 (pandas<3)",
        ("eco2ai==0.3.12", "pandas<3"),
        "eco2ai",
        "from eco2ai import Tracker",
    ),
}


@dataclass
class Settings:
    import_reps: int = 7
    startstop_reps: int = 5
    cpu_reps: int = 3
    cpu_seconds: float = 10.0
    rss_reps: int = 3
    rss_seconds: float = 3.0
    interval_s: float = 1.0


QUICK = Settings(
    import_reps=3, startstop_reps=2, cpu_reps=1, cpu_seconds=3.0, rss_reps=1, rss_seconds=1.0
)


class MetricError(Exception):
    """A measurement that failed; its message goes into the table cell."""


@dataclass
class Venv:
    name: str
    path: Path
    error: str | None = None
    note: str = ""

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


@dataclass
class Results:
    machine: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    venvs: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, dict[str, Any]] = field(default_factory=dict)
    values: dict[str, dict[str, float | str]] = field(default_factory=dict)
    ranges: dict[str, dict[str, tuple[float, float]]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def put(self, tool: str, row: str, value: float | str) -> None:
        self.values.setdefault(row, {})[tool] = value

    def fail(self, tool: str, rows: Sequence[str], exc: BaseException) -> None:
        """Put the error's last line in each row's cell; keep the full text once."""
        message = str(exc).strip() or type(exc).__name__
        for row in rows:
            self.put(tool, row, "error: " + message.splitlines()[-1][:70])
        self.errors.append(f"[{tool}] {', '.join(rows)}:\n{message}")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def clean_env() -> dict[str, str]:
    """The environment for the tools' interpreters: none of ours leaks into theirs."""
    env = dict(os.environ)
    for name in (
        "PYTHONPATH",
        "PYTHONHOME",
        "PYTHONSTARTUP",
        "VIRTUAL_ENV",
        "PYTHONDONTWRITEBYTECODE",
    ):
        env.pop(name, None)
    return env


# ----------------------------------------------------------------------------- machine info


def loadavg() -> str:
    try:
        with open("/proc/loadavg") as fh:
            return " ".join(fh.read().split()[:3])
    except OSError:
        return "?"


def source_revision() -> str:
    """The commit of the tree being benchmarked, and whether it has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no", "src"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + (" + uncommitted changes in src/" if dirty else "")


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gb: float | None = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                    break
    except OSError:
        pass
    rapl = sorted(str(p) for p in Path("/sys/class/powercap").glob("intel-rapl:*/energy_uj"))
    rapl_readable = any(os.access(p, os.R_OK) for p in rapl)
    gpu = bool(shutil.which("nvidia-smi")) or Path("/proc/driver/nvidia/gpus").exists()
    virt = ""
    try:
        with open("/proc/cpuinfo") as fh:
            virt = "hypervisor" if " hypervisor" in fh.read() else "bare metal"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "memory_gb": mem_gb,
        "virtualisation": virt,
        "python": platform.python_version(),
        "python_executable": getattr(sys, "_base_executable", sys.executable),
        "platform": platform.platform(),
        "rapl": "readable" if rapl_readable else ("present, unreadable" if rapl else "none"),
        "nvidia_gpu": gpu,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "loadavg_at_start": loadavg(),
        "carbonledger_source": source_revision(),
    }


# ----------------------------------------------------------------------------- venvs


def _pyproject_digest() -> str:
    try:
        return hashlib.sha256((REPO / "pyproject.toml").read_bytes()).hexdigest()[:16]
    except OSError:
        return "?"


def _pip(python: Path, args: Sequence[str], timeout: float = 1800) -> None:
    cmd = [str(python), "-m", "pip", "install", "-q", "--no-input", *args]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=timeout,
        cwd=tempfile.gettempdir(),
    )
    if proc.returncode != 0:
        # pip's own "ignored location" warnings are noise; keep the real error lines.
        lines = [
            ln
            for ln in (proc.stderr + proc.stdout).splitlines()
            if "is ignored: it is neither" not in ln
        ]
        raise MetricError(f"pip install {' '.join(args)} failed:\n" + "\n".join(lines[-25:]))


def _read_stamp(stamp: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("base"), str):
        data["base"] = os.path.realpath(data["base"])
    return data


def ensure_venv(bench_dir: Path, name: str, requirements: Sequence[str]) -> Venv:
    """Create the venv (or reuse it when its stamp matches) and install ``requirements``."""
    venv = Venv(name, bench_dir / name)
    # The interpreter by its real path: `make bench` (.venv/bin/python) and `python3` reach
    # the same binary under different names, and must reuse the same venvs.
    stamp_data = {
        "python": platform.python_version(),
        "base": os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
        "requirements": list(requirements),
    }
    if name == "carbonledger":
        stamp_data["pyproject"] = _pyproject_digest()
    stamp = venv.path / ".bench-stamp.json"
    try:
        if venv.python.exists() and stamp.exists() and _read_stamp(stamp) == stamp_data:
            if name == "carbonledger":
                # Same dependencies; refresh the package itself so the run measures this tree.
                _pip(venv.python, ["--force-reinstall", "--no-deps", str(REPO)])
                venv.note = "reused, package reinstalled from the working tree"
            else:
                venv.note = "reused"
            return venv
        if venv.path.exists():
            shutil.rmtree(venv.path)
        log(f"  creating {venv.path} ...")
        subprocess.run(
            [sys.executable, "-m", "venv", str(venv.path)],
            check=True,
            capture_output=True,
            text=True,
            env=clean_env(),
        )
        if requirements:
            log(f"  pip install {' '.join(requirements)} ...")
            _pip(venv.python, list(requirements))
        stamp.write_text(json.dumps(stamp_data, indent=2))
        venv.note = "created"
    except subprocess.CalledProcessError as exc:
        venv.error = f"python -m venv failed: {exc.stderr or exc}"
    except (MetricError, OSError, subprocess.TimeoutExpired) as exc:
        venv.error = str(exc)
    return venv


def tree_size(path: Path) -> int:
    """Disk usage in bytes, like ``du -s`` (allocated blocks, hard links counted once)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += st.st_blocks * 512
    return total


def site_packages(venv: Path) -> Path | None:
    found = sorted(venv.glob("lib/python*/site-packages"))
    return found[0] if found else None


def largest_additions(venv: Path, empty: Path, top: int = 8) -> list[tuple[str, float]]:
    """The biggest site-packages entries that the empty venv does not have, in MiB."""
    sp, base = site_packages(venv), site_packages(empty)
    if sp is None or base is None:
        return []
    present = {p.name for p in base.iterdir()}
    sizes: dict[str, int] = {}
    for entry in sp.iterdir():
        if entry.name in present or entry.name.endswith((".dist-info", ".pth")):
            continue
        name = entry.name.removesuffix(".py").split(".")[0]  # drop .cpython-311-x86_64... too
        size = tree_size(entry) if entry.is_dir() else entry.lstat().st_blocks * 512
        sizes[name] = sizes.get(name, 0) + size
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])[:top]
    return [(name, size / MIB) for name, size in ranked]


# ----------------------------------------------------------------------------- measurements


def _timed_run(python: Path, code: str, cwd: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(python), "-c", code], capture_output=True, text=True, env=clean_env(), cwd=cwd
    )
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise MetricError(f"python -c {code!r} failed:\n{proc.stderr.strip()[-2000:]}")
    return elapsed


def measure_import(
    python: Path, bare_python: Path, statement: str, reps: int, cwd: str
) -> dict[str, Any]:
    """Median wall time of ``python -c STATEMENT`` minus that of a bare ``python -c pass``.

    The bare interpreter is the empty venv's (same Python, nothing installed), so what a
    tool's install adds to every interpreter start (a ``.pth`` file run by ``site``) counts
    against it. ``python -c pass`` in the tool's own venv is timed too: the startup tax.
    """
    for py, code in ((bare_python, "pass"), (python, "pass"), (python, statement)):
        _timed_run(py, code, cwd)  # warm the page cache and the .pyc files
    bare: list[float] = []
    venv_bare: list[float] = []
    full: list[float] = []
    for _ in range(reps):  # interleaved, so drift hits all three alike
        bare.append(_timed_run(bare_python, "pass", cwd))
        venv_bare.append(_timed_run(python, "pass", cwd))
        full.append(_timed_run(python, statement, cwd))
    med_bare = statistics.median(bare)
    return {
        "statement": statement,
        "bare_s": bare,
        "venv_bare_s": venv_bare,
        "with_import_s": full,
        "over_bare_ms": (statistics.median(full) - med_bare) * 1000,
        "startup_tax_ms": (statistics.median(venv_bare) - med_bare) * 1000,
        "over_bare_min_ms": (min(full) - min(bare)) * 1000,
    }


def run_probe(
    python: Path, tool: str, metric: str, cwd: str, timeout: float, extra: Sequence[str] = ()
) -> dict[str, Any]:
    cmd = [str(python), str(PROBE), tool, metric, "--workdir", cwd, *extra]
    env = clean_env()
    # Per-user caches (carbonledger keeps its CPU-TDP lookup in $XDG_CACHE_HOME) live in the
    # tool's work dir: empty for its first probe, warm after, never the user's own.
    env["XDG_CACHE_HOME"] = os.path.join(cwd, "xdg-cache")
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise MetricError(f"{tool} {metric}: timed out after {timeout:.0f} s") from exc
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(MARKER):
            result: dict[str, Any] = json.loads(line[len(MARKER) :])
            return result
    tail = (proc.stderr.strip() or proc.stdout.strip())[-3000:]
    raise MetricError(f"{tool} {metric} exited {proc.returncode}:\n{tail}")


def _median(samples: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(s[key] for s in samples if key in s))


def _attempt(results: Results, tool: str, rows: Sequence[str], fn: Callable[[], None]) -> None:
    try:
        fn()
    except Exception as exc:
        results.fail(tool, rows, exc)


# Row keys, in table order: (key, label, unit, target or None).
ROWS: list[tuple[str, str, str, float | None]] = [
    ("import_plain", "import time over bare python: `import <pkg>`", "ms", 30.0),
    ("import_class", "import time over bare python: the tracker class", "ms", 30.0),
    ("construct", "tracker construction (first, fresh process)", "ms", None),
    ("startstop_cold", "start()+stop(), fresh process, empty user cache (1 run)", "ms", None),
    ("startstop", "start()+stop(), first tracker in a fresh process", "ms", 20.0),
    ("startstop_warm", "start()+stop(), second tracker, same process", "ms", None),
    ("first_use", "first use, fresh process: class import + construct + start + stop", "ms", None),
    ("cpu_raw", "sampler CPU, 1 s interval, CPU-bound main thread: raw", "% of 1 core", None),
    ("cpu_net", "sampler CPU, same, net of the no-tracker run", "% of 1 core", 0.1),
    ("cpu_idle", "sampler CPU, 1 s interval, main thread asleep", "% of 1 core", None),
    ("rss", "added peak RSS (import, construct, start, run, stop)", "MiB", 15.0),
    ("install", "install size over an empty venv", "MiB", 30.0),
]


def benchmark_tool(
    tool: Tool,
    venv: Venv,
    empty: Venv | None,
    s: Settings,
    cpu_baseline: float | None,
    res: Results,
) -> None:
    raw: dict[str, Any] = res.raw.setdefault(tool.name, {})
    if venv.error:
        for key, *_ in ROWS:
            res.put(tool.name, key, "error: install failed")
        res.errors.append(f"[{tool.name}] install:\n{venv.error}")
        return
    py = venv.python
    raw["loadavg_at_start"] = loadavg()
    workdir = tempfile.mkdtemp(prefix=f"bench-{tool.name}-")
    try:

        def install() -> None:
            if empty is None or empty.error:
                raise MetricError(f"no empty venv to compare with: {empty.error if empty else ''}")
            size = tree_size(venv.path) - tree_size(empty.path)
            raw["install_bytes"] = size
            raw["largest_mb"] = largest_additions(venv.path, empty.path)
            res.put(tool.name, "install", size / MIB)

        _attempt(res, tool.name, ["install"], install)

        def imports() -> None:
            log(f"  {tool.name}: import time ({s.import_reps} reps)")
            for key, stmt in (
                ("import_plain", f"import {tool.module}"),
                ("import_class", tool.class_import),
            ):
                try:
                    bare_py = empty.python if empty is not None and not empty.error else py
                    r = measure_import(py, bare_py, stmt, s.import_reps, workdir)
                    raw[key] = r
                    res.put(tool.name, key, r["over_bare_ms"])
                except Exception as exc:
                    res.fail(tool.name, [key], exc)

        imports()

        def startstop() -> None:
            log(f"  {tool.name}: start()+stop() (1 + {s.startstop_reps} fresh processes)")
            interval = ["--interval", str(s.interval_s)]
            # The first probe of this tool meets an empty $XDG_CACHE_HOME: a first run ever.
            cold = run_probe(py, tool.name, "startstop", workdir, 300, interval)
            samples = [
                run_probe(py, tool.name, "startstop", workdir, 300, interval)
                for _ in range(s.startstop_reps)
            ]
            raw["startstop_cold"] = cold
            raw["startstop"] = samples
            res.put(tool.name, "startstop_cold", cold["startstop_s"] * 1000)
            res.put(tool.name, "construct", _median(samples, "construct_s") * 1000)
            res.put(tool.name, "startstop", _median(samples, "startstop_s") * 1000)
            warm = [x for x in samples if "warm_startstop_s" in x]
            if warm:
                res.put(tool.name, "startstop_warm", _median(warm, "warm_startstop_s") * 1000)
            else:
                res.put(tool.name, "startstop_warm", "error: " + samples[0].get("warm_error", "?"))

        _attempt(
            res,
            tool.name,
            ["construct", "startstop_cold", "startstop", "startstop_warm"],
            startstop,
        )
        # Where a tool does its loading (at import or at start) differs; the sum does not.
        parts = [
            res.values.get(k, {}).get(tool.name) for k in ("import_class", "construct", "startstop")
        ]
        if all(isinstance(p, float) for p in parts):
            res.put(tool.name, "first_use", sum(p for p in parts if isinstance(p, float)))

        extra = ["--seconds", str(s.cpu_seconds), "--interval", str(s.interval_s)]

        def cpu() -> None:
            log(
                f"  {tool.name}: sampler CPU ({s.cpu_reps} x {s.cpu_seconds:g} s busy loop, "
                f"{s.interval_s:g} s interval)"
            )
            samples = [
                run_probe(py, tool.name, "cpu", workdir, s.cpu_seconds + 300, extra)
                for _ in range(s.cpu_reps)
            ]
            raw["cpu"] = samples
            shares = [x["share_pct"] for x in samples]
            share = _median(samples, "share_pct")
            res.put(tool.name, "cpu_raw", share)
            res.ranges.setdefault("cpu_raw", {})[tool.name] = (min(shares), max(shares))
            if cpu_baseline is None:
                res.put(tool.name, "cpu_net", "error: no baseline")
            else:
                res.put(tool.name, "cpu_net", share - cpu_baseline)
                net = (min(shares) - cpu_baseline, max(shares) - cpu_baseline)
                res.ranges.setdefault("cpu_net", {})[tool.name] = net

        _attempt(res, tool.name, ["cpu_raw", "cpu_net"], cpu)

        def cpu_idle() -> None:
            log(
                f"  {tool.name}: sampler CPU, main thread asleep ({s.cpu_reps} x {s.cpu_seconds:g} s)"
            )
            samples = [
                run_probe(py, tool.name, "cpu-idle", workdir, s.cpu_seconds + 300, extra)
                for _ in range(s.cpu_reps)
            ]
            raw["cpu_idle"] = samples
            shares = [x["share_pct"] for x in samples]
            res.put(tool.name, "cpu_idle", _median(samples, "share_pct"))
            res.ranges.setdefault("cpu_idle", {})[tool.name] = (min(shares), max(shares))

        _attempt(res, tool.name, ["cpu_idle"], cpu_idle)

        def rss() -> None:
            log(f"  {tool.name}: added peak RSS ({s.rss_reps} fresh processes)")
            extra = ["--seconds", str(s.rss_seconds), "--interval", str(s.interval_s)]
            samples = [
                run_probe(py, tool.name, "rss", workdir, s.rss_seconds + 300, extra)
                for _ in range(s.rss_reps)
            ]
            raw["rss"] = samples
            res.put(tool.name, "rss", _median(samples, "added_peak_mib"))

        _attempt(res, tool.name, ["rss"], rss)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def baselines(python: Path, s: Settings, res: Results) -> float | None:
    """The same busy loop and the same RSS probe with no tracker at all."""
    workdir = tempfile.mkdtemp(prefix="bench-none-")
    raw = res.raw.setdefault("none", {})
    share: float | None = None
    try:
        log(f"  no tracker: CPU baseline ({s.cpu_reps} x {s.cpu_seconds:g} s)")
        extra = ["--seconds", str(s.cpu_seconds)]
        samples = [
            run_probe(python, "none", "cpu", workdir, s.cpu_seconds + 120, extra)
            for _ in range(s.cpu_reps)
        ]
        raw["cpu"] = samples
        share = _median(samples, "share_pct")
        rss = run_probe(python, "none", "rss", workdir, 120, ["--seconds", str(s.rss_seconds)])
        raw["rss"] = rss
    except Exception as exc:
        res.errors.append(f"[baseline] no-tracker run:\n{exc}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return share


# ----------------------------------------------------------------------------- table


def _fmt(value: float | str | None, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value.replace("|", "/")
    if unit.startswith("%"):
        return f"{value:.3f}"
    if unit == "ms" and abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}"


def _ratio(peer: float | str | None, ours: float | str | None, unit: str) -> str:
    if not isinstance(peer, float) or not isinstance(ours, float):
        return "-"
    # A ratio to a value at the noise floor would mean nothing.
    floor = 0.005 if unit.startswith("%") else 0.5
    if ours < floor:
        return f"n/a (ours < {floor:g})"
    return f"{peer / ours:.1f}x"


def render_table(res: Results, tools: Sequence[str]) -> str:
    peers = [t for t in ("codecarbon", "eco2ai") if t in tools]
    head = ["metric", "unit"]
    head += [TOOLS[t].label for t in tools]
    head += [f"{TOOLS[t].label.split(' (')[0]} / ours" for t in peers if "carbonledger" in tools]
    head += ["target (ours)", "met?"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label, unit, target in ROWS:
        vals = res.values.get(key, {})
        cells = [label, unit]
        spans = res.ranges.get(key, {})
        for t in tools:
            cell = _fmt(vals.get(t), unit)
            if t in spans and isinstance(vals.get(t), float) and spans[t][0] != spans[t][1]:
                lo, hi = spans[t]
                cell += f" ({_fmt(lo, unit)}-{_fmt(hi, unit)})"
            cells.append(cell)
        if "carbonledger" in tools:
            cells += [_ratio(vals.get(t), vals.get("carbonledger"), unit) for t in peers]
        ours = vals.get("carbonledger")
        if target is None:
            cells += ["-", "-"]
        else:
            cells.append(f"<= {target:g}")
            if isinstance(ours, float):
                cells.append("yes" if ours <= target else "**no**")
            else:
                cells.append("?")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_header(res: Results) -> str:
    m = res.machine
    s = res.settings
    return "\n".join(
        [
            f"machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['memory_gb']} GB RAM, "
            f"{m['virtualisation']}; RAPL: {m['rapl']}; NVIDIA GPU: {'yes' if m['nvidia_gpu'] else 'no'}",
            f"python {m['python']} ({m['python_executable']}); {m['platform']}; {m['date']}",
            f"carbonledger source: {m['carbonledger_source']}",
            f"load average (1/5/15 min) at start: {m['loadavg_at_start']}, "
            f"at end: {m.get('loadavg_at_end', '?')}",
            f"settings: import x{s['import_reps']}, start+stop x{s['startstop_reps']} fresh processes, "
            f"CPU x{s['cpu_reps']} x {s['cpu_seconds']:g} s loop, RSS x{s['rss_reps']} "
            f"({s['rss_seconds']:g} s running); sampler interval {s['interval_s']:g} s; "
            "medians, (min-max) where runs spread",
        ]
    )


# ----------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="carbonledger vs CodeCarbon vs eco2AI: import, start/stop, sampler CPU, RSS, size."
    )
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, shorter loops")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(TOOLS),
        help="benchmark only this tool (repeatable)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write every raw sample to FILE")
    parser.add_argument(
        "--bench-dir",
        default=str(REPO / ".bench"),
        help="where the venvs live (default: .bench/ in the repository)",
    )
    args = parser.parse_args(argv)

    s = QUICK if args.quick else Settings()
    tools = [t for t in TOOLS if not args.only or t in args.only]
    bench_dir = Path(args.bench_dir)
    bench_dir.mkdir(parents=True, exist_ok=True)
    res = Results(machine=machine_info(), settings=vars(s) | {"quick": args.quick})

    log("setting up venvs under " + str(bench_dir))
    empty = ensure_venv(bench_dir, "empty", ())
    res.venvs["empty"] = {"note": empty.note, "error": empty.error}
    venvs: dict[str, Venv] = {}
    for name in tools:
        venvs[name] = ensure_venv(bench_dir, name, TOOLS[name].requirements)
        v = venvs[name]
        res.venvs[name] = {"note": v.note, "error": v.error, "path": str(v.path)}
        log(f"  {name}: {'FAILED' if v.error else v.note}")

    base_python = empty.python if not empty.error else Path(sys.executable)
    cpu_baseline = baselines(base_python, s, res)
    for name in tools:
        log(f"benchmarking {name}")
        benchmark_tool(TOOLS[name], venvs[name], empty, s, cpu_baseline, res)

    res.machine["loadavg_at_end"] = loadavg()
    print()
    print(render_header(res))
    if cpu_baseline is not None:
        print(f"no-tracker CPU baseline: {cpu_baseline:.4f} % of one core")
    print()
    print(render_table(res, tools))
    print()
    for name in tools:
        largest = res.raw.get(name, {}).get("largest_mb")
        if largest:
            parts = ", ".join(f"{pkg} {mb:.1f}" for pkg, mb in largest)
            print(f"largest installs, {TOOLS[name].label} (MiB): {parts}")
    measured = {
        n: r["import_plain"] for n, r in res.raw.items() if isinstance(r.get("import_plain"), dict)
    }
    if measured:
        tax = ", ".join(f"{n} {r['startup_tax_ms']:+.1f} ms" for n, r in measured.items())
        print(f"\nstartup tax (`python -c pass` in the tool's venv minus the empty venv's): {tax}")
        # Noise check: the empty venv's `python -c pass` is timed in every tool's phase and
        # should cost the same each time; a spread means something else wanted the CPUs.
        bare = {n: statistics.median(r["bare_s"]) * 1000 for n, r in measured.items()}
        parts = ", ".join(
            f"{n} phase {ms:.1f} ms (load {res.raw[n].get('loadavg_at_start', '?')})"
            for n, ms in bare.items()
        )
        print(f"noise check, empty venv's `python -c pass` median: {parts}")
        if max(bare.values()) > 1.3 * min(bare.values()):
            print(
                "WARNING: the bare interpreter's time changed between phases: the machine was busy."
            )
    if res.errors:
        print("\nerrors:")
        for err in res.errors:
            print("  " + err.replace("\n", "\n    "))
    if args.json:
        payload = {
            "machine": res.machine,
            "settings": res.settings,
            "venvs": res.venvs,
            "cpu_baseline_pct": cpu_baseline,
            "table": res.values,
            "raw": res.raw,
            "errors": res.errors,
        }
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str))
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
