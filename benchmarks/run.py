"""Speed-and-size benchmark: carbonledger side by side with CodeCarbon 3.3.2 and eco2AI 0.3.12.

    python3 benchmarks/run.py                 # full run, plain-text table (~13 min on 2 cores)
    python3 benchmarks/run.py --markdown      # the same, as Markdown (docs/performance.md)
    python3 benchmarks/run.py --quick         # smoke test: fewer repetitions, shorter loops
    python3 benchmarks/run.py --only carbonledger --json results.json
    python3 benchmarks/run.py --update-doc docs/performance.md   # rewrite its marked table

Each tool gets its own venv under .bench/ (created on first use from PyPI, reused after):
``carbonledger`` (this repository's core install plus ``cryptography``, non-editable,
reinstalled from the working tree at every run), ``codecarbon`` (codecarbon==3.3.2),
``eco2ai`` (eco2ai==0.3.12 with pandas<3: its stop() fails under pandas 3) and ``empty``
(the baseline). Every measurement runs in a fresh interpreter of the tool's venv
(benchmarks/_probe.py) with its own empty home folder, the tools interleaved rep by rep so
that the machine's drift hits them alike. The same workload for every tool: country France
given (no network), a 1 s sampling interval, a new output file per tracker. The table
gives medians with (min-max), the ratio peer / carbonledger, and the targets; a missed
target prints the structure that would reach it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import ROWS, render
from _venvs import (
    MIB,
    REPO,
    MetricError,
    Venv,
    clean_env,
    ensure_venv,
    largest_additions,
    loadavg,
    log,
    machine_info,
    tree_size,
)

PROBE = Path(__file__).resolve().with_name("_probe.py")
MARKER = "@@RESULT "


@dataclass(frozen=True)
class Tool:
    name: str
    label: str
    requirements: tuple[str, ...]


TOOLS: dict[str, Tool] = {
    "carbonledger": Tool("carbonledger", "carbonledger", (str(REPO), "cryptography")),
    "codecarbon": Tool("codecarbon", "CodeCarbon 3.3.2", ("codecarbon==3.3.2",)),
    "eco2ai": Tool("eco2ai", "eco2AI 0.3.12", ("eco2ai==0.3.12", "pandas<3")),
}


@dataclass(frozen=True)
class Settings:
    import_reps: int = 9
    firstuse_reps: int = 7
    cpu_reps: int = 3
    #: a whole commit period of carbonledger's writer (30 s: the ticks written ahead are
    #: committed together) and one tick more, so that the share counts one commit as a long
    #: run does; a shorter window would leave the commit out
    cpu_seconds: float = 31.0
    rss_reps: int = 3
    rss_seconds: float = 3.0
    interval_s: float = 1.0


QUICK = Settings(
    import_reps=3, firstuse_reps=2, cpu_reps=1, cpu_seconds=3.0, rss_reps=1, rss_seconds=1.0
)


@dataclass
class Results:
    machine: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    #: row key -> tool -> samples (the "none" tool is the no-tracker baseline)
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    #: row key -> tool -> error message
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    raw: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    full_errors: list[str] = field(default_factory=list)

    def add(self, row: str, tool: str, value: float) -> None:
        self.samples.setdefault(row, {}).setdefault(tool, []).append(value)

    def fail(self, rows: Sequence[str], tool: str, exc: BaseException) -> None:
        message = str(exc).strip() or type(exc).__name__
        for row in rows:
            self.errors.setdefault(row, {})[tool] = message.splitlines()[-1][:80]
        self.full_errors.append(f"[{tool}] {', '.join(rows)}:\n{message}")

    def failed(self, row: str, tool: str) -> bool:
        return tool in self.errors.get(row, {})


class Bench:
    """The venvs, a home folder per tool, and the probe runner."""

    def __init__(self, venvs: dict[str, Venv], empty: Venv, workdir: Path) -> None:
        self.venvs = venvs
        self.empty = empty
        self.workdir = workdir
        self._homes = 0

    def python(self, tool: str) -> Path:
        return self.empty.python if tool == "none" else self.venvs[tool].python

    def new_home(self, tool: str) -> str:
        self._homes += 1
        home = self.workdir / f"home-{tool}-{self._homes}"
        home.mkdir()
        return str(home)

    def probe(
        self, tool: str, metric: str, home: str, timeout_s: float, extra: Sequence[str] = ()
    ) -> tuple[dict[str, Any], float]:
        """One fresh interpreter running _probe.py: (its result, its wall time in s)."""
        cmd = [str(self.python(tool)), str(PROBE), tool, metric, "--workdir", home, *extra]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                env=clean_env(home),
                cwd=home,
                timeout=timeout_s,
            )
        except subprocess.TimeoutExpired as exc:
            raise MetricError(f"{tool} {metric}: timed out after {timeout_s:.0f} s") from exc
        wall = time.perf_counter() - t0
        for line in reversed(proc.stdout.splitlines()):
            if line.startswith(MARKER):
                return json.loads(line[len(MARKER) :]), wall
        tail = (proc.stderr.strip() or proc.stdout.strip())[-3000:]
        raise MetricError(f"{tool} {metric} exited {proc.returncode}:\n{tail}")

    def bare_start_s(self, python: Path) -> float:
        """Wall time of ``python -c pass`` (the interpreter's own start and exit)."""
        t0 = time.perf_counter()
        subprocess.run(
            [str(python), "-c", "pass"], check=True, env=clean_env(), capture_output=True
        )
        return time.perf_counter() - t0


def _each(
    res: Results, rows: Sequence[str], tools: Sequence[str], fn: Callable[[str], None]
) -> None:
    """``fn(tool)`` for each tool not already failed in ``rows``; a failure marks the rows."""
    for tool in tools:
        if any(res.failed(r, tool) for r in rows):
            continue
        try:
            fn(tool)
        except Exception as exc:
            res.fail(rows, tool, exc)


def phase_install(bench: Bench, tools: Sequence[str], res: Results) -> None:
    def one(tool: str) -> None:
        if bench.empty.error:
            raise MetricError(f"no empty venv to compare with: {bench.empty.error}")
        venv = bench.venvs[tool].path
        res.add("install", tool, (tree_size(venv) - tree_size(bench.empty.path)) / MIB)
        res.raw.setdefault("largest_mib", []).append(
            {"tool": tool, "largest": largest_additions(venv, bench.empty.path)}
        )

    _each(res, ["install"], tools, one)


def phase_import(bench: Bench, tools: Sequence[str], s: Settings, res: Results) -> None:
    log(f"  import, {s.import_reps} fresh processes per tool (+1 warm-up), interleaved")
    homes = {t: bench.new_home(t) for t in tools}
    for rep in range(s.import_reps + 1):

        def one(tool: str, rep: int = rep) -> None:
            out, _ = bench.probe(tool, "import", homes[tool], 300)
            if rep:  # the first round warms the page cache and writes .pyc files
                res.add("import", tool, out["package_s"] * 1000)
                res.add("import_class", tool, out["class_s"] * 1000)

        _each(res, ["import", "import_class"], tools, one)
    log("  interpreter start in each venv (`python -c pass`), interleaved")
    for _ in range(s.import_reps):
        bare = bench.bare_start_s(bench.empty.python)

        def tax(tool: str, bare: float = bare) -> None:
            res.add("startup_tax", tool, (bench.bare_start_s(bench.python(tool)) - bare) * 1000)

        _each(res, ["startup_tax"], tools, tax)


def phase_firstuse(bench: Bench, tools: Sequence[str], s: Settings, res: Results) -> None:
    log(f"  first use, 1 cold + {s.firstuse_reps} fresh processes per tool (+1 warm-up)")
    extra = ["--interval", str(s.interval_s)]
    homes = {t: bench.new_home(t) for t in ["none", *tools]}
    for rep in range(s.firstuse_reps + 2):
        # rep 0: a first run ever (an empty home: no config, key or cache); 1: warm-up
        _, none_wall = bench.probe("none", "firstuse", homes["none"], 300, extra)

        def one(tool: str, rep: int = rep, none_wall: float = none_wall) -> None:
            home = bench.new_home(tool) if rep == 0 else homes[tool]
            out, wall = bench.probe(tool, "firstuse", home, 300, extra)
            if rep == 0:
                res.add("first_use_cold", tool, (wall - none_wall) * 1000)
            elif rep > 1:
                res.add("first_use", tool, (wall - none_wall) * 1000)
                res.raw.setdefault("first_use", []).append({"tool": tool, **out, "wall_s": wall})

        _each(res, ["first_use", "first_use_cold"], tools, one)


def phase_cpu(bench: Bench, tools: Sequence[str], s: Settings, res: Results) -> None:
    log(f"  sampler CPU, {s.cpu_reps} x {s.cpu_seconds:g} s busy loop per tool and baseline")
    extra = ["--seconds", str(s.cpu_seconds), "--interval", str(s.interval_s)]
    homes = {t: bench.new_home(t) for t in ["none", *tools]}
    for _ in range(s.cpu_reps):
        for tool in ["none", *tools]:
            if res.failed("cpu", tool):
                continue
            try:
                out, _ = bench.probe(tool, "cpu", homes[tool], s.cpu_seconds + 300, extra)
            except Exception as exc:
                res.fail(["cpu"], tool, exc)
                continue
            res.add("cpu_raw", tool, out["share_pct"])
            res.raw.setdefault("cpu", []).append({"tool": tool, **out})
    baseline = res.samples.get("cpu_raw", {}).get("none")
    base = statistics.median(baseline) if baseline else 0.0
    if not baseline:
        res.notes.append("the no-tracker CPU baseline failed: the sampler rows are raw")
    for tool in tools:
        for share in res.samples.get("cpu_raw", {}).get(tool, []):
            res.add("cpu", tool, share - base)
    res.settings["cpu_baseline_pct"] = base
    log(f"  sampler CPU, main thread asleep, {s.cpu_reps} x {s.cpu_seconds:g} s per tool")
    for _ in range(s.cpu_reps):

        def idle(tool: str) -> None:
            out, _ = bench.probe(tool, "cpu-idle", homes[tool], s.cpu_seconds + 300, extra)
            res.add("cpu_idle", tool, out["share_pct"])

        _each(res, ["cpu_idle"], tools, idle)


def phase_rss(bench: Bench, tools: Sequence[str], s: Settings, res: Results) -> None:
    log(f"  added peak RSS, {s.rss_reps} fresh processes per tool")
    extra = ["--seconds", str(s.rss_seconds), "--interval", str(s.interval_s)]
    homes = {t: bench.new_home(t) for t in ["none", *tools]}
    for _ in range(s.rss_reps):

        def one(tool: str) -> None:
            out, _ = bench.probe(tool, "rss", homes[tool], s.rss_seconds + 300, extra)
            res.add("rss", tool, out["added_peak_mib"])

        _each(res, ["rss"], ["none", *tools], one)


def setup(bench_dir: Path, tools: Sequence[str], res: Results) -> tuple[Venv, dict[str, Venv]]:
    log(f"setting up venvs under {bench_dir}")
    bench_dir.mkdir(parents=True, exist_ok=True)
    empty = ensure_venv(bench_dir, "empty", ())
    venvs: dict[str, Venv] = {}
    for name in tools:
        venv = ensure_venv(bench_dir, name, TOOLS[name].requirements)
        venvs[name] = venv
        log(f"  {name}: {'FAILED' if venv.error else venv.note}")
        if venv.error:
            res.full_errors.append(f"[{name}] install:\n{venv.error}")
            for row in ROWS:
                res.errors.setdefault(row.key, {})[name] = "install failed"
    return empty, venvs


def update_doc(path: Path, markdown: str) -> None:
    """Replace what lies between the benchmark's markers in ``path`` with ``markdown``."""
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    text = path.read_text(encoding="utf-8")
    if begin not in text or end not in text:
        raise SystemExit(f"{path} has no {begin} ... {end} section to replace")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{markdown.strip()}\n{end}{tail}", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, shorter loops")
    parser.add_argument("--only", action="append", choices=sorted(TOOLS), help="repeatable")
    parser.add_argument("--markdown", action="store_true", help="print Markdown")
    parser.add_argument("--update-doc", metavar="FILE", help="rewrite FILE's marked section")
    parser.add_argument("--json", metavar="FILE", help="also write every raw sample to FILE")
    parser.add_argument("--bench-dir", default=str(REPO / ".bench"), help="where the venvs live")
    args = parser.parse_args(argv)

    s = QUICK if args.quick else Settings()
    tools = [t for t in TOOLS if not args.only or t in args.only]
    started = time.monotonic()
    res = Results(machine=machine_info(), settings=vars(s) | {"quick": args.quick})
    empty, venvs = setup(Path(args.bench_dir), tools, res)
    if empty.error:
        res.full_errors.append(f"[empty] venv:\n{empty.error}")
        print("the empty venv could not be made; nothing to measure", file=sys.stderr)
        return 1
    live = [t for t in tools if not venvs[t].error]
    with tempfile.TemporaryDirectory(prefix="carbonledger-bench-") as work:
        bench = Bench(venvs, empty, Path(work))
        phase_install(bench, live, res)
        phase_import(bench, live, s, res)
        phase_firstuse(bench, live, s, res)
        phase_cpu(bench, live, s, res)
        phase_rss(bench, live, s, res)
    res.machine["loadavg_at_end"] = loadavg()
    res.machine["duration_s"] = round(time.monotonic() - started)
    labels = {t: TOOLS[t].label for t in tools}
    text = render(res, tools, labels, markdown=args.markdown or bool(args.update_doc))
    print(text)
    if args.update_doc:
        update_doc(Path(args.update_doc), text)
        log(f"rewrote the marked section of {args.update_doc}")
    if args.json:
        payload = {k: getattr(res, k) for k in ("machine", "settings", "samples", "errors", "raw")}
        payload["full_errors"] = res.full_errors
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str))
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
