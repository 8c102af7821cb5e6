"""The serving sidecar's totals over its run, and their two dict forms: the running totals
the live exporter publishes, and the whole run's figures ``carbonledger serving --json``
prints (see :mod:`.sidecar`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from carbonledger.integrations.serving.attribution import (
    Carbon,
    Energy,
    ModelFigures,
    Ratio,
    ratio,
)
from carbonledger.integrations.serving.counters import Amounts

if TYPE_CHECKING:
    from carbonledger.integrations.serving.engines import EngineSpec
    from carbonledger.models import RunSummary

__all__ = ["ModelTotal", "ServingTotals", "Totals", "co2e_of", "measured_j"]


def co2e_of(energy: Energy, carbon: Carbon) -> tuple[float, float, float]:
    """CO2e (g) of ``energy`` and its range, at the run's intensity and PUE."""
    c = carbon.co2e(energy.energy_j, energy.low_j, energy.high_j)
    return c.co2e_g, c.low_g, c.high_g


@dataclass
class ModelTotal:
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    requests: float = 0.0
    energy: Energy = field(default_factory=Energy)


@dataclass
class Totals:
    busy: Energy = field(default_factory=Energy)
    busy_duration_s: float = 0.0
    uncounted: Energy = field(default_factory=Energy)
    idle: Energy = field(default_factory=Energy)
    idle_duration_s: float = 0.0
    unattributed: Energy = field(default_factory=Energy)
    amounts: Amounts = field(default_factory=Amounts)
    # the spans with a phase split: their prefill/decode energies and tokens
    prefill: Energy = field(default_factory=Energy)
    decode: Energy = field(default_factory=Energy)
    split_input_tokens: float = 0.0
    split_output_tokens: float = 0.0
    models: dict[str, ModelTotal] = field(default_factory=dict)
    intervals: int = 0
    scrapes_failed: int = 0
    restarts: int = 0
    resets: int = 0
    missing: int = 0
    # requests the proxy charged
    proxied_requests: int = 0
    proxied_input_tokens: float = 0.0
    proxied_output_tokens: float = 0.0
    proxied_energy_j: float = 0.0
    proxied_uncharged: int = 0

    def running(self, carry: Energy, carbon: Carbon) -> dict[str, Any]:
        """The totals so far, for the live exporter (``carry``: energy not yet decided)."""
        t = self
        return {
            "busy_energy_j": t.busy.energy_j + t.uncounted.energy_j,
            "idle_energy_j": t.idle.energy_j,
            "unattributed_energy_j": t.unattributed.energy_j + carry.energy_j,
            "input_tokens": t.amounts.input_tokens,
            "output_tokens": t.amounts.output_tokens,
            "requests": t.amounts.requests,
            "busy_co2e_g": co2e_of(t.busy + t.uncounted, carbon)[0],
            "intervals": t.intervals,
            "scrapes_failed": t.scrapes_failed,
            "restarts": t.restarts,
            "resets": t.resets,
            "models": {
                name: {
                    "input_tokens": m.input_tokens,
                    "output_tokens": m.output_tokens,
                    "requests": m.requests,
                    "energy_j": m.energy.energy_j,
                }
                for name, m in t.models.items()
            },
            "proxied_requests": t.proxied_requests,
            "proxied_energy_j": t.proxied_energy_j,
        }

    def to_dict(
        self,
        summary: RunSummary,
        *,
        spec: EngineSpec,
        metrics_url: str,
        interval_s: float,
        carbon: Carbon,
        cpu_share: tuple[float, float] | None,
        warmup_intervals: int,
    ) -> dict[str, Any]:
        """The whole run's figures (what ``carbonledger serving --json`` prints): tokens,
        energy split busy / idle / unattributed, figures per token over the busy energy,
        CO2e, what failed, per model, the proxy's charges and the sidecar's own CPU."""
        t = self
        busy = t.busy + t.uncounted
        a = t.amounts
        busy_co2e = co2e_of(busy, carbon)
        per_1k = (
            None
            if not a.output_tokens > 0
            else Ratio(*(g * 1000 / a.output_tokens for g in busy_co2e))
        )
        models = {
            name: ModelFigures(name, m.input_tokens, m.output_tokens, m.requests, m.energy)
            for name, m in t.models.items()
        }
        idle_power_w = t.idle.energy_j / t.idle_duration_s if t.idle_duration_s > 0 else None
        out: dict[str, Any] = {
            "engine": spec.name,
            "metrics_url": metrics_url,
            "run_id": summary.run_id,
            "status": summary.status,
            "duration_s": summary.duration_s,
            "interval_s": interval_s,
            "intervals": t.intervals,
            "output_tokens": a.output_tokens,
            "input_tokens": a.input_tokens,
            "requests": a.requests,
            "energy_j": summary.energy_j,
            "energy_low_j": summary.energy_low_j,
            "energy_high_j": summary.energy_high_j,
            "measured_share": summary.measured_share,
            "busy_energy_j": busy.energy_j,
            "busy_energy_low_j": busy.low_j,
            "busy_energy_high_j": busy.high_j,
            "busy_duration_s": t.busy_duration_s,
            "uncounted_energy_j": t.uncounted.energy_j,
            "idle_energy_j": t.idle.energy_j,
            "idle_duration_s": t.idle_duration_s,
            "idle_power_w": idle_power_w,
            "unattributed_energy_j": t.unattributed.energy_j,
            "j_per_output_token": _ratio_fields(ratio(busy, a.output_tokens)),
            "j_per_input_token": _ratio_fields(ratio(busy, a.input_tokens)),
            "j_per_request": _ratio_fields(ratio(busy, a.requests)),
            "j_per_output_token_with_idle": _value(
                ratio(busy + t.idle + t.unattributed, a.output_tokens)
            ),
            "prefill_j_per_input_token": _ratio_fields(ratio(t.prefill, t.split_input_tokens)),
            "decode_j_per_output_token": _ratio_fields(ratio(t.decode, t.split_output_tokens)),
            "co2e_g": summary.co2e_g,
            "co2e_low_g": summary.co2e_low_g,
            "co2e_high_g": summary.co2e_high_g,
            "busy_co2e_g": busy_co2e[0],
            "co2e_g_per_1k_output_tokens": _ratio_fields(per_1k),
            "intensity_g_per_kwh": summary.intensity_g_per_kwh,
            "intensity_source": summary.intensity_source,
            "location": summary.location,
            "pue": summary.pue,
            "scrapes_failed": t.scrapes_failed,
            "engine_restarts": t.restarts,
            "counter_resets": t.resets,
            "missing_series": t.missing,
            "models": {name: m.to_dict() for name, m in models.items()},
            "components": [c.to_dict() for c in summary.components],
            "method": {
                "energy": "the devices' energy per interval (counter differences where a "
                "counter exists; estimates carry low/high), split into busy, idle and "
                "unattributed by what the engine counted",
                "per_token": "busy energy / tokens counted by the engine "
                f"({spec.title}, counted at {spec.counted_at})",
                "phase_split": spec.phase_times or "the engine exports no phase times",
            },
        }
        if cpu_share is not None:
            cpu_s, wall_s = cpu_share
            out["sidecar_cpu"] = {
                "cpu_s": cpu_s,
                "wall_s": wall_s,
                "share_of_a_core_pct": 100 * cpu_s / wall_s if wall_s > 0 else None,
                "method": "this process's CPU time (every thread; the proxy too when it runs) "
                f"from the end of interval {warmup_intervals} to the last one, measured",
            }
        if t.proxied_requests:
            out["proxy"] = {
                "requests": t.proxied_requests,
                "input_tokens": t.proxied_input_tokens,
                "output_tokens": t.proxied_output_tokens,
                "energy_j": t.proxied_energy_j,
                "uncharged_requests": t.proxied_uncharged,
            }
        return out


@dataclass(frozen=True)
class ServingTotals:
    """The whole run: tokens, requests and energy split into busy / idle / unattributed,
    the figures per token over the busy energy, and the run's summary (CO2e of everything).
    See :meth:`to_dict` for the fields."""

    engine: str
    metrics_url: str
    summary: RunSummary
    totals: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.totals)


def measured_j(summary: RunSummary) -> float:
    return sum(c.energy_j for c in summary.components if c.measured)


def _value(r: Ratio | None) -> float | None:
    return None if r is None else r.value


def _ratio_fields(r: Ratio | None) -> dict[str, float] | None:
    return None if r is None else r.to_dict()
