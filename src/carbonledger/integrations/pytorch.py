"""Hand-written training loops (plain PyTorch, JAX, anything): a window per epoch and per
phase without a framework's callbacks. Needs no framework at all.

::

    from carbonledger.integrations.pytorch import TrainingLoop

    with TrainingLoop(epochs=10, project="resnet") as loop:
        for epoch in loop.epochs():          # 1, 2, ... each inside window "epoch-N"
            with loop.phase("train"):
                train_one_epoch(model)
            with loop.phase("validation"):
                evaluate(model)
            print(loop.last_metrics["carbon/epoch_energy_j"])
    print(loop.summary.co2e_g)

``epochs()`` opens ``epoch-N`` before yielding N and ends it when the loop asks for the
next one (a ``break`` ends it at the end of the ``with``). The tracker's forecast gets
``expected_epochs=epochs``. In a distributed job (torchrun, SLURM) every rank runs the same
code: each rank's tracker joins the one run with its own devices, and only rank 0 feeds the
sinks (MLflow, W&B) and calls ``on_epoch``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from carbonledger.errors import InputError
from carbonledger.integrations._common import PHASES, EpochRecorder, Sink

if TYPE_CHECKING:
    from types import TracebackType

    from carbonledger.models import RunSummary
    from carbonledger.run import Tracker

__all__ = ["TrainingLoop"]


class TrainingLoop:
    """Windows per epoch and phase for a hand-written loop.

    :param epochs: the number of epochs :meth:`epochs` yields (and the forecast expects)
    :param tracker: record into this :class:`~carbonledger.Tracker` (you start and stop it);
        default: one is started on ``with`` and stopped at its end
    :param sinks: experiment trackers fed by rank 0 at each epoch and at the end
    :param on_epoch: called by rank 0 with ``(epoch, metrics)`` after each epoch (a logger)
    :param tracker_options: any :class:`~carbonledger.Tracker` argument
    """

    def __init__(
        self,
        epochs: int,
        tracker: Tracker | None = None,
        *,
        sinks: Sequence[Sink] = (),
        on_epoch: Callable[[int, Mapping[str, float]], None] | None = None,
        **tracker_options: Any,
    ) -> None:
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise InputError(f"epochs must be a whole number >= 1, got {epochs!r}")
        self.total_epochs = epochs
        self.recorder = EpochRecorder(tracker, sinks=sinks, tracker_options=tracker_options)
        self._on_epoch = on_epoch

    def __enter__(self) -> TrainingLoop:
        self.recorder.begin_run(self.total_epochs)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self.recorder.running:
            return
        if exc_type is None:
            self.recorder.end_run("completed")
        elif issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
            self.recorder.end_run("interrupted")
        else:
            self.recorder.end_run("failed")

    @property
    def tracker(self) -> Tracker:
        return self.recorder.tracker

    @property
    def summary(self) -> RunSummary | None:
        """The run's summary after the ``with`` block."""
        return self.recorder.summary

    @property
    def last_metrics(self) -> Mapping[str, float]:
        """The latest finished epoch's metrics (``carbon/epoch_energy_j`` ...)."""
        return self.recorder.last_metrics

    def epochs(self, start: int = 1) -> Iterator[int]:
        """Yield epoch numbers ``start`` .. ``epochs``, each inside its own window; stops
        early when the run's carbon budget is exceeded with ``on_budget="stop"``."""
        if not self.recorder.running:
            self.recorder.begin_run(self.total_epochs)
        for number in range(start, self.total_epochs + 1):
            self.recorder.begin_epoch(number)
            try:
                yield number
            finally:
                self._finish_epoch(number)
            if self.recorder.stop_requested:  # the carbon budget says stop
                return

    def _finish_epoch(self, number: int) -> None:
        if not self.recorder.in_epoch:
            return
        metrics = self.recorder.end_epoch()
        if self._on_epoch is not None and self.recorder.logs:
            self._on_epoch(number, metrics)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Measure a phase of the current epoch (``"train"`` or ``"validation"``)."""
        if name not in PHASES:
            raise InputError(f"phase must be one of {', '.join(PHASES)}, got {name!r}")
        self.recorder.begin_phase(name)
        try:
            yield
        finally:
            self.recorder.end_phase()
