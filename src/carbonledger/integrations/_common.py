"""The framework-neutral part of every training integration: one window per epoch and one
per phase (train / validation) inside it, the metrics logged to the framework's own logger,
the sinks (experiment trackers) fed at each epoch and at the end, and who logs in a
distributed job.

Windows: ``epoch-N`` (N from 1) is a top-level window, so it feeds the tracker's
during-training forecast (``Tracker(expected_epochs=...)``); its phases are nested windows
``epoch-N/train`` and ``epoch-N/validation``. A framework that validates in the middle of a
training epoch reopens the train phase as ``train-2``, ``train-3`` ... (the epoch's
``carbon/train_energy_j`` sums them). Energy is in joules, CO2e in grams.

Every number logged is this process's *measured or estimated* energy (as its sensors say;
see the run's summary for the method of each component) and the operational CO2e at the
run's intensity and PUE. In a distributed job each rank's tracker joins the one run and
counts only the devices it leased, so the run's total is the sum over ranks (the ledger
holds it: ``carbonledger show RUN``).
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol

from carbonledger.errors import StateError

if TYPE_CHECKING:
    from carbonledger.models import RunStatus, RunSummary, WindowSummary
    from carbonledger.run import Tracker

__all__ = [
    "PHASES",
    "PREFIX",
    "EpochRecorder",
    "Sink",
    "is_rank_zero",
    "rank",
    "require",
]

LOG = logging.getLogger("carbonledger.integrations")

#: every metric this package logs starts with this (``carbon/epoch_energy_j`` ...)
PREFIX = "carbon/"
PHASES = ("train", "validation")
INSTALL_HINT = "pip install 'carbonledger[integrations]'"


def require(module: str, feature: str, package: str) -> ModuleType:
    """Import ``module`` or raise ImportError saying what to install for ``feature``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{feature} needs {package}, which is not installed ({exc}); "
            f"install it with `pip install {package}` or {INSTALL_HINT}"
        ) from None


def rank(env: Mapping[str, str] | None = None) -> int:
    """This process's global rank in a distributed job (torchrun ``RANK``, SLURM
    ``SLURM_PROCID``, MPI ``OMPI_COMM_WORLD_RANK``), 0 outside one."""
    env = os.environ if env is None else env
    for name in ("RANK", "SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK"):
        value = env.get(name, "").strip()
        if value.isdigit():
            return int(value)
    return 0


def is_rank_zero(env: Mapping[str, str] | None = None) -> bool:
    """True in the process that logs to experiment trackers (rank 0, or no distributed job)."""
    return rank(env) == 0


def shared_run_id(env: Mapping[str, str] | None = None) -> str | None:
    """Rank 0's new run id, sent to every rank of an initialised ``torch.distributed``
    process group, when the launcher's environment names no run (e.g. ``torchrun`` without
    ``--rdzv-id``, whose run id is "none"); None otherwise. torch is not imported here: a
    job with a process group has imported it already."""
    import sys

    from carbonledger.run import derive_run_id, new_id

    if derive_run_id(os.environ if env is None else env)[0] is not None:
        return None
    torch = sys.modules.get("torch")
    dist = getattr(torch, "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    if dist.get_world_size() < 2:
        return None
    box: list[str | None] = [new_id() if dist.get_rank() == 0 else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


class Sink(Protocol):
    """Where epoch metrics and the final summary go besides the framework's logger
    (:class:`carbonledger.integrations.mlflow.MlflowSink`,
    :class:`carbonledger.integrations.wandb.WandbSink`)."""

    def log_epoch(self, metrics: Mapping[str, float], step: int) -> None: ...

    def log_run(self, summary: RunSummary) -> None: ...


class EpochRecorder:
    """Windows per epoch and phase on a :class:`~carbonledger.Tracker`.

    :param tracker: a tracker to record into (started or not); None: one is created at
        :meth:`begin_run` from ``tracker_options`` and stopped at :meth:`end_run`
    :param sinks: experiment trackers fed by rank 0 (see :class:`Sink`)
    :param tracker_options: :class:`~carbonledger.Tracker` arguments
    """

    def __init__(
        self,
        tracker: Tracker | None = None,
        *,
        sinks: Sequence[Sink] = (),
        tracker_options: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self._given = tracker
        self._tracker: Tracker | None = None
        self._owned = False
        self._options = dict(tracker_options or {})
        self._sinks = list(sinks)
        self._env = env
        self._epoch: str | None = None
        self._epoch_number = 0
        self._phase: str | None = None
        self._phase_counts: dict[str, int] = {}
        self._epoch_windows: list[WindowSummary] = []
        self.last_metrics: dict[str, float] = {}
        self.summary: RunSummary | None = None
        #: the carbon budget was exceeded with on_budget="stop": the callback stops training
        self.stop_requested = False

    @property
    def tracker(self) -> Tracker:
        if self._tracker is None:
            raise StateError("the integration's run has not begun (no training started yet)")
        return self._tracker

    @property
    def running(self) -> bool:
        return self._tracker is not None and self.summary is None

    @property
    def logs(self) -> bool:
        """Whether this process logs to experiment trackers (rank 0)."""
        return is_rank_zero(self._env)

    # --- run ---------------------------------------------------------------------------------

    def begin_run(self, expected_epochs: int | None = None) -> Tracker:
        """Start (or join) the run; ``expected_epochs`` feeds the during-training forecast."""
        if self.running:
            return self.tracker
        from carbonledger.run import Tracker

        self.summary = None
        if self._given is None:
            options = dict(self._options)
            if expected_epochs is not None and expected_epochs > 0:
                options.setdefault("expected_epochs", expected_epochs)
            if not options.get("run_id"):
                shared = shared_run_id(options.get("env"))
                if shared is not None:
                    options["run_id"] = shared
            self._tracker = Tracker(**options).start()
            self._owned = True
        else:
            self._tracker = self._given
            if self._tracker.expected_epochs is None and expected_epochs:
                self._tracker.expected_epochs = expected_epochs
            try:
                self._tracker.start()
            except StateError:
                pass  # started by the caller, who stops it
            else:
                self._owned = True
        return self._tracker

    def end_run(self, status: RunStatus = "completed") -> RunSummary:
        """Close open windows, stop the tracker if this recorder started it, feed the sinks
        the summary; returns it (so far, when the tracker is someone else's)."""
        tracker = self.tracker
        if self._epoch is not None:
            self.end_epoch()
        summary = tracker.stop(status) if self._owned else tracker.summary()
        self.summary = summary
        self._owned = False
        if self.logs:
            for sink in self._sinks:
                _safely(f"{type(sink).__name__}.log_run", sink.log_run, summary)
            print(end_line(summary), flush=True)  # the run's id and total, where training ends
        return summary

    # --- epochs and phases -------------------------------------------------------------------

    def begin_epoch(self, epoch_number: int) -> None:
        """Open window ``epoch-<epoch_number>`` (1-based); ends an epoch still open."""
        if self._epoch is not None:
            self.end_epoch()
        self._epoch = f"epoch-{epoch_number}"
        self._epoch_number = epoch_number
        self._phase_counts = {}
        self._epoch_windows = []
        self.tracker.begin_window(self._epoch)

    def begin_phase(self, phase: str) -> None:
        """Open this epoch's ``phase`` window (``train`` or ``validation``); ends the other."""
        if self._epoch is None or phase == self._phase:
            return
        self.end_phase()
        count = self._phase_counts.get(phase, 0) + 1
        self._phase_counts[phase] = count
        self._phase = phase if count == 1 else f"{phase}-{count}"
        self.tracker.begin_window(self._phase)

    def end_phase(self) -> None:
        """End the phase window open now, if any."""
        if self._phase is None:
            return
        name, self._phase = self._phase, None
        self._epoch_windows.append(self.tracker.end_window(name))

    def end_epoch(self) -> dict[str, float]:
        """End the epoch (and its phase); returns the metrics to log, sinks fed by rank 0."""
        if self._epoch is None:
            return {}
        self.end_phase()
        name, self._epoch = self._epoch, None
        from carbonledger.reduce.budget import BudgetExceeded

        try:
            window = self.tracker.end_window(name)
        except BudgetExceeded as exc:  # on_budget="stop": the trainer's stop flag, not a raise
            assert exc.window is not None
            window, self.stop_requested = exc.window, True
        metrics = self._metrics(window)
        self.last_metrics = metrics
        if self.logs:
            for sink in self._sinks:
                _safely(
                    f"{type(sink).__name__}.log_epoch", sink.log_epoch, metrics, self._epoch_number
                )
        return metrics

    @property
    def in_epoch(self) -> bool:
        return self._epoch is not None

    @property
    def phase(self) -> str | None:
        """The phase open now (``train``, ``validation``, ``train-2`` ...), or None."""
        return self._phase

    def _metrics(self, epoch: WindowSummary) -> dict[str, float]:
        from carbonledger.accounting import co2e_g

        tracker = self.tracker
        metrics: dict[str, float] = {
            "epoch_energy_j": epoch.energy_j,
            "epoch_duration_s": epoch.duration_s,
        }
        if epoch.co2e_g is not None:
            metrics["epoch_co2e_g"] = epoch.co2e_g
        for phase in PHASES:
            windows = [
                w for w in self._epoch_windows if w.name == phase or w.name.startswith(phase + "-")
            ]
            if windows:
                metrics[f"{phase}_energy_j"] = sum(w.energy_j for w in windows)
        run_energy_j = tracker.energy_j()
        metrics["run_energy_j"] = run_energy_j
        # at the run's yearly intensity, as each epoch's window: the hourly figure is known
        # when the run ends (its summary)
        metrics["run_co2e_g"] = co2e_g(
            run_energy_j, pue=tracker.pue, intensity_g_per_kwh=tracker.intensity_g_per_kwh
        )
        forecast = tracker.forecast
        if forecast is not None:
            for key in ("energy_j", "energy_low_j", "energy_high_j", "co2e_g"):
                value = forecast.get(key)
                if isinstance(value, (int, float)):
                    metrics[f"forecast_{key}"] = float(value)
        return {PREFIX + key: float(value) for key, value in metrics.items()}


def end_line(summary: RunSummary) -> str:
    """What a framework callback prints when training ends: the run's id and its total."""
    from carbonledger.report import format as fmt
    from carbonledger.report.text import status_text

    return (
        f"carbonledger: run {summary.run_id} {status_text(summary)}: {fmt.energy(summary.energy_j)}"
        f", {fmt.with_range(summary.co2e_g, summary.co2e_low_g, summary.co2e_high_g, fmt.mass)}"
        f" CO2e in {fmt.duration(summary.duration_s)} ({fmt.percent(summary.measured_share)} "
        f"measured); see it with: carbonledger show {summary.run_id[:12]}"
    )


def _safely(what: str, fn: Any, *args: Any) -> None:
    """Call a sink; its failure is logged, never raised into training."""
    try:
        fn(*args)
    except Exception as exc:
        LOG.warning("carbonledger: %s failed: %s", what, exc)


def epochs_from(value: Any) -> int | None:
    """A positive whole number of epochs, or None (unknown, -1, infinite, a step budget)."""
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number > 0 and number == value else None
