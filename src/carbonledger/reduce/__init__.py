"""Reduce: emit less. When to start a job (:mod:`~carbonledger.reduce.scheduling`), where
to run it (:mod:`~carbonledger.reduce.regions`), carbon budgets for a run
(:mod:`~carbonledger.reduce.budget`) and advice from a run's own numbers
(:mod:`~carbonledger.reduce.advice`). Pure: network only inside the intensity providers.
"""

from __future__ import annotations

from carbonledger.reduce.budget import BudgetExceeded, BudgetStatus, BudgetWarning

__all__ = ["BudgetExceeded", "BudgetStatus", "BudgetWarning"]
