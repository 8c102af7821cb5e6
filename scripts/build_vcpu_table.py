#!/usr/bin/env python3
"""Build src/carbonledger/sensors/data/cpu_vcpu_power.csv: watts per vCPU by microarchitecture.

Usage::

    python scripts/build_vcpu_table.py [--data DIR] [--out FILE]

``DIR`` is the reference-data folder (default: ``../shared/data`` beside the repository).
Source: Cloud Carbon Footprint's coefficients (cloud-carbon-footprint/ccf-coefficients,
``output/coefficients-{aws,gcp,azure}-use.csv``; Apache-2.0), whose Min Watts and Max Watts
per vCPU (one hardware thread) are averages of SPECpower results per microarchitecture.
Only the figures are taken.

Per microarchitecture:

* ``min_w``/``max_w`` (central): the AWS table's figures, or the mean of the other clouds'
  where AWS does not list the microarchitecture;
* ``*_low_w``/``*_high_w`` (range): the lowest and highest figure over the three clouds'
  tables, widened by :data:`SPREAD` (the per-server spread of SPECpower results around an
  architecture's mean, turbo, and what the hypervisor's neighbours do to the shared socket).

One more row, ``average``, is the mean over the AWS table's microarchitectures (what Cloud
Carbon Footprint uses when the microarchitecture is unknown); its range spans every
microarchitecture's lowest and highest figure (widened the same way).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLOUDS = ("aws", "gcp", "azure")
SOURCE = (
    "Cloud Carbon Footprint ccf-coefficients (commit b0032d9), "
    "output/coefficients-{clouds}-use.csv, from SPECpower results"
)
YEAR = 2026  # the SPECpower snapshot the coefficients were computed from (2026-03-09)
LICENCE = "Apache-2.0"
#: the range is the clouds' lowest and highest figure, times (1 - SPREAD) and (1 + SPREAD)
SPREAD = 0.25
COLUMNS = [
    "microarchitecture",
    "min_w",
    "max_w",
    "min_low_w",
    "max_low_w",
    "min_high_w",
    "max_high_w",
    "source",
    "year",
    "licence",
    "note",
]


def _read(data: Path) -> dict[str, dict[str, tuple[float, float]]]:
    """{microarchitecture: {cloud: (min W, max W) per vCPU}}."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for cloud in CLOUDS:
        path = data / f"ccf-coefficients/output/coefficients-{cloud}-use.csv"
        with path.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                arch = row["Architecture"].strip()
                out.setdefault(arch, {})[cloud] = (float(row["Min Watts"]), float(row["Max Watts"]))
    return out


def _fmt(x: float) -> str:
    return f"{x:.4f}"


def build(data: Path) -> list[dict[str, str]]:
    figures = _read(data)
    rows: list[dict[str, str]] = []
    for arch in sorted(figures):
        by_cloud = figures[arch]
        if "aws" in by_cloud:
            lo_w, hi_w = by_cloud["aws"]
            note = ""
        else:
            lo_w = statistics.mean(v[0] for v in by_cloud.values())
            hi_w = statistics.mean(v[1] for v in by_cloud.values())
            note = "not in the AWS table: mean of " + ", ".join(sorted(by_cloud))
        mins = [v[0] for v in by_cloud.values()]
        maxs = [v[1] for v in by_cloud.values()]
        rows.append(
            {
                "microarchitecture": arch,
                "min_w": _fmt(lo_w),
                "max_w": _fmt(hi_w),
                "min_low_w": _fmt(min(mins) * (1 - SPREAD)),
                "max_low_w": _fmt(min(maxs) * (1 - SPREAD)),
                "min_high_w": _fmt(max(mins) * (1 + SPREAD)),
                "max_high_w": _fmt(max(maxs) * (1 + SPREAD)),
                "source": SOURCE.format(clouds="/".join(c for c in CLOUDS if c in by_cloud)),
                "year": str(YEAR),
                "licence": LICENCE,
                "note": note,
            }
        )
    aws = [v["aws"] for v in figures.values() if "aws" in v]
    every = [fig for v in figures.values() for fig in v.values()]
    rows.append(
        {
            "microarchitecture": "average",
            "min_w": _fmt(statistics.mean(v[0] for v in aws)),
            "max_w": _fmt(statistics.mean(v[1] for v in aws)),
            "min_low_w": _fmt(min(v[0] for v in every) * (1 - SPREAD)),
            "max_low_w": _fmt(min(v[1] for v in every) * (1 - SPREAD)),
            "min_high_w": _fmt(max(v[0] for v in every) * (1 + SPREAD)),
            "max_high_w": _fmt(max(v[1] for v in every) * (1 + SPREAD)),
            "source": SOURCE.format(clouds="aws/gcp/azure"),
            "year": str(YEAR),
            "licence": LICENCE,
            "note": (
                f"unknown microarchitecture: mean over the {len(aws)} AWS microarchitectures; "
                "range over every microarchitecture"
            ),
        }
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument(
        "--out", type=Path, default=REPO / "src/carbonledger/sensors/data/cpu_vcpu_power.csv"
    )
    args = parser.parse_args(argv)
    missing = [
        c
        for c in CLOUDS
        if not (args.data / f"ccf-coefficients/output/coefficients-{c}-use.csv").exists()
    ]
    if missing:
        print(f"missing in {args.data}: ccf-coefficients for {', '.join(missing)}", file=sys.stderr)
        return 1
    rows = build(args.data)
    with args.out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    print(f"wrote {len(rows)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
