"""Reduce: emit less. When to start a job (:mod:`~carbonledger.reduce.scheduling`), carbon
budgets for a run (:mod:`~carbonledger.reduce.budget`) and advice from a run's own numbers
(:mod:`~carbonledger.reduce.advice`); where to run it is the one region ranking of
:mod:`carbonledger.report.regions`. Pure: network only inside the intensity providers; no
terminal I/O (the command line says and asks).

The public surface is :data:`__all__`: the budget's names below and the three modules.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

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


def __getattr__(name: str) -> object:
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
