"""Embodied (manufacturing) carbon of the hardware, amortised over the run.

A device's manufacturing footprint is spread linearly over its lifetime, and a run is
charged its share::

    co2e_g = manufacturing_g x quantity x share x duration_s / (lifetime_years x 1 year)

Figures come from ``embodied.csv``: Cloud Carbon Footprint's server model (1,000 kgCO2e
per server with one CPU and 16 GB, +100 kg per extra CPU, +150 kg per GPU, 533 kg per
384 GB of DRAM, 4-year life), LLMCarbon's SSD figure per TB, and, for GPU models with a
known die area, Green Algorithms' card model (26.97 kg + 1.97 kg per cm2 of die). It is
reported apart from operational emissions, never added to them silently.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from carbonledger.carbon._tables import read_table
from carbonledger.errors import InputError
from carbonledger.units import G_PER_KG, NAN, isfinite

__all__ = [
    "DEVICE_KINDS",
    "SECONDS_PER_YEAR",
    "EmbodiedDevice",
    "EmbodiedItem",
    "EmbodiedResult",
    "embodied_co2e_g",
]

DEVICE_KINDS = ("gpu", "cpu", "ram_gb", "ssd_tb", "server")
SECONDS_PER_YEAR = 365.25 * 86400.0
METHOD = "linear amortisation: manufacturing CO2e x quantity x share x duration / lifetime"


@dataclass(frozen=True)
class EmbodiedDevice:
    """One kind of hardware: ``kind`` is one of ``gpu``, ``cpu``, ``ram_gb`` (quantity in
    GB), ``ssd_tb`` (quantity in TB) or ``server`` (a chassis with its first CPU and
    16 GB); ``model`` names it (a GPU model selects a per-model figure)."""

    kind: str
    model: str = ""
    quantity: float = 1.0


@dataclass(frozen=True)
class EmbodiedItem:
    """One device's share: the figure used, its source and the lifetime applied."""

    kind: str
    model: str
    quantity: float
    #: manufacturing footprint of ``quantity`` units, grams CO2e
    manufacturing_co2e_g: float
    lifetime_years: float
    #: the share charged to this run, grams CO2e
    co2e_g: float
    #: "die area ..." for a per-model GPU figure, "generic" otherwise
    method: str
    #: the table entry matched ("" for a generic figure)
    matched: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "model": self.model,
            "quantity": self.quantity,
            "manufacturing_co2e_g": self.manufacturing_co2e_g,
            "lifetime_years": self.lifetime_years,
            "co2e_g": self.co2e_g,
            "method": self.method,
            "matched": self.matched,
            "source": self.source,
        }


@dataclass(frozen=True)
class EmbodiedResult:
    """Embodied CO2e charged to a run, with the per-device breakdown."""

    co2e_g: float
    devices: tuple[EmbodiedItem, ...]
    duration_s: float
    share: float
    method: str = METHOD

    def to_dict(self) -> dict[str, Any]:
        return {
            "co2e_g": self.co2e_g,
            "duration_s": self.duration_s,
            "share": self.share,
            "method": self.method,
            "devices": [d.to_dict() for d in self.devices],
        }


DeviceSpec = EmbodiedDevice | str | tuple[str, str] | tuple[str, str, float]


@dataclass(frozen=True)
class _Figure:
    kind: str
    model: str
    tokens: tuple[str, ...]
    co2e_kg: float
    lifetime_years: float
    method: str
    source: str


_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def _tokens(text: str) -> tuple[str, ...]:
    """The runs of ASCII letters and digits of ``text``, lower-cased ("H100-SXM5" -> h100, sxm5)."""
    chars = [c if c in _WORD_CHARS else " " for c in text.lower()]
    return tuple("".join(chars).split())


@functools.cache
def _figures() -> tuple[dict[str, _Figure], tuple[_Figure, ...]]:
    """(generic figure by kind, per-model GPU figures)."""
    generic: dict[str, _Figure] = {}
    models: list[_Figure] = []
    for row in read_table("embodied.csv"):
        fig = _Figure(
            kind=row["kind"],
            model=row["model"],
            tokens=_tokens(row["match"]),
            co2e_kg=float(row["co2e_kg"]),
            lifetime_years=float(row["lifetime_years"]),
            method=row["method"],
            source=f"{row['source']} ({row['year']}, {row['licence']})",
        )
        if fig.tokens:
            models.append(fig)
        else:
            generic[fig.kind] = fig
    return generic, tuple(models)


def _contains(haystack: tuple[str, ...], needle: tuple[str, ...]) -> bool:
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def _gpu_figure(model: str) -> _Figure | None:
    """The per-model figure whose name tokens appear, in order, in ``model``; the longest
    match wins (``RTX 2080 Ti`` over ``RTX 2080``)."""
    words = _tokens(model)
    if not words:
        return None
    matches = [f for f in _figures()[1] if _contains(words, f.tokens)]
    return max(matches, key=lambda f: len(f.tokens)) if matches else None


def _device(spec: Any) -> EmbodiedDevice:
    if isinstance(spec, EmbodiedDevice):
        device = spec
    elif isinstance(spec, str):
        device = EmbodiedDevice(spec)
    elif isinstance(spec, tuple) and len(spec) in (2, 3):
        kind, model = str(spec[0]), str(spec[1] or "")
        if len(spec) == 3:
            device = EmbodiedDevice(kind, model, spec[2])
        elif kind in ("ram_gb", "ssd_tb") and _is_number(model):
            device = EmbodiedDevice(kind, "", float(model))  # ("ram_gb", "512")
        else:
            device = EmbodiedDevice(kind, model)
    else:
        raise InputError(
            f"embodied device {spec!r}: give (kind, model), (kind, model, quantity) or an "
            "EmbodiedDevice"
        )
    kind = device.kind.strip().lower()
    if kind not in DEVICE_KINDS:
        raise InputError(
            f"unknown embodied device kind {device.kind!r}; use one of: {', '.join(DEVICE_KINDS)}"
        )
    try:
        quantity = float(device.quantity)
    except (TypeError, ValueError):
        quantity = NAN
    if not isfinite(quantity) or quantity < 0:
        raise InputError(f"embodied device {spec!r}: quantity must be a number >= 0")
    return EmbodiedDevice(kind, device.model.strip(), quantity)


def _is_number(text: str) -> bool:
    try:
        return isfinite(float(text))
    except ValueError:
        return False


def _positive(value: Any, what: str, *, allow_zero: bool) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = NAN
    if not isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{what} must be a finite number {bound}, got {value!r}")
    return number


def embodied_co2e_g(
    devices: Sequence[DeviceSpec],
    *,
    duration_s: float,
    share: float = 1.0,
    lifetime_years: float | None = None,
) -> EmbodiedResult:
    """Embodied CO2e (grams) of ``devices`` charged to ``duration_s`` seconds of use.

    ``devices``: ``(kind, model)`` tuples (e.g. ``("gpu", "NVIDIA H100 80GB HBM3")``,
    ``("server", "")``), ``(kind, model, quantity)`` or :class:`EmbodiedDevice`; for
    ``ram_gb``/``ssd_tb`` the quantity is in GB/TB (``("ram_gb", "512")`` also works).
    ``share`` (0..1] is the fraction of the hardware reserved for this work (e.g. 2 of
    8 GPUs on a shared server: 0.25 of the server). ``lifetime_years`` overrides every
    device's table lifetime. A GPU model with a known die area gets its own figure, any
    other GPU the generic per-GPU figure.
    """
    duration = _positive(duration_s, "duration_s", allow_zero=True)
    portion = _positive(share, "share", allow_zero=False)
    if portion > 1:
        raise InputError(f"share must be in (0, 1], got {share!r}")
    life_override = (
        None
        if lifetime_years is None
        else _positive(lifetime_years, "lifetime_years", allow_zero=False)
    )
    if isinstance(devices, (str, EmbodiedDevice)):
        raise InputError("devices must be a sequence, e.g. [('gpu', 'H100'), ('server', '')]")
    generic, _ = _figures()
    items: list[EmbodiedItem] = []
    for spec in devices:
        device = _device(spec)
        figure = _gpu_figure(device.model) if device.kind == "gpu" else None
        matched = figure.model if figure is not None else ""
        figure = figure or generic[device.kind]
        life = life_override if life_override is not None else figure.lifetime_years
        manufacturing = figure.co2e_kg * G_PER_KG * device.quantity
        charged = manufacturing * portion * duration / (life * SECONDS_PER_YEAR)
        items.append(
            EmbodiedItem(
                kind=device.kind,
                model=device.model,
                quantity=device.quantity,
                manufacturing_co2e_g=manufacturing,
                lifetime_years=life,
                co2e_g=charged,
                method=figure.method,
                matched=matched,
                source=figure.source,
            )
        )
    return EmbodiedResult(
        co2e_g=sum(i.co2e_g for i in items),
        devices=tuple(items),
        duration_s=duration,
        share=portion,
    )
