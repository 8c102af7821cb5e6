"""What a request through the proxy is charged: the closed spans the sidecar keeps, and the
pooled rule (docs/serving.md, "The attribution rule"). Pure arithmetic over the spans the
sidecar adds; the sidecar holds the lock and counts the requests.

A request is charged at the *pooled* rates of the recent spans: the energy of the spans that
closed within the rate window of the latest one (the latest always), and of any older span
the request ran over, taken together, over the tokens the engine counted in them together.
Its range spans the lowest and highest rates of those spans one by one.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from carbonledger.errors import InputError
from carbonledger.integrations.serving.attribution import Carbon, Energy, Rates, sharing_rates
from carbonledger.integrations.serving.counters import Amounts

__all__ = ["Charge", "Span", "SpanBook"]

#: closed spans kept for the proxy's ranges (about a day at 10 s intervals)
SPAN_HISTORY = 8192


@dataclass(frozen=True)
class Charge:
    """The energy a request through the proxy is charged (J), its range, its CO2e (g) and how
    it was obtained (``method``; ``measured``: every device behind the rates was measured)."""

    energy_j: float
    low_j: float
    high_j: float
    co2e_g: float
    co2e_low_g: float
    co2e_high_g: float
    measured: bool
    split: str
    rates_age_s: float
    method: str

    def usage_fields(self) -> dict[str, Any]:
        """What the proxy adds to a response's ``usage``."""
        return {
            "energy_j": self.energy_j,
            "co2e_g": self.co2e_g,
            "energy_details": {
                "low_j": self.low_j,
                "high_j": self.high_j,
                "co2e_low_g": self.co2e_low_g,
                "co2e_high_g": self.co2e_high_g,
                "measured": self.measured,
                "split": self.split,
                "rates_age_s": self.rates_age_s,
                "method": self.method,
            },
        }


@dataclass(frozen=True)
class Span:
    """A closed span the proxy may charge at: when (sidecar clock, s), its energy, what the
    engine counted over it, and its rates."""

    start_s: float
    end_s: float
    energy: Energy
    amounts: Amounts
    rates: Rates


class SpanBook:
    """The closed spans (the newest :data:`SPAN_HISTORY`) and the charge of a request at
    their pooled rates over ``window_s`` seconds (0: the latest span's rates alone)."""

    def __init__(self, window_s: float) -> None:
        if not (
            isinstance(window_s, int | float)
            and not isinstance(window_s, bool)
            and math.isfinite(window_s)
            and window_s >= 0
        ):
            raise InputError(
                f"the rate window (--rate-window) must be a number of seconds >= 0 (0: the "
                f"latest span's rates alone), got {window_s!r}"
            )
        self.window_s = float(window_s)
        self._spans: deque[Span] = deque(maxlen=SPAN_HISTORY)

    def add(self, span: Span) -> None:
        self._spans.append(span)

    def charge(
        self,
        input_tokens: float,
        output_tokens: float,
        started_s: float,
        ended_s: float,
        carbon: Carbon,
        engine: str,
    ) -> Charge | None:
        """The charge of a request of ``input_tokens`` and ``output_tokens`` that ran from
        ``started_s`` to ``ended_s``, its CO2e at ``carbon``; None before any span closed."""
        if not self._spans:
            return None
        latest = self._spans[-1]
        window_from = latest.end_s - self.window_s
        seen: list[Span] = []
        for span in reversed(self._spans):  # newest first
            if span is latest or span.end_s >= window_from:
                seen.append(span)
            elif span.end_s < started_s:
                break
            elif span.start_s <= ended_s:  # the request ran over it
                seen.append(span)
        rates = _pooled_rates(seen)
        central = rates.charge(input_tokens, output_tokens)
        charges = [central, *(s.rates.charge(input_tokens, output_tokens) for s in seen)]
        low = min(c.low_j for c in charges)
        high = max(c.high_j for c in charges)
        co2e = carbon.co2e(central.energy_j, low, high)
        return Charge(
            energy_j=central.energy_j,
            low_j=low,
            high_j=high,
            co2e_g=co2e.co2e_g,
            co2e_low_g=co2e.low_g,
            co2e_high_g=co2e.high_g,
            measured=all(_rates_measured(s.rates) for s in seen),
            split=rates.split,
            rates_age_s=max(0.0, ended_s - latest.end_s),
            method=(
                f"{engine} interval share: the request's tokens at the J per input and "
                f"output token of the latest {len(seen)} span(s) pooled ({rates.split} split)"
            ),
        )


def _pooled_rates(spans: list[Span]) -> Rates:
    """The rates of ``spans`` taken together: their energy over their tokens. Pooling keeps
    the charge from following one span's few tokens (a span's rate is energy / tokens, and
    charging the next span's tokens at it over-charges on average whenever the token count
    varies from span to span)."""
    energy = Energy()
    amounts = Amounts()
    for span in spans:
        energy += span.energy
        amounts.merge(span.amounts)
    rates = sharing_rates(energy, amounts)
    if rates is None:  # each span had rates, so together they have too; kept for the types
        return spans[0].rates
    return rates


def _rates_measured(rates: Rates) -> bool:
    return rates.input_j.low == rates.input_j.high and rates.output_j.low == rates.output_j.high
