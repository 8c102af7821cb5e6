"""What a run learns as it goes: its windows, the forecast after each top-level window, its
carbon budget, its own metrics and metadata.

The tracker measures; :class:`RunProgress` keeps what follows from each window's end and
hands every fact to the writer (:class:`carbonledger.run.recording.Recorder`) for the ledger's
run metadata, under carbonledger's own keys (``forecast``, ``budget``, ``metrics``) or the
user's (:meth:`RunProgress.update_meta`).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carbonledger.accounting import CarbonContext, window_co2e_g
from carbonledger.errors import InputError
from carbonledger.events import MetaUpdated
from carbonledger.models import RunSummary, WindowSummary, window_pattern
from carbonledger.run.settings import check_name

if TYPE_CHECKING:
    from carbonledger.reduce.budget import BudgetStatus, BudgetWatch
    from carbonledger.run.recording import Recorder

__all__ = ["OWN_META_KEYS", "RECENT_WINDOWS", "RunProgress", "WindowStats"]

#: metadata keys carbonledger writes itself (update_meta refuses them)
OWN_META_KEYS = frozenset({"hourly", "embodied", "forecast", "metrics", "budget"})
#: how many of the latest windows a tracker keeps whole (every one is in the ledger)
RECENT_WINDOWS = 1000


@dataclass
class WindowStats:
    """Running figures of the windows of one pattern: how many, their total, mean and extreme
    energy (J) and duration (s), and their CO2e (g)."""

    count: int = 0
    energy_j: float = 0.0
    duration_s: float = 0.0
    co2e_g: float = 0.0
    min_energy_j: float = math.inf
    max_energy_j: float = 0.0

    def add(self, window: WindowSummary) -> None:
        energy_j = window.energy_j
        self.count += 1
        self.energy_j += energy_j
        self.duration_s += window.duration_s
        self.co2e_g += window.co2e_g or 0.0
        self.min_energy_j = min(self.min_energy_j, energy_j)
        self.max_energy_j = max(self.max_energy_j, energy_j)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "count": self.count,
            "energy_j": self.energy_j,
            "mean_energy_j": self.energy_j / self.count if self.count else 0.0,
            "min_energy_j": self.min_energy_j if self.count else 0.0,
            "max_energy_j": self.max_energy_j,
            "duration_s": self.duration_s,
            "co2e_g": self.co2e_g,
        }


class RunProgress:
    """The windows, forecast, budget, metrics and metadata of one member of a run.

    ``record_error`` keeps a failure that must not reach the user's code (a forecast that
    could not be made); ``budget`` is the run's :class:`~carbonledger.reduce.budget.BudgetWatch`
    or None.
    """

    def __init__(
        self,
        run_id: str,
        expected_epochs: int | None,
        budget: BudgetWatch | None,
        record_error: Callable[[str], None],
    ) -> None:
        self._run_id = run_id
        self._expected_epochs = expected_epochs
        self._budget = budget
        self._record_error = record_error
        self._recorder: Recorder | None = None
        #: the latest windows, whole (at most :data:`RECENT_WINDOWS`)
        self.recent: deque[WindowSummary] = deque(maxlen=RECENT_WINDOWS)
        #: running figures per window pattern (:func:`window_pattern`)
        self.stats: dict[str, WindowStats] = {}
        self.windows_total = 0
        self._top_count = 0
        self._top_co2e_g = 0.0
        #: each top-level window's energy (J) and duration (s): kept only for a forecast
        self._top_energy_j: list[float] = []
        self._top_duration_s: list[float] = []
        self.forecast: dict[str, Any] | None = None
        self.metrics: dict[str, float] = {}
        #: progress lines through the "carbonledger" logger (see :meth:`progress_every`)
        self._progress_s = 0.0
        self._summary_fn: Callable[[], RunSummary | None] | None = None
        self._last_line_s = time.monotonic()
        self._last_window_line_s = 0.0
        self._previous: RunSummary | None = None

    def progress_every(self, seconds: float, summary: Callable[[], RunSummary | None]) -> None:
        """Log a progress line (``summary()`` so far) every ``seconds`` (0: never) and at the
        end of each top-level window (at most once a second), at INFO level through the
        "carbonledger" logger: what a CI log, a SLURM log or a notebook shows of a run."""
        self._progress_s = float(seconds)
        self._summary_fn = summary

    def tick(self) -> None:
        """After each sampler tick: the progress line, when one is due (never raises)."""
        if not self._progress_s or self._summary_fn is None:
            return
        now = time.monotonic()
        if now - self._last_line_s < self._progress_s:
            return
        self._last_line_s = now
        try:
            current = self._summary_fn()
        except Exception:  # a progress line never disturbs the run
            return
        if current is None:
            return
        from carbonledger.report.text import status_line

        _log().info(
            "carbonledger: run %s: %s", self._run_id[:12], status_line(current, self._previous)
        )
        self._previous = current

    def _window_line(self, window: WindowSummary) -> None:
        now = time.monotonic()
        if not self._progress_s or now - self._last_window_line_s < 1.0:
            return
        self._last_window_line_s = now
        from carbonledger.report import format as fmt

        _log().info(
            "carbonledger: %s: %s, %s CO2e in %s",
            window.path,
            fmt.energy(window.energy_j),
            fmt.mass(window.co2e_g or 0.0),
            fmt.duration(window.duration_s),
        )

    def finished(self, summary: RunSummary) -> None:
        """At the end: the run's total, and whether it stayed within its budget."""
        from carbonledger.report import format as fmt

        if self._progress_s:
            _log().info(
                "carbonledger: run %s %s: %s, %s CO2e in %s",
                self._run_id[:12],
                summary.status,
                fmt.energy(summary.energy_j),
                fmt.mass(summary.co2e_g),
                fmt.duration(summary.duration_s),
            )
        if self._budget is not None:
            line = self._budget.outcome_line(summary.co2e_g)
            within = self._budget.outcome(summary.co2e_g) == "within"
            _log().log(logging.INFO if within else logging.WARNING, "carbonledger: %s", line)

    def attach(self, recorder: Recorder) -> None:
        """Write through ``recorder`` from now on (at the run's start)."""
        self._recorder = recorder

    def _write(self, meta: dict[str, Any]) -> None:
        if self._recorder is not None:
            self._recorder.emit([MetaUpdated(meta)])

    @property
    def windows(self) -> tuple[WindowSummary, ...]:
        """The latest windows, whole (every one went to the ledger)."""
        return tuple(self.recent)

    def summary_extra(self) -> dict[str, Any]:
        """What a summary's ``extra`` says of the run's progress: the forecast, the metrics,
        the running figures of each window pattern."""
        extra: dict[str, Any] = {}
        if self.forecast is not None:
            extra["forecast"] = self.forecast
        if self.metrics:
            extra["metrics"] = dict(self.metrics)
        if self.windows_total:
            extra["window_stats"] = self.window_stats()
            extra["windows_total"] = self.windows_total
        if self._budget is not None:
            extra["budget"] = self._budget.record()
            if self.budget_stop:
                extra["status_reason"] = "budget"
        return extra

    def window_stats(self) -> dict[str, dict[str, float | int]]:
        """The running figures of each window pattern."""
        return {pattern: stats.to_dict() for pattern, stats in self.stats.items()}

    def window_ended(self, window: WindowSummary, context: CarbonContext) -> None:
        """Count a window; after a top-level one, update the forecast and check the budget
        (raises ``BudgetExceeded`` when the budget says stop). Memory does not grow with the
        number of windows (unless a forecast needs each top-level window's energy)."""
        self.recent.append(window)
        self.windows_total += 1
        pattern = window_pattern(window.path)
        stats = self.stats.get(pattern)
        if stats is None:
            stats = self.stats[pattern] = WindowStats()
        stats.add(window)
        if "/" in window.path:
            return
        self._window_line(window)
        self._top_count += 1
        self._top_co2e_g += window.co2e_g or 0.0
        if self._expected_epochs is not None:
            self._top_energy_j.append(window.energy_j)
            self._top_duration_s.append(window.duration_s)
            self._update_forecast(context)
        if self._budget is not None:
            so_far_g = self._top_co2e_g
            status = self._budget_status(self.forecast, so_far_g)
            if status is not None and status.action == "stop":
                from carbonledger.reduce.budget import BudgetExceeded

                raise BudgetExceeded(status, window)

    def _update_forecast(self, context: CarbonContext) -> None:
        from carbonledger.run.context import forecast_after

        try:
            self.forecast = forecast_after(
                self._top_energy_j, self._top_duration_s, self._expected_epochs or 0, context
            )
        except Exception as exc:  # a forecast must never break training
            self._record_error(f"forecast: {exc}")
            return
        self._write({"forecast": self.forecast})

    # --- budget (carbonledger.reduce.budget) -------------------------------------------------

    def _budget_status(
        self, forecast: Mapping[str, Any] | None, so_far_g: float, basis: str | None = None
    ) -> BudgetStatus | None:
        assert self._budget is not None
        status = self._budget.check(forecast, so_far_g, self._top_count, basis)
        if status is not None:
            self._write({"budget": self._budget.record()})
        return status

    def check_budget(
        self,
        energy_j: float,
        elapsed_s: float,
        context: CarbonContext,
        expected_duration_s: float | None,
    ) -> BudgetStatus | None:
        """The budget against the forecast, else the CO2e so far of ``energy_j`` extrapolated
        to ``expected_duration_s`` (when given), else the CO2e so far. See
        ``Tracker.check_budget``."""
        if self._budget is None:
            return None
        so_far_g = window_co2e_g(energy_j, context)
        if self.forecast is None and expected_duration_s and elapsed_s > 0:
            whole = {"co2e_g": so_far_g * max(1.0, expected_duration_s / elapsed_s)}
            basis = f"CO2e so far extrapolated to {expected_duration_s:g} s"
            return self._budget_status(whole, so_far_g, basis)
        return self._budget_status(self.forecast, so_far_g)

    @property
    def budget_stop(self) -> bool:
        """True once the budget was exceeded with ``on_budget="stop"``."""
        budget = self._budget
        return budget is not None and budget.exceeded and budget.action == "stop"

    @property
    def budget_exceeded(self) -> bool:
        """True once the budget was exceeded (warned or stopped)."""
        return self._budget is not None and self._budget.exceeded

    def final_meta(self, co2e_g: float | None = None) -> dict[str, Any]:
        """What the run's end adds to its metadata: the budget and what happened (with the
        run's final CO2e in g, whether it stayed within)."""
        return {} if self._budget is None else {"budget": self._budget.record(co2e_g)}

    # --- the user's own facts ----------------------------------------------------------------

    def update_meta(self, meta: Mapping[str, Any]) -> None:
        """Keep more facts with the run (JSON-able; carbonledger's own keys refused)."""
        taken = sorted(set(meta) & OWN_META_KEYS)
        if taken:
            raise InputError(f"metadata keys {taken} are carbonledger's own; use other names")
        try:
            data = json.loads(json.dumps(dict(meta), allow_nan=False))
        except (TypeError, ValueError) as exc:
            raise InputError(
                f"run metadata must be JSON-able (no NaN or infinity): {exc}"
            ) from None
        self._write(data)

    def log_metric(self, name: str, value: float) -> None:
        """Keep a metric (a finite number; the latest value of a name wins)."""
        check_name("metric name", name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"metric {name!r} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise InputError(f"metric {name!r} must be finite, got {value!r}")
        self.metrics[name] = float(value)
        self._write({"metrics": dict(self.metrics)})


def _log() -> logging.Logger:
    return logging.getLogger("carbonledger")


class ProgressMethods:
    """The tracker's methods about what a run learns as it goes (budget, forecast, metadata,
    metrics): each hands on to the tracker's :class:`RunProgress`."""

    _progress: RunProgress
    _state: str
    _carbon: CarbonContext
    _s: Any

    def energy_j(self) -> float:  # pragma: no cover - the tracker's
        raise NotImplementedError

    def _need_running(self, what: str) -> None:
        if self._s is None or self._state not in ("running", "stopping"):
            from carbonledger.errors import StateError

            raise StateError(f"{what} needs a running tracker; call start() first")

    def _error(self, message: str) -> None:
        """Keep a failure that must not reach the user's code (with the meter's errors)."""
        if self._s is not None:
            self._s.meter.record_error(message)

    def check_budget(self, expected_duration_s: float | None = None) -> BudgetStatus | None:
        """Check ``budget_kg`` now, for work without windows (``carbonledger run``): against
        the whole-run forecast if there is one, else the CO2e so far extrapolated to
        ``expected_duration_s`` (seconds, when given), else the CO2e so far. Returns the
        status the first time it is exceeded (logged, recorded; the caller stops the work
        when ``status.action == "stop"``), else None. Never raises ``BudgetExceeded``."""
        if self._s is None or self._state != "running":
            return None
        elapsed_s = self._s.meter.elapsed_s
        return self._progress.check_budget(
            self.energy_j(), elapsed_s, self._carbon, expected_duration_s
        )

    @property
    def budget_exceeded(self) -> bool:
        """True once the run's forecast (or CO2e so far) exceeded ``budget_kg`` with
        ``on_budget="stop"``: framework callbacks poll it to set their stop flag."""
        return self._progress.budget_stop

    @property
    def forecast(self) -> dict[str, Any] | None:
        """The latest whole-run forecast (see ``expected_epochs``), or None."""
        return self._progress.forecast

    def update_meta(self, meta: Mapping[str, Any]) -> None:
        """Keep more facts with the run in the ledger's metadata (JSON-able values; a later
        value of a key replaces an earlier one). Keys carbonledger writes itself are refused."""
        self._need_running("update_meta()")
        self._progress.update_meta(meta)

    def log_metric(self, name: str, value: float) -> None:
        """Keep a metric of the run's own (accuracy, loss, tokens...) beside its footprint,
        so that comparisons can weigh CO2e against quality. The latest value of a name wins;
        metrics are in the summary's ``extra["metrics"]`` and the ledger's run metadata."""
        self._need_running(f"log_metric({name!r})")
        self._progress.log_metric(name, value)
