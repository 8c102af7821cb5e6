"""Energy per token of one attribution span: pure arithmetic, no I/O.

A *span* is the energy of one or more intervals together with the tokens the engine counted
over them (the sidecar closes a span when the engine's counters moved; see
:mod:`carbonledger.integrations.serving.sidecar`). Over a span with energy ``E`` (joules),
``IN`` input tokens, ``OUT`` output tokens and ``R`` finished requests:

- ``j_per_output_token = E / OUT``, ``j_per_input_token = E / IN``, ``j_per_request = E / R``:
  each charges the span's whole energy to one kind of unit (the figures that compare
  deployments; they do not add up with each other);
- where the engine exports the seconds spent in prefill ``P`` and decode ``D``, the energy is
  split ``E_prefill = E * P / (P + D)`` and ``E_decode = E - E_prefill``, giving
  ``prefill_j_per_input_token = E_prefill / IN`` and ``decode_j_per_output_token =
  E_decode / OUT``;
- the *sharing rates* charge each token of the span: ``E_prefill / IN`` per input token and
  ``E_decode / OUT`` per output token with phase times, else ``E / (IN + OUT)`` per token
  of either kind. A model, or a request through the proxy, is charged ``in * rate_in + out *
  rate_out``; over all the span's tokens that is exactly ``E``.

A ratio with nothing to divide by is None, never a division by zero. Every energy carries its
range (``low_j``/``high_j``: equal to the figure for measured devices, the estimating models'
bounds otherwise), and every ratio the range of its energy.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from carbonledger.accounting import Co2eRange, co2e_range_g
from carbonledger.integrations.serving.counters import Amounts

__all__ = [
    "Carbon",
    "Energy",
    "ModelFigures",
    "Rates",
    "Ratio",
    "SpanFigures",
    "attribute",
    "ratio",
    "sharing_rates",
]


class Ratio(NamedTuple):
    """A figure per unit and its range (same unit), e.g. joules per output token."""

    value: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"value": self.value, "low": self.low, "high": self.high}


class Carbon(NamedTuple):
    """What turns energy into CO2e here: the facility's PUE and the grid's gCO2e/kWh."""

    pue: float
    intensity_g_per_kwh: float

    def co2e(self, energy_j: float, low_j: float, high_j: float) -> Co2eRange:
        """CO2e (g) of an energy (J) and of the two ends of its range (J)."""
        return co2e_range_g(
            energy_j, low_j, high_j, pue=self.pue, intensity_g_per_kwh=self.intensity_g_per_kwh
        )


@dataclass(frozen=True)
class Energy:
    """Joules and their range; ``measured_j`` is the part read from hardware counters."""

    energy_j: float = 0.0
    low_j: float = 0.0
    high_j: float = 0.0
    measured_j: float = 0.0

    def __add__(self, other: Energy) -> Energy:
        return Energy(
            self.energy_j + other.energy_j,
            self.low_j + other.low_j,
            self.high_j + other.high_j,
            self.measured_j + other.measured_j,
        )

    def scaled(self, share: float) -> Energy:
        return Energy(
            self.energy_j * share, self.low_j * share, self.high_j * share, self.measured_j * share
        )

    @property
    def measured(self) -> bool:
        """Whether all of it was measured (an empty energy counts as measured)."""
        return self.measured_j >= self.energy_j * (1 - 1e-9)

    def to_dict(self) -> dict[str, float]:
        return {
            "energy_j": self.energy_j,
            "energy_low_j": self.low_j,
            "energy_high_j": self.high_j,
            "measured_energy_j": self.measured_j,
        }


def ratio(energy: Energy, units: float) -> Ratio | None:
    """``energy`` per unit, with its range; None when there are no units."""
    if not units > 0:
        return None
    return Ratio(energy.energy_j / units, energy.low_j / units, energy.high_j / units)


@dataclass(frozen=True)
class Rates:
    """What a span charges per input token and per output token (J), with ranges, and how the
    energy was split between the two kinds: ``"phase-times"`` (by the engine's prefill and
    decode seconds) or ``"per-token"`` (every token alike)."""

    input_j: Ratio
    output_j: Ratio
    split: str

    def charge(self, input_tokens: float, output_tokens: float) -> Energy:
        """The energy ``input_tokens`` and ``output_tokens`` of this span are charged."""
        return Energy(
            input_tokens * self.input_j.value + output_tokens * self.output_j.value,
            input_tokens * self.input_j.low + output_tokens * self.output_j.low,
            input_tokens * self.input_j.high + output_tokens * self.output_j.high,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_j": self.input_j.to_dict(),
            "output_j": self.output_j.to_dict(),
            "split": self.split,
        }


@dataclass(frozen=True)
class ModelFigures:
    """One model's share of a span (or of the whole run): its tokens, requests and energy."""

    model: str
    input_tokens: float
    output_tokens: float
    requests: float
    energy: Energy

    @property
    def j_per_output_token(self) -> Ratio | None:
        return ratio(self.energy, self.output_tokens)

    @property
    def j_per_input_token(self) -> Ratio | None:
        return ratio(self.energy, self.input_tokens)

    @property
    def j_per_request(self) -> Ratio | None:
        return ratio(self.energy, self.requests)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "requests": self.requests,
            **self.energy.to_dict(),
            "j_per_output_token": _value(self.j_per_output_token),
            "j_per_input_token": _value(self.j_per_input_token),
            "j_per_request": _value(self.j_per_request),
        }


def _value(r: Ratio | None) -> float | None:
    return None if r is None else r.value


@dataclass(frozen=True)
class SpanFigures:
    """Energy per token, per request and per phase over one span (see the module doc)."""

    duration_s: float
    energy: Energy
    amounts: Amounts
    rates: Rates | None
    prefill_energy: Energy | None
    decode_energy: Energy | None
    co2e_g: float
    co2e_low_g: float
    co2e_high_g: float
    models: Mapping[str, ModelFigures] = field(default_factory=dict)

    @property
    def j_per_output_token(self) -> Ratio | None:
        return ratio(self.energy, self.amounts.output_tokens)

    @property
    def j_per_input_token(self) -> Ratio | None:
        return ratio(self.energy, self.amounts.input_tokens)

    @property
    def j_per_request(self) -> Ratio | None:
        return ratio(self.energy, self.amounts.requests)

    @property
    def prefill_j_per_input_token(self) -> Ratio | None:
        if self.prefill_energy is None:
            return None
        return ratio(self.prefill_energy, self.amounts.input_tokens)

    @property
    def decode_j_per_output_token(self) -> Ratio | None:
        if self.decode_energy is None:
            return None
        return ratio(self.decode_energy, self.amounts.output_tokens)

    @property
    def co2e_g_per_1k_output_tokens(self) -> Ratio | None:
        out = self.amounts.output_tokens
        if not out > 0:
            return None
        return Ratio(
            self.co2e_g * 1000 / out, self.co2e_low_g * 1000 / out, self.co2e_high_g * 1000 / out
        )

    def to_dict(self) -> dict[str, Any]:
        a = self.amounts
        return {
            "duration_s": self.duration_s,
            **self.energy.to_dict(),
            "input_tokens": a.input_tokens,
            "output_tokens": a.output_tokens,
            "requests": a.requests,
            "prefill_s": a.prefill_s,
            "decode_s": a.decode_s,
            "j_per_output_token": _dict(self.j_per_output_token),
            "j_per_input_token": _dict(self.j_per_input_token),
            "j_per_request": _dict(self.j_per_request),
            "prefill_j_per_input_token": _dict(self.prefill_j_per_input_token),
            "decode_j_per_output_token": _dict(self.decode_j_per_output_token),
            "co2e_g": self.co2e_g,
            "co2e_low_g": self.co2e_low_g,
            "co2e_high_g": self.co2e_high_g,
            "co2e_g_per_1k_output_tokens": _dict(self.co2e_g_per_1k_output_tokens),
            "rates": None if self.rates is None else self.rates.to_dict(),
            "models": {name: m.to_dict() for name, m in self.models.items()},
        }


def _dict(r: Ratio | None) -> dict[str, float] | None:
    return None if r is None else r.to_dict()


def _rates(energy: Energy, a: Amounts) -> tuple[Rates | None, Energy | None, Energy | None]:
    """The sharing rates of a span, and its prefill/decode energies when the phase times
    allow a split (both kinds of tokens present and some phase time counted)."""
    prefill_s, decode_s = a.prefill_s, a.decode_s
    if (
        prefill_s is not None
        and decode_s is not None
        and prefill_s + decode_s > 0
        and a.input_tokens > 0
        and a.output_tokens > 0
    ):
        prefill = energy.scaled(prefill_s / (prefill_s + decode_s))
        decode = Energy(
            energy.energy_j - prefill.energy_j,
            energy.low_j - prefill.low_j,
            energy.high_j - prefill.high_j,
            energy.measured_j - prefill.measured_j,
        )
        rate_in, rate_out = ratio(prefill, a.input_tokens), ratio(decode, a.output_tokens)
        assert rate_in is not None and rate_out is not None
        return Rates(rate_in, rate_out, "phase-times"), prefill, decode
    per_token = ratio(energy, a.tokens)
    if per_token is None:
        return None, None, None
    return Rates(per_token, per_token, "per-token"), None, None


def sharing_rates(energy: Energy, amounts: Amounts) -> Rates | None:
    """The sharing rates of ``energy`` over ``amounts`` (see the module doc); None when no
    token was counted."""
    return _rates(energy, amounts)[0]


def attribute(
    energy: Energy,
    duration_s: float,
    by_model: Mapping[str, Amounts],
    carbon: Carbon,
) -> SpanFigures:
    """The figures of a span of ``duration_s`` seconds that used ``energy``, during which
    the engine counted ``by_model`` (model name -> amounts); CO2e at ``carbon``."""
    total = Amounts()
    for amounts in by_model.values():
        total.merge(amounts)
    rates, prefill, decode = _rates(energy, total)
    models: dict[str, ModelFigures] = {}
    for name, a in by_model.items():
        share = rates.charge(a.input_tokens, a.output_tokens) if rates is not None else Energy()
        if rates is not None and energy.energy_j > 0:
            share = Energy(
                share.energy_j,
                share.low_j,
                share.high_j,
                energy.measured_j * share.energy_j / energy.energy_j,
            )
        models[name] = ModelFigures(name, a.input_tokens, a.output_tokens, a.requests, share)
    co2e = carbon.co2e(energy.energy_j, energy.low_j, energy.high_j)
    return SpanFigures(
        duration_s=duration_s,
        energy=energy,
        amounts=total,
        rates=rates,
        prefill_energy=prefill,
        decode_energy=decode,
        co2e_g=co2e.co2e_g,
        co2e_low_g=co2e.low_g,
        co2e_high_g=co2e.high_g,
        models=models,
    )
