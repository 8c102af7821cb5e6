"""What the experiment-tracker sinks attach: run-level metrics and the summary's files."""

from __future__ import annotations

import json
import logging
import math
from importlib.util import find_spec
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from carbonledger.models import RunSummary

__all__ = ["ARTIFACT_DIR", "report_files", "run_metrics"]

LOG = logging.getLogger("carbonledger.integrations")

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
    """File name -> text: ``summary.json`` (the whole summary), ``summary.txt`` (the
    plain-text footprint), ``report.md`` (the statement for a paper, in Markdown) and, when
    plotly is installed (the ``report`` extra), ``report.html`` (the self-contained report,
    with the power series when the run's ledger can be read)."""
    from carbonledger.report import format_summary
    from carbonledger.report.paper import paper_statement

    files = {
        "summary.json": json.dumps(summary.to_dict(), indent=2, sort_keys=True, default=str),
        "summary.txt": format_summary(summary),
        "report.md": paper_statement(summary, "md"),
    }
    if find_spec("plotly") is not None:
        try:
            files["report.html"] = _html(summary)
        except Exception as exc:  # a report must never break training
            LOG.warning("carbonledger: the HTML report could not be made: %s", exc)
    return files


def _html(summary: RunSummary) -> str:
    from carbonledger.report.data import RunReport, gather
    from carbonledger.report.html import run_html

    report = RunReport(summary, ())
    location = summary.extra.get("ledger")
    if isinstance(location, str) and location:
        from carbonledger.ledger import open_ledger

        try:
            ledger = open_ledger(location, create=False, read_only=True)
        except Exception as exc:
            LOG.info("carbonledger: report without the ledger's samples: %s", exc)
        else:
            try:
                report = gather(ledger, summary.run_id)
            except Exception as exc:
                LOG.info("carbonledger: report without the ledger's samples: %s", exc)
            finally:
                ledger.close()
    return run_html(report)
