"""``@carbonledger.track``: every call of a function tracked as a run."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from carbonledger.run.tracker import Tracker

P = ParamSpec("P")
R = TypeVar("R")

__all__ = ["track"]


def track(
    project: str | None = None, experiment: str | None = None, **options: Any
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: track every call of the function as a run.

    ``@carbonledger.track(project="svm")`` — options are :class:`Tracker`'s. The summary of
    the latest call is attached to the wrapper as ``wrapper.last_summary``.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with Tracker(project, experiment, **options) as run:
                result = fn(*args, **kwargs)
            wrapper.last_summary = run.summary()  # type: ignore[attr-defined]
            return result

        return wrapper

    return decorate
