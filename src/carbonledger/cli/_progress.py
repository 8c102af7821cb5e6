"""Progress of long operations on a terminal (nothing when stderr is not a TTY)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def progress(message: str) -> Iterator[None]:
    """Show ``message`` with a spinner on stderr while the block runs, when stderr is a
    terminal; silent otherwise (pipes, files, tests)."""
    if not sys.stderr.isatty():
        yield
        return
    from rich.console import Console

    with Console(stderr=True).status(message):
        yield
