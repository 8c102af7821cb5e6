"""The per-device bands of a training estimate: model FLOPs, device-seconds (from the
given device-hours, the given MFU or the utilisation prior), average power per device and
embodied CO2e, each with the note that says where it came from (:mod:`.estimate` assembles
them)."""

from __future__ import annotations

from typing import NamedTuple

from carbonledger.predict.flops import training_flops
from carbonledger.predict.hardware import Accelerator, EmbodiedConstants
from carbonledger.predict.priors import Priors

__all__ = [
    "HOURS_PER_YEAR",
    "Band",
    "avg_power",
    "device_seconds",
    "embodied_tonnes",
    "fmt",
    "model_flops_of",
]

HOURS_PER_YEAR = 365.25 * 24


def fmt(x: float) -> str:
    """A number in 3 significant figures, scientific above a million."""
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        text = f"{x:.3g}"
        if "e" not in text:
            return text
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{x:,.3g}" if abs(x) < 1000 else f"{x:,.0f}"


class Band(NamedTuple):
    """A median with its 80% interval and the log-spread behind it (0 when measured)."""

    median: float
    low: float
    high: float
    sigma: float


def model_flops_of(
    flops_given: float | None,
    active: float,
    n_tokens: float,
    measured: list[str],
    notes: list[str],
) -> float:
    """The model FLOPs: given, or 6 x active parameters x tokens."""
    if flops_given is not None:
        measured.append("flops")
        notes.append(f"model FLOPs given: {fmt(flops_given)}")
        return flops_given
    model_flops = training_flops(active, n_tokens)
    notes.append(
        f"model FLOPs = 6 x {fmt(active)} active parameters x {fmt(n_tokens)} tokens = "
        f"{fmt(model_flops)} (attention-score FLOPs not counted)"
    )
    return model_flops


def device_seconds(
    acc: Accelerator,
    n_devices: int,
    model_flops: float,
    r: float,
    recompute: str,
    hours_given: float | None,
    mfu_given: float | None,
    pri: Priors,
    measured: list[str],
    notes: list[str],
) -> tuple[float, Band]:
    """(device-seconds, FLOP utilisation): from the given device-hours, else the given
    MFU, else the utilisation prior (with the recomputation factor ``r``)."""
    if hours_given is not None:
        seconds = hours_given * 3600.0
        u = model_flops / (seconds * acc.peak_flops)
        measured.append("device_hours")
        notes.append(f"device-hours given: {fmt(hours_given)} (implied MFU {u:.3f})")
        if mfu_given is not None:
            notes.append(f"MFU {mfu_given:g} given too: not used, the device-hours decide")
        return seconds, Band(u, u, u, 0.0)
    if mfu_given is not None:
        u = mfu_given
        seconds = model_flops / (u * acc.peak_flops)
        measured.append("mfu")
        notes.append(f"MFU given: {u:g} of the {acc.peak_tflops:g} TFLOP/s dense peak")
        return seconds, Band(u, u, u, 0.0)
    prior = pri.utilisation(acc, n_devices)
    u, u_lo, u_hi = prior.median, prior.low, prior.high
    seconds = model_flops * r / (u * acc.peak_flops)
    notes.append(
        f"FLOP utilisation prior: median {u:.3f} (80%: {u_lo:.3f}-{u_hi:.3f}) of peak; {prior.basis}"
    )
    if r != 1.0:
        notes.append(f"activation recomputation '{recompute}': hardware FLOPs x {r:.3f}")
    else:
        notes.append("no activation recomputation (recompute='none')")
    return seconds, Band(u, u_lo, u_hi, prior.sigma)


def avg_power(
    acc: Accelerator,
    power_given: float | None,
    pri: Priors,
    measured: list[str],
    notes: list[str],
) -> Band:
    """Average system power per device, W: given, or the power-share prior x TDP."""
    if power_given is not None:
        measured.append("avg_power_w")
        notes.append(f"average power per device given: {fmt(power_given)} W")
        return Band(power_given, power_given, power_given, 0.0)
    sp = pri.power_share(acc)
    p, p_lo, p_hi = sp.median * acc.tdp_w, sp.low * acc.tdp_w, sp.high * acc.tdp_w
    notes.append(
        f"average system power per device (device + host share): {sp.median:.2f} x TDP "
        f"{acc.tdp_w:g} W = {fmt(p)} W (80%: {fmt(p_lo)}-{fmt(p_hi)} W); {sp.basis}"
    )
    return Band(p, p_lo, p_hi, sp.sigma)


def embodied_tonnes(
    acc: Accelerator, consts: EmbodiedConstants, hours: float, life: float, notes: list[str]
) -> float:
    """Embodied tonnes CO2e of ``hours`` device-hours over a ``life``-year hardware life."""
    per_device_kg = acc.embodied_kg
    parts = acc.embodied_breakdown_kg()
    node, cpa = consts.node_cpa(acc.process_nm)
    notes.append(
        f"embodied: {per_device_kg:.0f} kgCO2e per device (die {acc.die_area_cm2:g} cm2 x "
        f"{cpa:g} kg/cm2 at {node} nm = {parts['die']:.1f}; {acc.memory_gb:g} GB memory x "
        f"{consts.memory_kg_per_gb:g} kg/GB = {parts['memory']:.1f}; host share "
        f"{parts['host_share']:.1f} = {consts.host_kg:g} kg / {acc.devices_per_host} devices; "
        f"LLMCarbon) over a {life:g}-year life, amortised by device-hours"
    )
    if acc.estimated_fields:
        notes.append(f"{acc.name}: {', '.join(acc.estimated_fields)} not published, assumed")
    notes.append("every device busy for the whole run (idle or failed capacity not counted)")
    return per_device_kg * hours / (life * HOURS_PER_YEAR) / 1000.0
