"""What a run learns as it goes: its windows, the forecast after each top-level window, its
carbon budget, its own metrics and metadata.

The tracker measures; :class:`RunProgress` keeps what follows from each window's end and
hands every fact to the writer (:class:`carbonledger.run.recording.Recorder`) for the ledger's
run metadata, under carbonledger's own keys (``forecast``, ``budget``, ``metrics``) or the
user's (:meth:`RunProgress.update_meta`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from carbonledger.accounting import CarbonContext, window_co2e_g
from carbonledger.errors import InputError
from carbonledger.models import WindowSummary
from carbonledger.run.settings import check_name

if TYPE_CHECKING:
    from carbonledger.reduce.budget import BudgetStatus, BudgetWatch
    from carbonledger.run.recording import Recorder

__all__ = ["OWN_META_KEYS", "RunProgress"]

#: metadata keys carbonledger writes itself (update_meta refuses them)
OWN_META_KEYS = frozenset({"hourly", "embodied", "forecast", "metrics", "budget"})


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
        self.windows: list[WindowSummary] = []
        self.forecast: dict[str, Any] | None = None
        self.metrics: dict[str, float] = {}

    def attach(self, recorder: Recorder) -> None:
        """Write through ``recorder`` from now on (at the run's start)."""
        self._recorder = recorder

    def _write(self, meta: dict[str, Any]) -> None:
        if self._recorder is not None:
            self._recorder.submit("update_meta", self._run_id, meta)

    @property
    def _top(self) -> list[WindowSummary]:
        return [w for w in self.windows if "/" not in w.path]

    def window_ended(self, window: WindowSummary, context: CarbonContext) -> None:
        """Keep a window; after a top-level one, update the forecast and check the budget
        (raises ``BudgetExceeded`` when the budget says stop)."""
        self.windows.append(window)
        if "/" in window.path:
            return
        if self._expected_epochs is not None:
            self._update_forecast(context)
        if self._budget is not None:
            so_far_g = sum(w.co2e_g or 0.0 for w in self._top)
            status = self._budget_status(self.forecast, so_far_g)
            if status is not None and status.action == "stop":
                from carbonledger.reduce.budget import BudgetExceeded

                raise BudgetExceeded(status, window)

    def _update_forecast(self, context: CarbonContext) -> None:
        from carbonledger.run.context import forecast_after

        try:
            self.forecast = forecast_after(self._top, self._expected_epochs or 0, context)
        except Exception as exc:  # a forecast must never break training
            self._record_error(f"forecast: {exc}")
            return
        self._write({"forecast": self.forecast})

    # --- budget (carbonledger.reduce.budget) -------------------------------------------------

    def _budget_status(
        self, forecast: Mapping[str, Any] | None, so_far_g: float, basis: str | None = None
    ) -> BudgetStatus | None:
        assert self._budget is not None
        status = self._budget.check(forecast, so_far_g, len(self._top), basis)
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

    def final_meta(self) -> dict[str, Any]:
        """What the run's end adds to its metadata (the budget and what happened)."""
        return {} if self._budget is None else {"budget": self._budget.record()}

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
