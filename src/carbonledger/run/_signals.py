"""SIGTERM as a normal exit, so that a terminated run is recorded as interrupted."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

__all__ = ["SigtermAsExit"]


class SigtermAsExit:
    """While installed, SIGTERM raises ``SystemExit(128 + 15)`` in the main thread (so
    ``with Tracker(...)`` blocks end and record the run as interrupted).

    Installed only where nobody else handles SIGTERM, and only from the main thread;
    :meth:`restore` puts the previous handler back.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self._enabled = enabled
        self._previous: Any = None

    def install(self) -> None:
        if not self._enabled:
            return
        current = signal.getsignal(signal.SIGTERM)
        if current not in (signal.SIG_DFL, None):
            return  # the program handles SIGTERM itself

        def on_sigterm(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(128 + signum)

        try:
            signal.signal(signal.SIGTERM, on_sigterm)
        except ValueError:  # not the main thread (of the main interpreter): leave it be
            return
        self._previous = current

    def restore(self) -> None:
        previous, self._previous = self._previous, None
        if previous is None:
            return
        try:
            signal.signal(signal.SIGTERM, previous)
        except ValueError:  # stopped from another thread: only the main thread may restore it
            return
