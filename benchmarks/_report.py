"""The benchmark's rows, targets and the table it prints (plain text or Markdown)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

#: the peer the targets are set against
TARGET_PEER = "codecarbon"
PEERS = ("codecarbon", "eco2ai")


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    unit: str
    #: target: peer / ours at least this (None: no target, shown for context)
    min_ratio: float | None
    #: target: ours at most this, in ``unit``
    max_ours: float | None
    #: below this, ours is indistinguishable from nothing: ratios use it as ours
    floor: float
    how: str
    #: the structure that would reach a missed target
    reach: str = ""
    #: print the ratio columns (not for rows whose figures are mostly noise)
    ratios: bool = True


ROWS: tuple[Row, ...] = (
    Row(
        "import",
        "`import <package>` over bare Python",
        "ms",
        5.0,
        None,
        0.05,
        "`import <package>` timed in-process (perf_counter around it) in a fresh interpreter of "
        "the tool's venv: the cost over a bare interpreter without the noise of timing two "
        "interpreters' start-up; one warm-up round, then the median of the fresh processes.",
        "`import carbonledger` should bind only the public names, each module loaded on first "
        "use of its name (a module-level `__getattr__`); find what the package root imports "
        "eagerly with `python -X importtime -c 'import carbonledger'` and move it behind that.",
    ),
    Row(
        "import_class",
        "import of the tracker class over bare Python",
        "ms",
        None,
        None,
        0.05,
        "the same process, after `import <package>`: until the tracker class "
        "(`carbonledger.Tracker`, `codecarbon.OfflineEmissionsTracker`, `eco2ai.Tracker`) is "
        "bound; a lazy package loads its module here.",
    ),
    Row(
        "startup_tax",
        "interpreter start, the tool's venv over the empty one",
        "ms",
        None,
        None,
        0.5,
        "`python -c pass` in the tool's venv minus the same in the empty venv (paired runs): "
        "what the install adds to every interpreter start (`.pth` files run by `site`).",
        ratios=False,
    ),
    Row(
        "first_use",
        "first use: import, `Tracker(...)`, `start()`, `stop()`; fresh process, new ledger",
        "ms",
        10.0,
        None,
        2.0,
        "wall time of a fresh interpreter that imports the tool, constructs a tracker (new "
        "ledger or output file), starts and stops it and exits, minus the same script with no "
        "tracker run just before it; the tool's home (config, keys, caches) from earlier runs.",
        "do at `start()` only what a run needs before the user's code goes on: hand the "
        "ledger's opening and the run's start record to the writer thread, cache sensor "
        "discovery per host, keep the CLI, report, export and HTTP modules off the tracker's "
        "import path, and read only the one table the location needs.",
    ),
    Row(
        "first_use_cold",
        "first use, first run ever (empty home), 1 run",
        "ms",
        None,
        None,
        2.0,
        "the same, once, with a new empty home folder (a user's very first run).",
    ),
    Row(
        "cpu",
        "sampler CPU, 1 s interval, beside a busy Python thread",
        "% of a core",
        3.0,
        0.1,
        0.005,
        "process CPU time minus the busy main thread's own (clock_gettime), plus child "
        "processes the tracker ran, over a {cpu_seconds:g} s loop, as a share of one core, "
        "net of the same loop with no tracker; {cpu_reps} fresh processes.",
        "a tick is a /proc read, an Ed25519 signature and a journal append, and at 1 s it runs "
        "from cold caches: about 1.1 ms of CPU a second beside a busy thread for what takes "
        "0.2 ms in a loop of ticks. Of it (benchmarks/tick_ab.py, a step taken out against the "
        "tracker as it ships, in one process): the signature 0.21-0.23 ms, the journal append "
        "0.07-0.09 ms, the writer's commit every 30 s about 0.1 ms. Fewer calls on the tick's "
        "path gave 3 %. Three calls of a tick let the interpreter lock go (the wait, the "
        "signature, the append), each about 50 us beside a busy thread "
        "(benchmarks/tick_prices.py). Below it: one signature per several ticks (a SIGKILL would "
        "then lose several intervals), or an append that is not a system call (a mapped file: "
        "a full or failing disk would kill the user's process).",
    ),
    Row(
        "cpu_idle",
        "sampler CPU, 1 s interval, main thread asleep",
        "% of a core",
        None,
        None,
        0.005,
        "the same with the main thread asleep (the sampler has the interpreter to itself).",
    ),
    Row(
        "rss",
        "added peak RSS",
        "MiB",
        3.0,
        None,
        0.25,
        "import, construct, start, {rss_seconds:g} s running, stop: VmHWM at the end minus "
        "VmRSS when the probe started (before any import), from /proc/self/status, fresh "
        "process; {rss_reps} runs.",
        "load fewer modules on the tracker's path (every module imported costs resident "
        "memory): keep the CLI, reports, HTTP, YAML and crypto imports out of "
        "`start()`/`stop()` unless the run uses them.",
    ),
    Row(
        "install",
        "core install size, fresh venv (ours with `cryptography`)",
        "MiB",
        4.0,
        None,
        0.5,
        "disk usage (`du`) of the tool's venv minus the empty venv's; carbonledger is its core "
        "install plus `cryptography`, the peers their plain `pip install`.",
        "move what only optional features use into extras (the CLI's typer/rich/pygments, "
        "PyYAML for spec files), so the core install is the library and `cryptography`.",
    ),
)


def _median(values: Sequence[float] | None) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float, unit: str) -> str:
    if unit.startswith("%"):
        return f"{value:.3f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}"


def _cell(res: Any, row: Row, tool: str) -> str:
    error = res.errors.get(row.key, {}).get(tool)
    if error:
        return "error: " + error.replace("|", "/")
    values = res.samples.get(row.key, {}).get(tool)
    if not values:
        return "-"
    text = _fmt(statistics.median(values), row.unit)
    if len(values) > 1 and min(values) != max(values):
        text += f" ({_fmt(min(values), row.unit)}–{_fmt(max(values), row.unit)})"
    return text


def ratio(res: Any, row: Row, peer: str) -> tuple[float | None, bool]:
    """(peer / ours, whether ours was at the noise floor so the ratio is a lower bound)."""
    ours = _median(res.samples.get(row.key, {}).get("carbonledger"))
    theirs = _median(res.samples.get(row.key, {}).get(peer))
    if ours is None or theirs is None:
        return None, False
    if ours < row.floor:
        return theirs / row.floor, True
    return theirs / ours, False


def _ratio_cell(res: Any, row: Row, peer: str) -> str:
    if not row.ratios:
        return "-"
    value, bound = ratio(res, row, peer)
    if value is None:
        return "-"
    return (">= " if bound else "") + f"{value:.1f}x"


def _target_text(row: Row) -> str:
    parts = []
    if row.min_ratio is not None:
        parts.append(f">= {row.min_ratio:g}x")
    if row.max_ours is not None:
        parts.append(f"<= {row.max_ours:g} {row.unit.replace('% of a core', '%')}")
    return ", ".join(parts) or "-"


def met(res: Any, row: Row) -> bool | None:
    """Whether carbonledger met the row's target (None: no target or no figure)."""
    if row.min_ratio is None and row.max_ours is None:
        return None
    ours = _median(res.samples.get(row.key, {}).get("carbonledger"))
    if ours is None:
        return None
    ok = True
    if row.min_ratio is not None:
        value, _ = ratio(res, row, TARGET_PEER)
        if value is None:
            return None
        ok = value >= row.min_ratio
    if row.max_ours is not None:
        ok = ok and ours <= row.max_ours
    return ok


def _table(res: Any, tools: Sequence[str], labels: dict[str, str], markdown: bool) -> str:
    peers = [p for p in PEERS if p in tools] if "carbonledger" in tools else []
    head = ["metric", "unit", *(labels[t] for t in tools)]
    head += [f"{labels[p].split(' ')[0]} / ours" for p in peers]
    head += ["target (CodeCarbon / ours)", "met?"]
    body = []
    for row in ROWS:
        ok = met(res, row)
        body.append(
            [
                row.label,
                row.unit,
                *(_cell(res, row, t) for t in tools),
                *(_ratio_cell(res, row, p) for p in peers),
                _target_text(row),
                "-"
                if ok is None and _target_text(row) == "-"
                else {True: "yes", False: "**no**", None: "?"}[ok],
            ]
        )
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in body])
    plain = [[c.replace("`", "").replace("**", "") for c in cells] for cells in [head, *body]]
    widths = [max(len(r[i]) for r in plain) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in plain]
    out.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def _header(res: Any) -> list[str]:
    m, s = res.machine, res.settings
    gpu = "yes" if m["nvidia_gpu"] else "no"
    return [
        f"Machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['memory_gb']} GB RAM, "
        f"{m['virtualisation']}; RAPL: {m['rapl']}; NVIDIA GPU: {gpu}; Python {m['python']}; "
        f"{m['platform']}.",
        f"Run: {m['date']}, carbonledger at {m['carbonledger_source']}, "
        f"{m.get('duration_s', '?')} s in all; load average {m['loadavg_at_start']} at the "
        f"start, {m.get('loadavg_at_end', '?')} at the end.",
        f"Settings: import x{s['import_reps']}, first use x{s['firstuse_reps']}, sampler CPU "
        f"x{s['cpu_reps']} x {s['cpu_seconds']:g} s, RSS x{s['rss_reps']} "
        f"({s['rss_seconds']:g} s running), sampling interval {s['interval_s']:g} s"
        + (" (--quick: a smoke test, not a result)" if s.get("quick") else "")
        + ". Medians, (min–max) over the runs; ratios are peer / carbonledger (above 1: "
        "carbonledger costs less); `>=` marks a ratio to carbonledger's noise floor.",
    ]


def _footer(res: Any, tools: Sequence[str], labels: dict[str, str]) -> list[str]:
    out = [
        "",
        "How each row is measured (every tool the same workload: country France "
        "given, no network, 1 s interval, a new output file per tracker):",
        "",
    ]
    out += [f"- {row.label}: {row.how.format(**res.settings)}" for row in ROWS]
    out += _firstuse_parts(res, tools, labels)
    base = res.settings.get("cpu_baseline_pct")
    none_rss = _median(res.samples.get("rss", {}).get("none"))
    extra = []
    if base is not None:
        extra.append(f"the no-tracker loop had {base:.4f} % of a core outside its main thread")
    if none_rss is not None:
        extra.append(f"the no-tracker probe's own added peak RSS is {none_rss:.1f} MiB")
    if extra:
        out += ["", "Baselines: " + "; ".join(extra) + "."]
    missed = [row for row in ROWS if met(res, row) is False]
    unknown = [row for row in ROWS if row.reach and met(res, row) is None]
    out.append("")
    if missed:
        out.append("Targets missed, and the structure that would reach them:")
        out.append("")
        out += [f"- {row.label}: {row.reach}" for row in missed]
    elif not unknown:
        out.append("Every target is met.")
    if unknown:
        out.append("Not decided (a figure is missing): " + ", ".join(r.label for r in unknown))
    largest = {x["tool"]: x["largest"] for x in res.raw.get("largest_mib", [])}
    if largest:
        out += ["", "Largest packages each install adds (MiB):", ""]
        for tool in tools:
            if largest.get(tool):
                parts = ", ".join(f"{name} {mib:.1f}" for name, mib in largest[tool])
                out.append(f"- {labels[tool]}: {parts}")
    if res.notes:
        out += ["", *res.notes]
    if res.full_errors:
        out += ["", "Errors:", ""]
        out += ["    " + e.replace("\n", "\n    ") for e in res.full_errors]
    return out


def _firstuse_parts(res: Any, tools: Sequence[str], labels: dict[str, str]) -> list[str]:
    """Where first use's time goes, timed inside the process (medians, ms)."""
    parts = []
    for tool in tools:
        runs = [r for r in res.raw.get("first_use", []) if r["tool"] == tool]
        if not runs:
            continue
        ms = {
            k: statistics.median(r[f"{k}_s"] for r in runs) * 1000
            for k in ("import", "construct", "start", "stop")
        }
        parts.append(f"{labels[tool]} " + ", ".join(f"{k} {v:.1f}" for k, v in ms.items()))
    if not parts:
        return []
    return ["", "First use inside the process (ms, medians): " + "; ".join(parts) + "."]


def render(res: Any, tools: Sequence[str], labels: dict[str, str], *, markdown: bool) -> str:
    """The whole report: header, table, method, missed targets, sizes, errors."""
    parts = _header(res)
    if markdown:
        parts = [p + "\n" for p in parts]
    return "\n".join(
        [*parts, "", _table(res, tools, labels, markdown), *_footer(res, tools, labels)]
    )
