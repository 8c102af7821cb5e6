"""MLflow: log energy (J) and CO2e (g) per epoch and for the run, and attach the run's
summary (``carbonledger/summary.json``, plus the report when ``carbonledger.report`` can
render one).

::

    import mlflow
    from carbonledger.integrations.mlflow import MlflowSink, log_summary

    with mlflow.start_run():
        with TrainingLoop(epochs=5, sinks=[MlflowSink()]) as loop:   # or any callback
            ...

    # or, for any tracked block:
    with mlflow.start_run(), carbonledger.Tracker() as run:
        fit()
    log_summary(run.summary(), run_id=...)

Epoch metrics keep their names (``carbon/epoch_energy_j`` ..., step = epoch). The run-level metrics are
``carbon/energy_j``, ``carbon/co2e_g`` (and their low/high bounds) and
``carbon/measured_share`` (the share of the energy that came from hardware counters).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from carbonledger.integrations._common import require
from carbonledger.integrations._report import ARTIFACT_DIR, report_files, run_metrics

if TYPE_CHECKING:
    from carbonledger.models import RunSummary

__all__ = ["MlflowSink", "log_summary"]


def _mlflow() -> Any:
    return require("mlflow", "carbonledger's MLflow logging", "mlflow")


def log_summary(summary: RunSummary, run_id: str | None = None) -> None:
    """Log the run-level metrics and attach the summary (and report) to an MLflow run:
    ``run_id``, or the active run (one is started if none is active, as MLflow does)."""
    mlflow = _mlflow()
    client_run = run_id or _active_run_id(mlflow)
    client = mlflow.tracking.MlflowClient()
    for name, value in run_metrics(summary).items():
        client.log_metric(client_run, name, value)
    for name, text in report_files(summary).items():
        client.log_text(client_run, text, f"{ARTIFACT_DIR}/{name}")


def _active_run_id(mlflow: Any) -> str:
    run = mlflow.active_run() or mlflow.start_run()
    return str(run.info.run_id)


class MlflowSink:
    """Feed an MLflow run from a training integration (``sinks=[MlflowSink()]``).

    :param run_id: the MLflow run to log into; default the run active at each call
    """

    def __init__(self, run_id: str | None = None) -> None:
        self._mlflow = _mlflow()
        self.run_id = run_id

    def log_epoch(self, metrics: Mapping[str, float], step: int) -> None:
        run_id = self.run_id or _active_run_id(self._mlflow)
        client = self._mlflow.tracking.MlflowClient()
        for name, value in metrics.items():
            client.log_metric(run_id, name, float(value), step=step)

    def log_run(self, summary: RunSummary) -> None:
        log_summary(summary, self.run_id)
