"""Frozen value types shared by every layer.

Names carry their units (``energy_j``, ``power_w``, ``duration_s``, ``co2e_g``).
Every energy figure says how it was obtained: ``method`` names the source
(``rapl``, ``nvml-energy``, ``nvml-power``, ``amdsmi-energy``, ``tdp-model``,
``ram-model``...), ``measured`` is true only for a hardware counter or a hardware
power reading, and estimates carry a ``low_j``/``high_j`` range.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from carbonledger.errors import InputError
from carbonledger.units import NAN, g_to_kg, j_to_kwh

#: longest project, experiment, run id, tag or metric name (characters), everywhere
MAX_NAME_CHARS = 200


_DIGITS = re.compile(r"\d+")


def window_pattern(path: str) -> str:
    """The pattern a window's path belongs to: every run of digits as ``#``
    (``"epoch-3/step-120"`` -> ``"epoch-#/step-#"``), so that a million steps make one line
    of statistics."""
    return _DIGITS.sub("#", path)


def check_name_length(value: str, what: str) -> None:
    """:class:`InputError` for a name longer than :data:`MAX_NAME_CHARS` characters."""
    if len(value) > MAX_NAME_CHARS:
        raise InputError(
            f"{what} is {len(value)} characters long; at most {MAX_NAME_CHARS} are allowed "
            f"(it starts {value[:40]!r}); give a shorter one (long descriptions fit in a "
            "tag's value or the command line)"
        )


#: what a device's energy is counted as. ``cpu``, ``gpu`` and ``ram`` are CodeCarbon's three;
#: a system-on-chip reports its parts apart where it can (its CPU cores as ``cpu``, its GPU as
#: ``gpu``), and the parts that are neither: ``npu`` a neural engine (Apple's ANE), ``soc`` a
#: power rail that covers several parts at once and cannot be split (a Jetson's
#: VDD_CPU_GPU_CV).
Component = Literal["cpu", "gpu", "ram", "npu", "soc"]
#: every :data:`Component`, in the order reports list them
COMPONENTS: tuple[Component, ...] = ("cpu", "gpu", "ram", "npu", "soc")
Scope = Literal["process", "machine"]
RunStatus = Literal["running", "completed", "interrupted", "failed"]
#: what a reader says of a run: its :data:`RunStatus`, or ``damaged`` when the ledger's rows
#: of the run cannot be read (edited, truncated, out of range); such a summary has no
#: components, NaN CO2e and the reason in ``errors``. Never written: a reader's mark.
SummaryStatus = Literal["running", "completed", "interrupted", "failed", "damaged"]

__all__ = [
    "COMPONENTS",
    "MAX_NAME_CHARS",
    "Component",
    "ComponentEnergy",
    "MemberRecord",
    "Reading",
    "RunRecord",
    "RunStatus",
    "RunSummary",
    "Sample",
    "Scope",
    "SensorInfo",
    "SummaryStatus",
    "WindowSummary",
    "check_name_length",
    "window_pattern",
]


@dataclass(frozen=True)
class SensorInfo:
    """What a sensor is, and whether it works here.

    ``device`` is unique on one host (``cpu:package-0``, ``gpu:0``, ``ram``).
    ``host_wide`` devices (CPU packages, RAM in machine scope) are shared by every
    process of the host, so in a multi-process run only one process per host counts
    them; per-device ones (a GPU) are counted by the process that owns them.
    """

    component: Component
    device: str
    method: str
    measured: bool
    available: bool = True
    #: hardware model name when known, e.g. "Intel(R) Xeon(R) Gold 6248" or "NVIDIA H100 80GB HBM3"
    model: str = ""
    #: why it is unavailable, or notes on how it reads (e.g. "no energy counter: power integrated")
    reason: str = ""
    #: how to make it work when unavailable
    fix: str = ""
    host_wide: bool = False
    #: a stable id across processes (GPU UUID, ...); empty when the device name suffices
    uid: str = ""
    #: the system-on-chip whose one reading this device is a part of (``"apple"``), so its
    #: parts are known to be one chip (no discrete card's manufacturing, for instance);
    #: empty for a device read on its own
    soc: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)  # made for every sensor read of every tick
class Reading:
    """One read of a sensor: *cumulative* energy since the sensor was created.

    Counter sensors return the unwrapped counter; power-based sensors integrate
    power between reads; model sensors integrate their model. So the energy of a
    window is always ``end.energy_j - begin.energy_j``. ``low_j``/``high_j`` are the
    cumulative bounds of an estimate (None for measurements).
    """

    time_s: float
    energy_j: float
    power_w: float | None = None
    low_j: float | None = None
    high_j: float | None = None


@dataclass(frozen=True)
class ComponentEnergy:
    """Energy of one device over one interval, with how it was obtained."""

    component: Component
    device: str
    method: str
    measured: bool
    energy_j: float
    duration_s: float
    low_j: float | None = None
    high_j: float | None = None
    model: str = ""
    host: str = ""

    @property
    def energy_kwh(self) -> float:
        """Energy in kilowatt-hours."""
        return j_to_kwh(self.energy_j)

    @property
    def power_w(self) -> float:
        """Mean power in watts over the interval (0 for an empty interval)."""
        return self.energy_j / self.duration_s if self.duration_s > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "component": self.component,
            "device": self.device,
            "model": self.model,
            "host": self.host,
            "method": self.method,
            "measured": self.measured,
            "energy_j": self.energy_j,
            "energy_kwh": self.energy_kwh,
            "power_w": self.power_w,
            "duration_s": self.duration_s,
        }
        if not self.measured:
            d["low_j"] = self.low_j if self.low_j is not None else self.energy_j
            d["high_j"] = self.high_j if self.high_j is not None else self.energy_j
        return d


@dataclass(frozen=True, slots=True)  # made every sampler tick
class Sample:
    """A point of the power/energy time series, as stored in the ledger.

    ``energy_j`` is cumulative for this device since the member joined the run, so the
    latest sample of each device is its energy so far (used for interrupted runs).
    """

    time_unix_s: float
    component: Component
    device: str
    energy_j: float
    power_w: float | None = None
    host: str = ""
    #: cumulative bounds of an estimate (None for measurements)
    low_j: float | None = None
    high_j: float | None = None


@dataclass(frozen=True, repr=False)
class WindowSummary:
    """Energy of a named window (an epoch, a request...). ``path`` joins nested names with '/'.

    ``repr()`` is one readable line and notebooks show a small table (``_repr_html_``),
    written by the report's formatter."""

    name: str
    path: str
    started_unix_s: float
    duration_s: float
    components: tuple[ComponentEnergy, ...]
    co2e_g: float | None = None
    #: figures of the window's own (tokens, requests, samples...): name -> a finite number
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def energy_j(self) -> float:
        return sum(c.energy_j for c in self.components)

    @property
    def energy_kwh(self) -> float:
        return j_to_kwh(self.energy_j)

    def __repr__(self) -> str:
        from carbonledger.report.text import summary_repr

        return summary_repr(self)

    def _repr_html_(self) -> str:
        from carbonledger.report.html import summary_card

        return summary_card(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "started_unix_s": self.started_unix_s,
            "duration_s": self.duration_s,
            "energy_j": self.energy_j,
            "energy_kwh": self.energy_kwh,
            "co2e_g": self.co2e_g,
            "components": [c.to_dict() for c in self.components],
            **({"metrics": dict(self.metrics)} if self.metrics else {}),
        }


@dataclass(frozen=True, repr=False)
class RunSummary:
    """The footprint of a run (or a run so far), as :func:`carbonledger.accounting.account`
    makes it.

    ``repr()`` is one readable line (energy, measured share, CO2e with its range, duration)
    and notebooks show a small table (``_repr_html_``), written by the report's formatter;
    :meth:`to_dict` has every field.

    ``co2e_g`` is operational (location-based) emissions in grams = energy x PUE x
    intensity; ``co2e_low_g``/``co2e_high_g`` propagate the estimated components' ranges.
    All three are values set by the accounting step (a summary built by hand without them
    holds NaN, never a figure nobody computed). Embodied (manufacturing) carbon is reported
    apart in ``embodied_co2e_g`` and never added to ``co2e_g``. ``market_co2e_g`` is set
    when a contractual factor is given.

    ``water_l`` is the data centre's on-site water consumption in litres (IT energy x
    ``wue_l_per_kwh``, the WUE named by ``water_source``) and ``electricity_cost`` the
    electricity's cost in ``currency`` (facility energy x ``price_per_kwh``, named by
    ``cost_source``); each is None when no WUE or price is known (unknown, never zero).
    """

    run_id: str
    project: str
    experiment: str
    status: SummaryStatus
    started_unix_s: float
    duration_s: float
    components: tuple[ComponentEnergy, ...]
    intensity_g_per_kwh: float
    intensity_source: str
    location: str
    location_source: str
    pue: float
    pue_source: str
    windows: tuple[WindowSummary, ...] = ()
    errors: tuple[str, ...] = ()
    embodied_co2e_g: float | None = None
    market_co2e_g: float | None = None
    scope: str = "process"
    hosts: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    #: operational CO2e (grams) and its range, set by the accounting step
    co2e_g: float = NAN
    co2e_low_g: float = NAN
    co2e_high_g: float = NAN
    #: on-site water (litres) at the WUE (litres per kWh of IT energy) named by its source
    water_l: float | None = None
    wue_l_per_kwh: float | None = None
    water_source: str = ""
    #: the electricity's cost in ``currency`` (ISO 4217; "" when not given), at a price per
    #: kWh of facility energy named by its source
    electricity_cost: float | None = None
    price_per_kwh: float | None = None
    currency: str = ""
    cost_source: str = ""

    @property
    def energy_j(self) -> float:
        """Total IT energy of every component, in joules (before PUE)."""
        return sum(c.energy_j for c in self.components)

    @property
    def energy_low_j(self) -> float:
        return sum(c.low_j if c.low_j is not None else c.energy_j for c in self.components)

    @property
    def energy_high_j(self) -> float:
        return sum(c.high_j if c.high_j is not None else c.energy_j for c in self.components)

    @property
    def energy_kwh(self) -> float:
        return j_to_kwh(self.energy_j)

    @property
    def co2e_kg(self) -> float:
        """:attr:`co2e_g` in kilograms."""
        return g_to_kg(self.co2e_g)

    @property
    def measured_share(self) -> float:
        """Share (0..1) of the energy that comes from hardware measurements."""
        total = self.energy_j
        if total <= 0:
            return 0.0
        return sum(c.energy_j for c in self.components if c.measured) / total

    def component_energy_j(self, component: Component) -> float:
        return sum(c.energy_j for c in self.components if c.component == component)

    def __repr__(self) -> str:
        from carbonledger.report.text import summary_repr

        return summary_repr(self)

    def _repr_html_(self) -> str:
        from carbonledger.report.html import summary_card

        return summary_card(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "project": self.project,
            "experiment": self.experiment,
            "status": self.status,
            "started_unix_s": self.started_unix_s,
            "duration_s": self.duration_s,
            "energy_j": self.energy_j,
            "energy_kwh": self.energy_kwh,
            "energy_low_j": self.energy_low_j,
            "energy_high_j": self.energy_high_j,
            "measured_share": self.measured_share,
            "co2e_g": self.co2e_g,
            "co2e_kg": self.co2e_kg,
            "co2e_low_kg": self.co2e_low_g / 1e3,
            "co2e_high_kg": self.co2e_high_g / 1e3,
            "market_co2e_kg": None if self.market_co2e_g is None else self.market_co2e_g / 1e3,
            "embodied_co2e_kg": None
            if self.embodied_co2e_g is None
            else self.embodied_co2e_g / 1e3,
            "intensity_g_per_kwh": self.intensity_g_per_kwh,
            "intensity_source": self.intensity_source,
            "location": self.location,
            "location_source": self.location_source,
            "pue": self.pue,
            "pue_source": self.pue_source,
            "water_l": self.water_l,
            "wue_l_per_kwh": self.wue_l_per_kwh,
            "water_source": self.water_source,
            "electricity_cost": self.electricity_cost,
            "price_per_kwh": self.price_per_kwh,
            "currency": self.currency,
            "cost_source": self.cost_source,
            "scope": self.scope,
            "hosts": list(self.hosts),
            "components": [c.to_dict() for c in self.components],
            "windows": [w.to_dict() for w in self.windows],
            "errors": list(self.errors),
            **self.extra,
        }


@dataclass(frozen=True)
class RunRecord:
    """What is known of a run when it starts (shared by all its members)."""

    run_id: str
    project: str
    experiment: str
    started_unix_s: float
    scope: str
    location: str
    location_source: str
    intensity_g_per_kwh: float
    intensity_source: str
    pue: float
    pue_source: str
    tags: dict[str, str] = field(default_factory=dict)
    #: anything else worth keeping: versions, command line, market factor, expected epochs...
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MemberRecord:
    """One process taking part in a run (a rank of a distributed job, a node's tracker)."""

    member_id: str
    run_id: str
    host: str
    pid: int
    started_unix_s: float
    rank: int | None = None
    local_rank: int | None = None
