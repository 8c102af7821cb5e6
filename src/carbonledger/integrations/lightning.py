"""PyTorch Lightning: a ``Callback`` that measures each epoch and its train / validation
phases, and logs energy (J) and CO2e (g) through ``LightningModule.log``.

::

    from carbonledger.integrations.lightning import CarbonCallback

    trainer = lightning.Trainer(max_epochs=10, callbacks=[CarbonCallback(project="resnet")])
    trainer.fit(model)

Logged each epoch (see :mod:`carbonledger.integrations._common` for the names):
``carbon/epoch_energy_j``, ``carbon/epoch_co2e_g``, ``carbon/train_energy_j``,
``carbon/validation_energy_j``, ``carbon/run_energy_j``, ``carbon/run_co2e_g`` and, once the
forecast has enough epochs, ``carbon/forecast_energy_j`` / ``carbon/forecast_co2e_g``. In
distributed training each rank measures its own leased devices and the values are summed
over ranks when logged (``sync_dist=True, reduce_fx="sum"``; durations: the longest), so the logged figure is the
whole job's. The sanity-check validation before training is not measured as a phase.

Works with ``lightning`` (``lightning.pytorch``) or the older ``pytorch_lightning`` package.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from carbonledger.integrations._common import EpochRecorder, Sink, epochs_from, require

if TYPE_CHECKING:
    from carbonledger.models import RunSummary
    from carbonledger.run import Tracker

__all__ = ["CarbonCallback"]


def _lightning() -> Any:
    try:
        return importlib.import_module("lightning.pytorch")
    except ImportError:
        return require("pytorch_lightning", "carbonledger's Lightning callback", "lightning")


_pl = _lightning()


_Base: Any = _pl.Callback


class CarbonCallback(_Base):  # type: ignore[misc]
    """Measure a Lightning ``fit``: a window per epoch and per phase, logged to Lightning.

    :param tracker: record into this :class:`~carbonledger.Tracker` (you start and stop
        it); default: one is started when fitting begins (with ``expected_epochs`` from the
        trainer's ``max_epochs``) and stopped when it ends
    :param sinks: experiment trackers fed by rank 0 (MLflow, W&B: see their modules)
    :param log: log the metrics through ``LightningModule.log`` (default True)
    :param tracker_options: any :class:`~carbonledger.Tracker` argument (``project=``...)
    """

    def __init__(
        self,
        tracker: Tracker | None = None,
        *,
        sinks: Sequence[Sink] = (),
        log: bool = True,
        **tracker_options: Any,
    ) -> None:
        super().__init__()
        self.recorder = EpochRecorder(tracker, sinks=sinks, tracker_options=tracker_options)
        self._log = log

    @property
    def summary(self) -> RunSummary | None:
        """The run's summary once fitting has ended."""
        return self.recorder.summary

    @property
    def last_metrics(self) -> Mapping[str, float]:
        """The metrics of the latest epoch (this process's own, before any sum over ranks)."""
        return self.recorder.last_metrics

    # --- hooks ---------------------------------------------------------------------------

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        self.recorder.begin_run(epochs_from(getattr(trainer, "max_epochs", None)))

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self.recorder.begin_epoch(int(trainer.current_epoch) + 1)
        self.recorder.begin_phase("train")

    def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        if not trainer.sanity_checking:
            self.recorder.begin_phase("validation")

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or not self.recorder.in_epoch:
            return
        self.recorder.end_phase()

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        # training goes on after a validation in the middle of the epoch (val_check_interval)
        if self.recorder.in_epoch and self.recorder.phase is None:
            self.recorder.begin_phase("train")

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        metrics = self.recorder.end_epoch()
        if self.recorder.stop_requested:
            trainer.should_stop = True  # the carbon budget says stop
        if self._log and metrics:
            distributed = int(getattr(trainer, "world_size", 1)) > 1
            for name, value in metrics.items():
                pl_module.log(
                    name,
                    value,
                    on_step=False,
                    on_epoch=True,
                    sync_dist=distributed,
                    reduce_fx="max" if name.endswith("_s") else "sum",
                )

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        if self.recorder.running:
            self.recorder.end_run("completed")

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        if self.recorder.running:
            interrupted = isinstance(exception, (KeyboardInterrupt, SystemExit))
            self.recorder.end_run("interrupted" if interrupted else "failed")
