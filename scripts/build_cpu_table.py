#!/usr/bin/env python3
"""Build src/carbonledger/sensors/data/cpu_tdp.csv from public CPU TDP tables.

Usage::

    python scripts/build_cpu_table.py [--data DIR] [--out FILE]

``DIR`` is the reference-data folder (default: ``../shared/data`` beside the
repository). Only figures are taken over: each source's model name and TDP (and core
count where it has one). Every output row carries its source, the source's release
year and its licence.

Sources, best first (a model present in several keeps the best source's figure):

1. Green Algorithms calculator ``TDP_cpu.csv`` (CC-BY-4.0): hand-curated, each row with
   a manufacturer or TechPowerUp reference and a core count.
2. eco2AI 0.3.12 ``cpu_names.csv`` (Apache-2.0): the most complete and the most
   recent, with the base power of hybrid parts in ``TDP (Base)`` (used in preference
   to their maximum turbo power); where it disagrees with CodeCarbon by more than 2x
   it is right in most cases we checked (AMD APUs listed at 65-100 W by CodeCarbon
   are 15-35 W parts).
3. CodeCarbon 3.3.2 ``cpu_power.csv`` (MIT).
4. CarbonTracker 2.4.7 ``cpu_power.csv`` (MIT): largely an older copy of (3).

Names are matched through :func:`carbonledger.sensors.cpu.tdp.normalise_cpu_name`.
Within one source, duplicate names keep their most frequent TDP (ties: the lowest,
since the duplicates are base power vs. turbo or configurable-up power). When sources
disagree by more than 2x the row is kept with the best source's figure and flagged in
its ``note`` column. Rows without a usable TDP (0, or garbled such as ``27.29.5``)
are dropped, and so are names that are a bare family word ("Intel Xeon"): they
identify no model.

The script also prints the figures the CPU model derives from data, so they can be
checked against the constants in ``sensors/cpu/tdp.py`` and ``sensors/cpu/power.py``.
"""

from __future__ import annotations

import argparse
import csv
import re
import statistics
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from carbonledger.sensors.cpu.tdp import normalise_cpu_name  # noqa: E402


@dataclass(frozen=True)
class Source:
    key: str
    path: str
    label: str
    year: int
    licence: str


# best first; ``year`` is the release year of the dataset version used
SOURCES = (
    Source(
        "green-algorithms",
        "green-algorithms-tool/TDP_cpu.csv",
        "Green Algorithms calculator (GreenAlgorithms/green-algorithms-tool, data/latest)",
        2022,
        "CC-BY-4.0",
    ),
    Source("eco2ai", "eco2ai/cpu_names.csv", "eco2AI 0.3.12 (cpu_names.csv)", 2025, "Apache-2.0"),
    Source(
        "codecarbon",
        "codecarbon/hardware/cpu_power.csv",
        "CodeCarbon 3.3.2 (cpu_power.csv)",
        2026,
        "MIT",
    ),
    Source(
        "carbontracker",
        "carbontracker/cpu_power.csv",
        "CarbonTracker 2.4.7 (cpu_power.csv)",
        2026,
        "MIT",
    ),
)

_NUMBER = re.compile(r"^\d+(\.\d+)?$")


@dataclass(frozen=True)
class Row:
    name: str
    tdp_w: float
    cores: int | None


def _number(text: str | None) -> float | None:
    text = (text or "").strip()
    if not _NUMBER.match(text):
        return None
    value = float(text)
    return value if value > 0 else None


def _rows(source: Source, data: Path) -> Iterator[Row]:
    path = data / source.path
    with path.open(newline="", encoding="utf-8") as fh:
        if source.key == "green-algorithms":
            reader = csv.reader(fh)
            next(reader)  # units line
            header = next(reader)
            for rec in reader:
                r = dict(zip(header, rec, strict=False))
                tdp = _number(r.get("TDP"))
                if tdp is None or not r.get("model", "").strip():
                    continue  # the "Any" row has a per-core figure only
                cores = _number(r.get("n_cores"))
                yield Row(r["model"].strip(), tdp, int(cores) if cores else None)
        elif source.key == "eco2ai":
            for r in csv.DictReader(fh):
                tdp = _number(r.get("TDP (Base)")) or _number(r.get("TDP"))
                if tdp is None:
                    continue
                cores = _number(r.get("Cores"))
                if cores is None:
                    parts = [_number(r.get(k)) for k in ("Cores (P)", "Cores (E)", "Cores (LP-E)")]
                    cores = sum(p for p in parts if p) or None
                yield Row(r["Model"].strip(), tdp, int(cores) if cores else None)
        else:
            for r in csv.DictReader(fh):
                tdp = _number(r.get("TDP"))
                if tdp is not None:
                    yield Row(r["Name"].strip(), tdp, None)


def _pick(rows: list[Row]) -> Row:
    """One figure per source for one model: the most frequent TDP, ties to the lowest."""
    counts = Counter(r.tdp_w for r in rows)
    best = max(counts.items(), key=lambda kv: (kv[1], -kv[0]))[0]
    chosen = [r for r in rows if r.tdp_w == best]
    with_cores = [r for r in chosen if r.cores]
    return (with_cores or chosen)[0]


def build(data: Path) -> tuple[list[dict[str, str]], list[str]]:
    per_source: dict[str, dict[str, list[Row]]] = {}
    for source in SOURCES:
        groups: dict[str, list[Row]] = {}
        for row in _rows(source, data):
            key = normalise_cpu_name(row.name)
            if key and (" " in key or any(c.isdigit() for c in key)):  # not a bare "xeon"
                groups.setdefault(key, []).append(row)
        per_source[source.key] = groups
    names = sorted({k for groups in per_source.values() for k in groups})
    out: list[dict[str, str]] = []
    conflicts: list[str] = []
    for key in names:
        figures = [(s, _pick(per_source[s.key][key])) for s in SOURCES if key in per_source[s.key]]
        best_source, best = figures[0]
        tdps = [r.tdp_w for _, r in figures]
        note = ""
        if max(tdps) > 2 * min(tdps):
            note = "conflict >2x: " + "; ".join(f"{s.key} {r.tdp_w:g} W" for s, r in figures)
            conflicts.append(f"{key}: {note}")
        cores = best.cores or next((r.cores for _, r in figures if r.cores), None)
        out.append(
            {
                "name": best.name,
                "normalised_name": key,
                "tdp_w": f"{best.tdp_w:g}",
                "cores": "" if cores is None else str(cores),
                "source": best_source.label,
                "year": str(best_source.year),
                "licence": best_source.licence,
                "note": note,
            }
        )
    return out, conflicts


def derived_figures(data: Path, rows: list[dict[str, str]]) -> list[str]:
    """The data-derived constants of sensors/cpu/tdp.py, cpu/power.py and memory.py, recomputed."""
    lines = []
    server = sorted(
        float(r["tdp_w"])
        for r in rows
        if re.search(r"\b(xeon|epyc|opteron)\b", r["normalised_name"])
    )
    if server:
        q = statistics.quantiles(server, n=10)
        lines.append(
            f"server-class TDP (xeon/epyc/opteron, {len(server)} rows): "
            f"median {statistics.median(server):g} W, p10 {q[0]:g} W, p90 {q[-1]:g} W"
        )
    use = data / "ccf-coefficients/output/coefficients-aws-use.csv"
    if use.exists():
        with use.open(newline="") as fh:
            ratios = [float(r["Min Watts"]) / float(r["Max Watts"]) for r in csv.DictReader(fh)]
        lines.append(
            f"CCF idle/max per-vCPU ratio over {len(ratios)} AWS microarchitectures: "
            f"median {statistics.median(ratios):.3f}, min {min(ratios):.3f}, "
            f"max {max(ratios):.3f}"
        )
    inst = data / "ccf-coefficients/data/aws-instances.csv"
    if inst.exists():
        idle, full = [], []
        with inst.open(newline="") as fh:
            for r in csv.DictReader(fh):
                try:
                    gb = float(r["Instance Memory (in GB)"].replace(",", "."))
                    i = float(r["RAMWatt @ Idle"].replace(",", "."))
                    f = float(r["RAMWatt @ 100%"].replace(",", "."))
                except (KeyError, ValueError):
                    continue
                if gb > 0:
                    idle.append(i / gb)
                    full.append(f / gb)
        lines.append(
            f"RAM W/GB over {len(idle)} AWS instance types (Teads data via CCF): "
            f"idle median {statistics.median(idle):.3f}, 100% median {statistics.median(full):.3f}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument(
        "--out", type=Path, default=REPO / "src/carbonledger/sensors/data/cpu_tdp.csv"
    )
    args = parser.parse_args(argv)
    missing = [s.path for s in SOURCES if not (args.data / s.path).exists()]
    if missing:
        print(f"missing in {args.data}: {', '.join(missing)}", file=sys.stderr)
        return 1
    rows, conflicts = build(args.data)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    by_source = Counter(r["source"] for r in rows)
    print(f"wrote {len(rows)} models to {args.out}")
    for label, n in by_source.most_common():
        print(f"  {n:5d} from {label}")
    print(f"{len(conflicts)} models whose sources disagree by more than 2x (flagged in 'note')")
    for line in derived_figures(args.data, rows):
        print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
