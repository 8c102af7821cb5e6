"""CodeCarbon's records, with CodeCarbon's field names and units, built from carbonledger's
measurements.

Units as CodeCarbon has them: ``duration`` s, ``emissions`` kg CO2e, ``emissions_rate``
kg CO2e/s, ``*_power`` W (mean over the interval), ``*_energy`` and ``energy_consumed`` kWh,
``water_consumed`` L, ``ram_total_size`` and ``ram_used_gb`` GiB (2**30 bytes, as
CodeCarbon divides by 1024**3 despite the names), utilisation in percent of the whole
machine. As in CodeCarbon, energy and power include the PUE (so ``emissions =
energy_consumed x intensity``). ``codecarbon_version`` is the CodeCarbon release whose format
the row follows, with carbonledger's version as a local label (``3.3.2+carbonledger.0.1.0``).
A value carbonledger does not know (GPU utilisation, coordinates) is None, written as an
empty cell, never a made-up number.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from typing import Any

from carbonledger.accounting import facility_energy_j, facility_energy_kwh
from carbonledger.compat._base import HostFacts, Place, Usage
from carbonledger.models import ComponentEnergy
from carbonledger.report.export import codecarbon_version

__all__ = [
    "EmissionsData",
    "RunContext",
    "TaskEmissionsData",
    "build_emissions",
    "task_record",
]


@dataclass
class EmissionsData:
    """One emissions record, as CodeCarbon's ``EmissionsData`` (same fields, same order)."""

    timestamp: str
    project_name: str
    run_id: str
    experiment_id: str
    duration: float
    emissions: float
    emissions_rate: float
    cpu_power: float
    gpu_power: float
    ram_power: float
    cpu_energy: float
    gpu_energy: float
    ram_energy: float
    energy_consumed: float
    water_consumed: float
    country_name: str | None
    country_iso_code: str | None
    region: str | None
    cloud_provider: str | None
    cloud_region: str | None
    os: str
    python_version: str
    codecarbon_version: str
    cpu_count: float | None
    cpu_model: str
    gpu_count: float
    gpu_model: str
    longitude: float | None
    latitude: float | None
    ram_total_size: float | None
    tracking_mode: str
    cpu_utilization_percent: float | None = None
    gpu_utilization_percent: float | None = None
    ram_utilization_percent: float | None = None
    ram_used_gb: float | None = None
    on_cloud: str = "N"
    pue: float = 1.0
    wue: float = 0.0

    @property
    def values(self) -> OrderedDict[str, Any]:
        """The fields in order, as CodeCarbon's ``values``."""
        return OrderedDict((f.name, getattr(self, f.name)) for f in fields(self))

    def compute_delta_emission(self, previous: EmissionsData) -> None:
        """Turn this running total into the change since ``previous`` (CodeCarbon's method)."""
        self.duration -= previous.duration
        self.emissions -= previous.emissions
        self.cpu_energy -= previous.cpu_energy
        self.gpu_energy -= previous.gpu_energy
        self.ram_energy -= previous.ram_energy
        self.energy_consumed -= previous.energy_consumed
        self.water_consumed -= previous.water_consumed
        self.emissions_rate = self.emissions / self.duration if self.duration > 0 else 0.0

    def toJSON(self) -> str:  # CodeCarbon's name
        """The record as indented JSON with sorted keys, as CodeCarbon's ``toJSON``."""
        return json.dumps(asdict(self), sort_keys=True, indent=4)


@dataclass
class TaskEmissionsData:
    """One task's record, as CodeCarbon's ``TaskEmissionsData`` (same fields, same order)."""

    task_name: str
    timestamp: str
    project_name: str
    run_id: str
    duration: float
    emissions: float
    emissions_rate: float
    cpu_power: float
    gpu_power: float
    ram_power: float
    cpu_energy: float
    gpu_energy: float
    ram_energy: float
    energy_consumed: float
    water_consumed: float
    country_name: str | None
    country_iso_code: str | None
    region: str | None
    cloud_provider: str | None
    cloud_region: str | None
    os: str
    python_version: str
    codecarbon_version: str
    cpu_count: float | None
    cpu_model: str
    gpu_count: float
    gpu_model: str
    longitude: float | None
    latitude: float | None
    ram_total_size: float | None
    tracking_mode: str
    cpu_utilization_percent: float | None = None
    gpu_utilization_percent: float | None = None
    ram_utilization_percent: float | None = None
    ram_used_gb: float | None = None
    on_cloud: str = "N"

    @property
    def values(self) -> OrderedDict[str, Any]:
        return OrderedDict((f.name, getattr(self, f.name)) for f in fields(self))


@dataclass(frozen=True)
class RunContext:
    """What stays the same across a run's records (known once the tracker has started)."""

    project_name: str
    run_id: str
    experiment_id: str
    tracking_mode: str
    pue: float
    wue: float
    place: Place
    host: HostFacts
    cpu_model: str = ""
    gpu_count: int = 0
    gpu_model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _by_component(components: Sequence[ComponentEnergy]) -> dict[str, float]:
    out = {"cpu": 0.0, "gpu": 0.0, "ram": 0.0}
    for c in components:
        out[c.component] = out.get(c.component, 0.0) + c.energy_j
    return out


def build_emissions(
    ctx: RunContext,
    duration_s: float,
    components: Sequence[ComponentEnergy],
    co2e_kg: float,
    now: datetime | None = None,
    usage: Usage | None = None,
) -> EmissionsData:
    """A record for ``components`` measured over ``duration_s``, with ``co2e_kg`` already
    accounted (energy x PUE x intensity) and the machine's ``usage`` over the same
    interval; the time stamp is local time, as CodeCarbon's."""
    energy_j = _by_component(components)
    pue = ctx.pue
    energy_kwh = {k: facility_energy_kwh(v, pue) for k, v in energy_j.items()}
    power_w = {
        k: (facility_energy_j(v, pue) / duration_s if duration_s > 0 else 0.0)
        for k, v in energy_j.items()
    }
    total_kwh = sum(energy_kwh.values())
    place, host = ctx.place, ctx.host
    return EmissionsData(
        timestamp=(now or datetime.now()).strftime("%Y-%m-%dT%H:%M:%S"),
        project_name=ctx.project_name,
        run_id=ctx.run_id,
        experiment_id=ctx.experiment_id,
        duration=duration_s,
        emissions=co2e_kg,
        emissions_rate=co2e_kg / duration_s if duration_s > 0 else 0.0,
        cpu_power=power_w["cpu"],
        gpu_power=power_w["gpu"],
        ram_power=power_w["ram"],
        cpu_energy=energy_kwh["cpu"],
        gpu_energy=energy_kwh["gpu"],
        ram_energy=energy_kwh["ram"],
        energy_consumed=total_kwh,
        water_consumed=total_kwh * ctx.wue,
        country_name=place.country_name,
        country_iso_code=place.country_alpha3,
        region=place.region,
        cloud_provider=place.cloud_provider or "",
        cloud_region=place.cloud_region or "",
        os=host.os,
        python_version=host.python_version,
        codecarbon_version=codecarbon_version(),
        cpu_count=host.cpu_count,
        cpu_model=ctx.cpu_model,
        gpu_count=ctx.gpu_count,
        gpu_model=ctx.gpu_model,
        longitude=None,
        latitude=None,
        ram_total_size=host.ram_total_gib,
        tracking_mode=ctx.tracking_mode,
        cpu_utilization_percent=None if usage is None else usage.cpu_percent,
        ram_utilization_percent=None if usage is None else usage.ram_percent,
        ram_used_gb=None if usage is None else usage.ram_used_gib,
        on_cloud="Y" if place.cloud_provider else "N",
        pue=pue,
        wue=ctx.wue,
    )


def task_record(task_name: str, data: EmissionsData) -> TaskEmissionsData:
    """The task file's row for a task's record (CodeCarbon's ``Task.out``)."""
    shared = {f.name for f in fields(TaskEmissionsData)} - {"task_name"}
    return TaskEmissionsData(
        task_name=task_name, **{k: v for k, v in asdict(data).items() if k in shared}
    )
