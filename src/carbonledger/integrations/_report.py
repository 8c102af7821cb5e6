"""What the experiment-tracker sinks attach: run-level metrics and the summary's files."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from carbonledger.models import RunSummary

__all__ = ["ARTIFACT_DIR", "report_files", "run_metrics"]

#: the folder of a tracker run's artifacts that carbonledger writes
ARTIFACT_DIR = "carbonledger"


def run_metrics(summary: RunSummary) -> dict[str, float]:
    """The run's totals as metrics: energy (J) and CO2e (g) with their low/high bounds,
    duration (s) and the measured share (0-1; the rest is estimated by a model)."""
    values = {
        "carbon/energy_j": summary.energy_j,
        "carbon/energy_low_j": summary.energy_low_j,
        "carbon/energy_high_j": summary.energy_high_j,
        "carbon/co2e_g": summary.co2e_g,
        "carbon/co2e_low_g": summary.co2e_low_g,
        "carbon/co2e_high_g": summary.co2e_high_g,
        "carbon/duration_s": summary.duration_s,
        "carbon/measured_share": summary.measured_share,
    }
    return {k: float(v) for k, v in values.items() if math.isfinite(v)}


def report_files(summary: RunSummary) -> dict[str, str]:
    """File name -> text: ``summary.json`` (the whole summary) and ``summary.txt`` (the
    plain-text footprint, as ``carbonledger show`` prints it)."""
    from carbonledger.report import format_summary

    return {
        "summary.json": json.dumps(summary.to_dict(), indent=2, sort_keys=True, default=str),
        "summary.txt": format_summary(summary),
    }
