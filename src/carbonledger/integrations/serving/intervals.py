"""One interval of the serving sidecar: its report (energy, what the engine counted, what was
decided), a window's energy with its range, and the metrics an interval's window records
(see :mod:`.sidecar`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from carbonledger.integrations.serving.attribution import Energy, SpanFigures
from carbonledger.integrations.serving.counters import Amounts, Delta

if TYPE_CHECKING:
    from carbonledger.models import WindowSummary

__all__ = ["IntervalReport", "State", "window_energy", "window_metrics"]

State = Literal["busy", "waiting", "idle", "no-data", "baseline"]

#: the longest a model name may be to get metrics of its own in a window
_MAX_MODEL_CHARS = 150


def window_energy(window: WindowSummary) -> Energy:
    """A window's energy (J), its range and the part that was measured."""
    low = high = measured = 0.0
    for c in window.components:
        low += c.low_j if c.low_j is not None else c.energy_j
        high += c.high_j if c.high_j is not None else c.energy_j
        measured += c.energy_j if c.measured else 0.0
    return Energy(window.energy_j, low, high, measured)


@dataclass(frozen=True)
class IntervalReport:
    """One interval: its energy, what the engine counted at its end, what was decided.

    ``amounts`` are what the scrape at the interval's end counted (over the whole gap when
    earlier scrapes failed); ``span`` the figures of the span this interval closed (busy
    intervals only). Times in seconds, energy in joules.
    """

    index: int
    window: str
    started_unix_s: float
    duration_s: float
    energy: Energy
    state: State
    scrape_ok: bool
    scrape_error: str
    scrape_s: float
    amounts: Amounts
    models: Mapping[str, Amounts]
    running_requests: float | None
    restarted: bool
    resets: tuple[str, ...]
    missing: tuple[str, ...]
    span: SpanFigures | None

    @property
    def idle_power_w(self) -> float | None:
        if self.state != "idle" or not self.duration_s > 0:
            return None
        return self.energy.energy_j / self.duration_s

    def to_dict(self) -> dict[str, Any]:
        a = self.amounts
        return {
            "index": self.index,
            "window": self.window,
            "started_unix_s": self.started_unix_s,
            "duration_s": self.duration_s,
            **self.energy.to_dict(),
            "state": self.state,
            "scrape_ok": self.scrape_ok,
            "scrape_error": self.scrape_error,
            "scrape_s": self.scrape_s,
            "input_tokens": a.input_tokens,
            "output_tokens": a.output_tokens,
            "requests": a.requests,
            "prefill_s": a.prefill_s,
            "decode_s": a.decode_s,
            "running_requests": self.running_requests,
            "restarted": self.restarted,
            "resets": list(self.resets),
            "missing": list(self.missing),
            "idle_power_w": self.idle_power_w,
            "span": None if self.span is None else self.span.to_dict(),
        }


def window_metrics(delta: Delta | None, running: float | None, error: str) -> dict[str, float]:
    """A window's metrics: what the scrape at its end counted (``input_tokens``,
    ``output_tokens``, ``requests``, phase seconds when exported), ``scrape_ok``, running
    requests, restarts and resets when there were any, and per model
    (``model/<name>/output_tokens``...) when the engine serves several."""
    out: dict[str, float] = {"scrape_ok": 0.0 if delta is None else 1.0}
    if delta is None or delta.baseline:
        return out
    total = delta.total()
    out["input_tokens"] = total.input_tokens
    out["output_tokens"] = total.output_tokens
    out["requests"] = total.requests
    if total.prefill_s is not None:
        out["prefill_s"] = total.prefill_s
    if total.decode_s is not None:
        out["decode_s"] = total.decode_s
    if running is not None:
        out["running_requests"] = running
    if delta.restarted:
        out["engine_restarts"] = 1.0
    if delta.resets:
        out["counter_resets"] = float(len(delta.resets))
    if len(delta.models) > 1:
        for model, a in delta.models.items():
            if model and len(model) <= _MAX_MODEL_CHARS:
                out[f"model/{model}/input_tokens"] = a.input_tokens
                out[f"model/{model}/output_tokens"] = a.output_tokens
                out[f"model/{model}/requests"] = a.requests
    return out
