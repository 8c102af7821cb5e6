"""Carbon budgets: warn, or stop, when a run's forecast exceeds its budget.

The tracker forecasts the whole run after each top-level window when ``expected_epochs``
is set (see :func:`carbonledger.predict.forecast`); a :class:`BudgetWatch` compares each
forecast's central CO2e with the budget. The first time it is over:

* ``on_budget="warn"``: one warning through the "carbonledger" logger, with the forecast and
  its 80 % interval; the run goes on.
* ``on_budget="stop"``: the same warning, then :attr:`BudgetWatch.exceeded` is set, which
  framework callbacks poll (``tracker.budget_exceeded``) to set their trainer's stop flag;
  a plain loop gets :class:`BudgetExceeded` raised from ``end_window`` (``with
  tracker.window(...)`` exits) at that window boundary.

The CO2e so far exceeding the budget counts too (a run without a forecast). The run's record
keeps the budget and its outcome (``meta["budget"]``: ``stopped``, ``exceeded`` or ``within``,
with the run's CO2e); a run the budget stopped is ``interrupted`` with reason "budget".
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from carbonledger.errors import CarbonLedgerError, InputError

__all__ = ["ON_BUDGET", "BudgetExceeded", "BudgetStatus", "BudgetWarning", "BudgetWatch"]

OnBudget = Literal["warn", "stop"]
ON_BUDGET: tuple[OnBudget, ...] = ("warn", "stop")


class BudgetWarning(UserWarning):
    """A run's forecast (or measured) CO2e is over its carbon budget."""


if TYPE_CHECKING:
    from carbonledger.models import WindowSummary


class BudgetExceeded(CarbonLedgerError):
    """Raised at a window boundary when ``on_budget="stop"`` and the run's forecast CO2e
    exceeds its budget. ``status`` holds the figures. Catch it to end a plain training loop
    gracefully; the tracker records the run as ``stopped_budget`` in its metadata."""

    exit_code = 3

    def __init__(self, status: BudgetStatus, window: WindowSummary | None = None) -> None:
        super().__init__(status.message)
        self.status = status
        #: the window whose end found the budget exceeded (it is recorded all the same)
        self.window = window


@dataclass(frozen=True)
class BudgetStatus:
    """What the watch concluded: grams, with the forecast's 80 % interval when known."""

    budget_g: float
    forecast_co2e_g: float
    forecast_low_g: float | None
    forecast_high_g: float | None
    basis: str  # "forecast" (whole run, from its first windows) or "measured so far"
    windows_done: int
    action: OnBudget

    @property
    def message(self) -> str:
        from carbonledger.report import format as fmt

        interval = ""
        if self.forecast_low_g is not None and self.forecast_high_g is not None:
            interval = (
                f" (80% interval {fmt.span(self.forecast_low_g, self.forecast_high_g, fmt.mass)})"
            )
        after = f" after {self.windows_done} window(s)" if self.windows_done else ""
        if self.action == "warn":
            then = "continuing"
        else:
            then = "stopping at this window boundary" if self.windows_done else "stopping"
        return (
            f"carbon budget {fmt.mass(self.budget_g)} CO2e exceeded: {self.basis} "
            f"{fmt.mass(self.forecast_co2e_g)}{interval}{after}; {then}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget_kg": self.budget_g / 1e3,
            "exceeded": True,
            "basis": self.basis,
            "co2e_kg": self.forecast_co2e_g / 1e3,
            "co2e_low_kg": None if self.forecast_low_g is None else self.forecast_low_g / 1e3,
            "co2e_high_kg": None if self.forecast_high_g is None else self.forecast_high_g / 1e3,
            "windows_done": self.windows_done,
            "action": self.action,
        }


def check_budget(budget_kg: float | None, on_budget: str) -> OnBudget:
    """Validate the tracker's budget arguments; returns ``on_budget``."""
    if budget_kg is not None:
        if isinstance(budget_kg, bool) or not isinstance(budget_kg, (int, float)):
            raise InputError(f"budget_kg must be a number of kg CO2e, got {budget_kg!r}")
        if not (math.isfinite(budget_kg) and budget_kg > 0):
            raise InputError(f"budget_kg must be > 0 kg CO2e, got {budget_kg!r}")
    if on_budget not in ON_BUDGET:
        raise InputError(f"on_budget must be 'warn' or 'stop', got {on_budget!r}")
    return on_budget


class BudgetWatch:
    """Compares forecasts with a budget; warns once; in "stop" mode flags the run."""

    def __init__(
        self,
        budget_kg: float,
        on_budget: str = "warn",
        callback: Callable[[BudgetStatus], None] | None = None,
    ) -> None:
        self.action = check_budget(budget_kg, on_budget)
        self.budget_g = float(budget_kg) * 1e3
        self.callback = callback
        self.status: BudgetStatus | None = None

    @property
    def exceeded(self) -> bool:
        return self.status is not None

    def record(self, co2e_g: float | None = None) -> dict[str, Any]:
        """The ledger's ``budget`` metadata: the budget, the action, what happened, and —
        given the run's final CO2e (g) — its ``outcome``: ``stopped`` (the budget stopped
        the run), ``exceeded`` (over, warned or found at the end) or ``within``."""
        record: dict[str, Any] = (
            self.status.to_dict()
            if self.status is not None
            else {"budget_kg": self.budget_g / 1e3, "exceeded": False, "action": self.action}
        )
        if co2e_g is not None and math.isfinite(co2e_g):
            record["final_co2e_kg"] = co2e_g / 1e3
            record["outcome"] = self.outcome(co2e_g)
            record["exceeded"] = record["exceeded"] or co2e_g > self.budget_g
        elif self.status is not None and self.action == "stop":
            record["outcome"] = "stopped"
        return record

    def outcome(self, co2e_g: float) -> str:
        """``stopped`` (the budget stopped the run), ``exceeded`` (the run's CO2e, in g, is
        over it) or ``within``."""
        if self.status is not None and self.action == "stop":
            return "stopped"
        return "exceeded" if co2e_g > self.budget_g else "within"

    def outcome_line(self, co2e_g: float) -> str:
        """One sentence for the end of a run: within its budget, over it, or stopped by it."""
        from carbonledger.report import format as fmt

        share = co2e_g / self.budget_g if self.budget_g > 0 else 0.0
        used = f"{fmt.mass(co2e_g)} of {fmt.mass(self.budget_g)} CO2e ({fmt.percent(share)})"
        outcome = self.outcome(co2e_g)
        if outcome == "stopped":
            return f"the carbon budget stopped the run: it used {used}"
        if outcome == "exceeded":
            return f"over its carbon budget: the run used {used}"
        earlier = " (its forecast exceeded it on the way)" if self.status is not None else ""
        return f"within its carbon budget: the run used {used}{earlier}"

    def check(
        self,
        forecast: Mapping[str, Any] | None,
        measured_co2e_g: float,
        windows_done: int,
        basis: str | None = None,
    ) -> BudgetStatus | None:
        """The new status when this check first finds the budget exceeded, else None.
        ``forecast`` is a whole-run forecast (``co2e_g``, optional ``co2e_low_g`` and
        ``co2e_high_g``); ``basis`` names how it was made."""
        if self.status is not None:
            return None
        if forecast is not None and forecast.get("co2e_g") is not None:
            status = BudgetStatus(
                self.budget_g,
                float(forecast["co2e_g"]),
                _maybe(forecast.get("co2e_low_g")),
                _maybe(forecast.get("co2e_high_g")),
                basis or "forecast of the whole run",
                windows_done,
                self.action,
            )
            if status.forecast_co2e_g <= self.budget_g and measured_co2e_g <= self.budget_g:
                return None
        elif measured_co2e_g > self.budget_g:
            basis = "CO2e so far"
            status = BudgetStatus(
                self.budget_g, measured_co2e_g, None, None, basis, windows_done, self.action
            )
        else:
            return None
        self.status = status
        logging.getLogger("carbonledger").warning("carbonledger: %s", status.message)
        if self.callback is not None:
            self.callback(status)
        return status


def _maybe(value: Any) -> float | None:
    return None if value is None else float(value)
