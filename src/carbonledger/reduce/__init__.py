"""Reduce: emit less. When to start a job (:mod:`~carbonledger.reduce.scheduling`), carbon
budgets for a run (:mod:`~carbonledger.reduce.budget`) and advice from a run's own numbers
(:mod:`~carbonledger.reduce.advice`); where to run it is the one region ranking of
:mod:`carbonledger.report.regions`. Pure: network only inside the intensity providers; no
terminal I/O (the command line says and asks).

The public surface is :data:`__all__`: the budget's names below and the three modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face
from carbonledger.reduce.budget import BudgetExceeded, BudgetStatus, BudgetWarning, BudgetWatch

if TYPE_CHECKING:
    from carbonledger.reduce import advice, budget, scheduling

__all__ = [
    "BudgetExceeded",
    "BudgetStatus",
    "BudgetWarning",
    "BudgetWatch",
    "advice",
    "budget",
    "scheduling",
]

_SUBMODULES = ("advice", "budget", "scheduling")


__getattr__, __dir__ = lazy_face(__name__, __all__, submodules=_SUBMODULES)
