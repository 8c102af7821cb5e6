"""The live status line of ``run`` and ``monitor``: shown on a terminal only.

One line on stderr, redrawn each interval: elapsed time, power by component (over the last
interval), energy, CO2e and the measured share. Nothing is drawn when stderr is not a
terminal (pipes, files, CI logs), so captured output stays clean.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any, TextIO

from carbonledger.models import RunSummary
from carbonledger.report.text import status_line

__all__ = ["LiveStatus", "status_line"]


class LiveStatus:
    """Redraw :func:`status_line` of ``summary()`` every ``interval_s`` on ``stream`` (stderr)
    while started, when that stream is a terminal; a no-op otherwise."""

    def __init__(
        self,
        summary: Callable[[], RunSummary],
        interval_s: float,
        stream: TextIO | None = None,
    ) -> None:
        self._summary = summary
        self._interval_s = max(float(interval_s), 0.1)
        self._stream = stream if stream is not None else sys.stderr
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: Any = None

    @property
    def enabled(self) -> bool:
        """True when the stream is a terminal."""
        isatty = getattr(self._stream, "isatty", None)
        return bool(isatty and isatty())

    def _open(self) -> None:
        from rich.console import Console
        from rich.live import Live

        console = Console(file=self._stream, force_terminal=True)
        self._live = Live("", console=console, auto_refresh=False, transient=True)
        self._live.start()

    def show(self, text: str) -> None:
        """Draw ``text`` now (for a caller with its own loop, like ``monitor``)."""
        if not self.enabled:
            return
        if self._live is None:
            self._open()
        self._live.update(text, refresh=True)

    def start(self) -> LiveStatus:
        """Redraw from a thread of its own every interval (for ``run``)."""
        if not self.enabled:
            return self
        self._open()
        self._thread = threading.Thread(target=self._loop, name="carbonledger-status", daemon=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        previous: RunSummary | None = None
        while not self._stop.wait(self._interval_s):
            try:
                current = self._summary()
            except Exception:  # the status line never stops the work
                continue
            self._live.update(status_line(current, previous), refresh=True)
            previous = current

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._live is not None:
            self._live.stop()
            self._live = None
