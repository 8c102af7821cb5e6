#!/usr/bin/env python3
"""Build the calibration tables of ``carbonledger.predict`` from the public LLMCarbon data.

Writes, under ``src/carbonledger/predict/data/``:

* ``calibration_runs.csv``: the five training runs of LLMCarbon's database (T5, GPT-3,
  GShard, Switch, XLM) with their published efficiency, power, PUE, grid and footprint;
* ``megatron_throughput.csv``: Table 1 of Narayanan et al. (2021), the Megatron-LM
  throughput of GPT models on 32 to 3,072 A100 GPUs.

Every row carries its source. The inputs are LLMCarbon's CSV files (github
SotaroKaneda/MLCarbon, figures from Patterson et al. 2021, the LLMCarbon paper and the
Megatron-LM paper)::

    python scripts/build_predict_tables.py [--src DIR]

``--validate`` prints the calibration and blind-validation tables of docs/prediction.md
from the shipped tables instead (no input files needed).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "carbonledger" / "predict" / "data"
DEFAULT_SRC = ROOT.parent / "shared" / "data" / "llmcarbon"

DB_SOURCE = (
    "LLMCarbon database.csv (Faiz et al., ICLR 2024; github SotaroKaneda/MLCarbon); "
    "figures from Patterson et al. 2021, 'Carbon emissions and large neural network training'"
)
MEGATRON_SOURCE = (
    "Narayanan et al. 2021, 'Efficient large-scale language model training on GPU clusters "
    "using Megatron-LM', Table 1 (as transcribed in github SotaroKaneda/MLCarbon)"
)
#: published figures are facts; the transcription's repository states no licence
PAPER_LICENCE = "figures published in the cited paper (facts, cited)"
#: the accelerator names of LLMCarbon's database, as the catalogue spells them
DEVICE_NAMES = {"TPUV3": "TPUv3", "V100": "V100-SXM2-32GB"}


def build_calibration_runs(src: Path) -> list[dict[str, str]]:
    rows = []
    with open(src / "database.csv", newline="", encoding="utf-8-sig") as fh:
        for r in csv.DictReader(fh):
            total_b = float(r["parameter # (B)"])
            active_b = float(r["base model param. # (B)"] or total_b)
            rows.append(
                {
                    "name": r["name"],
                    "type": r["type"],
                    "params": f"{total_b * 1e9:.4g}",
                    "active_params": f"{active_b * 1e9:.4g}",
                    "tokens": f"{float(r['token # (B)']) * 1e9:.4g}",
                    "accelerator": DEVICE_NAMES[r["computing device"].upper()],
                    "devices": r["device #"],
                    "tdp_w": r["device TPD (W)"],
                    "avg_power_w": r["avg. system power (W)"],
                    "peak_tflops": r["peak TFLOPs/s"],
                    "achieved_tflops": r["achieved TFLOPs/s"],
                    "efficiency": r["hardware efficiency"],
                    "flops": f"{float(r['total zettaFLOPs']) * 1e21:.4g}",
                    "training_days": r["training days"],
                    "pue": r["PUE"],
                    "grid_g_per_kwh": f"{float(r['CO2eq/KWh']) * 1000:g}",
                    "energy_mwh": r["energy MWh"],
                    "tco2e": r["actual tCO2eq"],
                    "source": DB_SOURCE,
                    "year": "2021",
                    "licence": PAPER_LICENCE,
                }
            )
    return rows


def build_megatron(src: Path) -> list[dict[str, str]]:
    rows = []
    with open(src / "megatron_table.csv", newline="", encoding="utf-8-sig") as fh:
        for r in csv.DictReader(fh):
            r = {k.strip(): v.strip() for k, v in r.items()}
            rows.append(
                {
                    "params": f"{float(r['Number of parameters (billion)']) * 1e9:.5g}",
                    "heads": r["Attention heads"],
                    "hidden_size": r["Hidden size"],
                    "layers": r["Number of layers"],
                    "tensor_parallel": r["Tensor model-parallel size"],
                    "pipeline_parallel": r["Pipeline model-parallel size"],
                    "devices": r["Number of GPUs"],
                    "batch_size": r["Batch size"],
                    "achieved_tflops": r["Achieved teraFLOP/s per GPU"],
                    "percent_of_peak": r["Percentage of theoretical peak FLOP/s"].rstrip("%"),
                    # the paper's setup: GPT models, sequence 2048, vocabulary 51,200,
                    # activation recomputation on, A100 SXM4 80 GB at 312 TFLOP/s
                    "sequence_length": "2048",
                    "vocab_size": "51200",
                    "recompute": "full",
                    "accelerator": "A100-SXM4-80GB",
                    "source": MEGATRON_SOURCE,
                    "year": "2021",
                    "licence": PAPER_LICENCE,
                }
            )
    return rows


def write(path: Path, rows: list[dict[str, str]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]), lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {path.relative_to(ROOT)} ({len(rows)} rows)")


def validate() -> None:
    sys.path.insert(0, str(ROOT / "src"))
    from carbonledger.predict.validation import catalogue_table, markdown_tables, prior_tables

    print("## Catalogue\n")
    print(catalogue_table())
    print("## Priors\n")
    print(prior_tables())
    print("## Validation\n")
    print(markdown_tables())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC, help="LLMCarbon data folder")
    ap.add_argument("--validate", action="store_true", help="print the validation tables")
    args = ap.parse_args()
    if args.validate:
        validate()
        return 0
    if not (args.src / "database.csv").exists():
        print(f"error: {args.src}/database.csv not found; pass --src DIR", file=sys.stderr)
        return 2
    write(OUT / "calibration_runs.csv", build_calibration_runs(args.src))
    write(OUT / "megatron_throughput.csv", build_megatron(args.src))
    return 0


if __name__ == "__main__":
    sys.exit(main())
