"""The one exception hierarchy of carbonledger.

::

    CarbonLedgerError                 base of everything we raise
    ├── InputError (ValueError)       bad input from the caller: fix the argument (CLI exit 2)
    │   └── UnknownNameError          an unknown zone / accelerator / CPU name, with suggestions
    ├── StateError (RuntimeError)     a call in the wrong order (stop() before start(), ...)
    ├── SensorError                   a hardware counter could not be read
    └── LedgerError                   storage could not be opened, read or written (CLI exit 1)
        └── IntegrityError            a sealed record was modified, deleted, inserted or reordered

The library raises; only the command line turns an error into a message and an exit code.
Every error carries a message that says what was wrong and what to do next.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "CarbonLedgerError",
    "InputError",
    "IntegrityError",
    "LedgerError",
    "SensorError",
    "StateError",
    "UnknownNameError",
]


class CarbonLedgerError(Exception):
    """Base class of every error carbonledger raises on purpose."""

    #: exit code the command line uses for this error
    exit_code: int = 1


class InputError(CarbonLedgerError, ValueError):
    """The caller passed something invalid (a value, a file, a name). Exit code 2."""

    exit_code = 2


class UnknownNameError(InputError):
    """A name (zone, accelerator, CPU...) is not known; ``suggestions`` lists close matches."""

    def __init__(
        self, kind: str, name: str, suggestions: Sequence[str] = (), hint: str = ""
    ) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = tuple(suggestions)
        msg = f"unknown {kind} {name!r}"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        if hint:
            msg += f" {hint}"
        super().__init__(msg)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.kind, self.name, self.suggestions))


class StateError(CarbonLedgerError, RuntimeError):
    """A method was called in an order that makes no sense (e.g. ``stop()`` before ``start()``)."""

    exit_code = 2


class SensorError(CarbonLedgerError):
    """A hardware sensor failed to read. Sensors that cannot work at all are *unavailable*
    (see :class:`carbonledger.models.SensorInfo`) rather than raising this."""


class LedgerError(CarbonLedgerError):
    """The ledger could not be opened, read or written."""


class IntegrityError(LedgerError):
    """The ledger's sealed records do not verify."""
