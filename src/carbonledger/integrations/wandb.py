"""Weights & Biases: log energy (J) and CO2e (g) per epoch and for the run, put the run's
totals in ``wandb.run.summary`` and attach the run's summary files as an artifact
(``carbonledger-<run id>``, type ``carbon-footprint``).

::

    import wandb
    from carbonledger.integrations.wandb import WandbSink, log_summary

    wandb.init(project="resnet")
    with TrainingLoop(epochs=5, sinks=[WandbSink()]) as loop:   # or any callback
        ...
    wandb.finish()

Works in offline mode (``WANDB_MODE=offline``): everything lands in the run's local folder
and ``wandb sync`` uploads it later.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carbonledger.errors import StateError
from carbonledger.integrations._common import require
from carbonledger.integrations._report import ARTIFACT_DIR, report_files, run_metrics

if TYPE_CHECKING:
    from carbonledger.models import RunSummary

__all__ = ["WandbSink", "log_summary"]


def _wandb() -> Any:
    return require("wandb", "carbonledger's Weights & Biases logging", "wandb")


def _run(run: Any | None) -> Any:
    if run is not None:
        return run
    active = _wandb().run
    if active is None:
        raise StateError("no W&B run is active: call wandb.init() first or pass run=")
    return active


def log_summary(summary: RunSummary, run: Any | None = None) -> None:
    """Put the run-level metrics in ``run.summary`` and log the summary files as an
    artifact of ``run`` (default: the active run, ``wandb.run``)."""
    wandb = _wandb()
    target = _run(run)
    for name, value in run_metrics(summary).items():
        target.summary[name] = value
    safe_id = re.sub(r"[^A-Za-z0-9_.-]", "-", summary.run_id)[:100]
    artifact = wandb.Artifact(f"{ARTIFACT_DIR}-{safe_id}", type="carbon-footprint")
    with tempfile.TemporaryDirectory() as folder:
        for name, text in report_files(summary).items():
            path = Path(folder) / name
            path.write_text(text, encoding="utf-8")
            artifact.add_file(str(path), name=name)  # copied into W&B's staging folder
        target.log_artifact(artifact)


class WandbSink:
    """Feed a W&B run from a training integration (``sinks=[WandbSink()]``).

    :param run: the run to log into; default the active run (``wandb.run``) at each call
    """

    def __init__(self, run: Any | None = None) -> None:
        _wandb()
        self.run = run

    def log_epoch(self, metrics: Mapping[str, float], step: int) -> None:
        target = _run(self.run)
        target.log({**metrics, "carbon/epoch": step})

    def log_run(self, summary: RunSummary) -> None:
        log_summary(summary, self.run)
