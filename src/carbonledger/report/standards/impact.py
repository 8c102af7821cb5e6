"""A Green Software Foundation Impact Framework manifest (YAML) of one run.

The manifest's inputs are the run's observations, one per time bucket: its ``duration``
(s), each component's IT energy (``cpu/energy``, ``gpu/energy``, ``memory/energy``...,
kWh), the facility's ``pue``, the ``grid/carbon-intensity`` (gCO2e/kWh: the hour's when the
run has hourly intensities, else the run's) and ``carbon-embodied`` (the run's embodied
carbon amortised over the bucket, g). The pipeline uses only the Framework's builtin plugins,
so that ``if-run`` itself computes the carbon::

    it/energy          = Sum(<component>/energy)
    energy             = Multiply(it/energy, pue)              facility energy, kWh
    carbon-operational = Multiply(energy, grid/carbon-intensity)   g
    carbon             = Sum(carbon-operational, carbon-embodied)  g

Each bucket's energy comes from the run's samples (each device's cumulative energy,
interpolated at the bucket's edges, and its recorded total at the end), so the buckets add
up to the run's energy and the Framework's carbon to the run's CO2e plus its embodied share.
Estimated energies enter at their central figure (their ranges are in the run's record).
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Sequence
from typing import Any

from carbonledger.errors import InputError
from carbonledger.models import ComponentEnergy, Sample
from carbonledger.report.data import RunReport
from carbonledger.report.standards._common import record_sentence
from carbonledger.units import iso_utc, j_to_kwh

__all__ = [
    "BUCKET_CHOICES_S",
    "MAX_AUTO_BUCKETS",
    "choose_bucket_s",
    "impact_manifest",
    "manifest_yaml",
]

#: bucket lengths (s): each divides an hour, so that a bucket lies within one clock hour
BUCKET_CHOICES_S = (1, 5, 10, 30, 60, 300, 900, 3600)
#: the automatic bucket is the shortest that gives at most this many observations
MAX_AUTO_BUCKETS = 500
#: the parameter names of each component's energy (the Framework's usual names)
PARAMETERS = {"cpu": "cpu/energy", "gpu": "gpu/energy", "ram": "memory/energy",
              "npu": "npu/energy", "soc": "soc/energy"}  # fmt: skip
_SUM = {"time": "sum", "component": "sum"}
_NONE = {"time": "none", "component": "none"}


def choose_bucket_s(duration_s: float) -> int:
    """The shortest of :data:`BUCKET_CHOICES_S` giving at most :data:`MAX_AUTO_BUCKETS`
    buckets over ``duration_s`` (an hour for anything longer)."""
    for bucket in BUCKET_CHOICES_S:
        if duration_s / bucket <= MAX_AUTO_BUCKETS:
            return bucket
    return BUCKET_CHOICES_S[-1]


def _curve(
    component: ComponentEnergy, samples: Sequence[Sample], start_s: float
) -> tuple[list[float], list[float]]:
    """The device's cumulative energy over time: 0 at ``start_s``, each sample (a counter
    that restarted from 0 continues from where it was), its recorded total at the end;
    scaled so that the end is exactly the recorded total."""
    times, energies = [start_s], [0.0]
    offset, last = 0.0, 0.0
    for s in sorted(samples, key=lambda s: s.time_unix_s):
        if s.time_unix_s < times[-1]:
            continue
        if s.energy_j + offset < last:  # a new process counting from 0
            offset = last
        last = s.energy_j + offset
        times.append(s.time_unix_s)
        energies.append(last)
    end_s = max(times[-1], start_s + component.duration_s)
    if component.energy_j >= last:
        times.append(end_s)
        energies.append(component.energy_j)
    elif last > 0:  # the samples overshoot the recorded total: keep their shape, end on it
        factor = component.energy_j / last
        energies = [e * factor for e in energies]
    return times, energies


def _at(times: list[float], energies: list[float], t: float) -> float:
    """The cumulative energy at ``t`` by linear interpolation (flat outside the curve)."""
    if t <= times[0]:
        return energies[0]
    if t >= times[-1]:
        return energies[-1]
    i = bisect.bisect_right(times, t)
    t0, t1, e0, e1 = times[i - 1], times[i], energies[i - 1], energies[i]
    return e0 if t1 <= t0 else e0 + (e1 - e0) * (t - t0) / (t1 - t0)


def _hours(meta: dict[str, Any]) -> dict[int, float]:
    from carbonledger.accounting import HourlyIntensity

    record = HourlyIntensity.from_dict(meta.get("hourly"))
    return {} if record is None else dict(record.hours)


def _buckets(report: RunReport, bucket_s: int) -> list[dict[str, Any]]:
    s = report.summary
    start = s.started_unix_s
    curves: dict[str, list[tuple[list[float], list[float]]]] = {}
    by_device: dict[tuple[str, str, str], list[Sample]] = {}
    for sample in report.samples:
        by_device.setdefault((sample.host, sample.component, sample.device), []).append(sample)
    end = start + s.duration_s
    for c in s.components:
        own = by_device.get((c.host, c.component, c.device), [])
        times, energies = _curve(c, own, start)
        end = max(end, times[-1])
        curves.setdefault(c.component, []).append((times, energies))
    edges = [start]
    t = math.floor(start / bucket_s) * bucket_s + bucket_s
    while t < end:
        edges.append(float(t))
        t += bucket_s
    edges.append(end)
    total_s = end - start
    hours = _hours(report.meta)
    embodied_g = s.embodied_co2e_g
    out = []
    for a, b in itertools.pairwise(edges):
        if b <= a:
            continue
        row: dict[str, Any] = {"timestamp": iso_utc(a, timespec="milliseconds"), "duration": b - a}
        for component in sorted(curves, key=list(PARAMETERS).index):
            joules = sum(_at(ts, es, b) - _at(ts, es, a) for ts, es in curves[component])
            row[PARAMETERS[component]] = j_to_kwh(max(joules, 0.0))
        row["pue"] = s.pue
        hour = int(a // 3600 * 3600)
        row["grid/carbon-intensity"] = hours.get(hour, s.intensity_g_per_kwh)
        if embodied_g is not None:
            row["carbon-embodied"] = embodied_g * (b - a) / total_s if total_s > 0 else 0.0
        out.append(row)
    return out


def _metadata(unit: str, description: str, method: dict[str, str]) -> dict[str, Any]:
    return {"unit": unit, "description": description, "aggregation-method": dict(method)}


def _plugins(components: Sequence[str], embodied: bool) -> dict[str, Any]:
    energy_inputs = {
        PARAMETERS[c]: _metadata("kWh", f"IT energy of the {c.upper()} devices in the bucket", _SUM)
        for c in components
    }
    plugins: dict[str, Any] = {
        "sum-it-energy": {
            "method": "Sum",
            "path": "builtin",
            "config": {
                "input-parameters": [PARAMETERS[c] for c in components],
                "output-parameter": "it/energy",
            },
            "parameter-metadata": {
                "inputs": energy_inputs,
                "outputs": {"it/energy": _metadata("kWh", "IT energy", _SUM)},
            },
        },
        "facility-energy": {
            "method": "Multiply",
            "path": "builtin",
            "config": {"input-parameters": ["it/energy", "pue"], "output-parameter": "energy"},
            "parameter-metadata": {
                "inputs": {"pue": _metadata("none", "power usage effectiveness", _NONE)},
                "outputs": {"energy": _metadata("kWh", "facility energy (IT x PUE)", _SUM)},
            },
        },
        "operational-carbon": {
            "method": "Multiply",
            "path": "builtin",
            "config": {
                "input-parameters": ["energy", "grid/carbon-intensity"],
                "output-parameter": "carbon-operational",
            },
            "parameter-metadata": {
                "inputs": {
                    "grid/carbon-intensity": _metadata(
                        "gCO2e/kWh", "location-based grid carbon intensity", _NONE
                    )
                },
                "outputs": {
                    "carbon-operational": _metadata(
                        "gCO2e", "operational carbon (location-based)", _SUM
                    )
                },
            },
        },
    }
    if embodied:
        plugins["total-carbon"] = {
            "method": "Sum",
            "path": "builtin",
            "config": {"input-parameters": ["carbon-operational", "carbon-embodied"],
                       "output-parameter": "carbon"},
            "parameter-metadata": {
                "inputs": {"carbon-embodied": _metadata(
                    "gCO2e", "embodied carbon amortised over the bucket", _SUM)},
                "outputs": {"carbon": _metadata("gCO2e", "operational + embodied", _SUM)},
            },
        }  # fmt: skip
    else:  # no embodied figure: carbon is the operational carbon alone (said in the manifest)
        plugins["total-carbon"] = {
            "method": "Copy",
            "path": "builtin",
            "config": {"from": "carbon-operational", "to": "carbon", "keep-existing": True},
            "parameter-metadata": {
                "outputs": {"carbon": _metadata(
                    "gCO2e", "operational carbon (no embodied figure recorded)", _SUM)},
            },
        }  # fmt: skip
    return plugins


def impact_manifest(
    report: RunReport, *, version: str, bucket_s: int | None = None
) -> dict[str, Any]:
    """The Impact Framework manifest of ``report``'s run (a dict to write as YAML), with
    observations every ``bucket_s`` seconds (one of :data:`BUCKET_CHOICES_S`; default
    :func:`choose_bucket_s`)."""
    s = report.summary
    if bucket_s is None:
        bucket_s = choose_bucket_s(s.duration_s)
    if bucket_s not in BUCKET_CHOICES_S:
        raise InputError(
            f"the bucket must be one of {', '.join(map(str, BUCKET_CHOICES_S))} seconds (each "
            f"divides an hour), got {bucket_s}"
        )
    if not s.components:
        raise InputError(f"run {s.run_id} recorded no device: there is nothing to compute")
    inputs = _buckets(report, bucket_s)
    components = sorted({c.component for c in s.components}, key=list(PARAMETERS).index)
    embodied = s.embodied_co2e_g is not None
    child = f"run-{s.run_id}"
    description = (
        f"Run {s.run_id} ({s.project}/{s.experiment}), recorded by carbonledger {version}: "
        f"{len(inputs)} observation(s) of {bucket_s} s; energy "
        f"{'measured' if s.measured_share == 1 else f'{s.measured_share:.0%} measured'} "
        f"({'; '.join(sorted({f'{c.component}: {c.method}' for c in s.components}))}); grid "
        f"intensity {s.intensity_source}; PUE {s.pue_source}; "
        + (
            f"embodied carbon {s.embodied_co2e_g:.6g} g amortised over the run"
            if embodied
            else "no embodied carbon recorded: carbon is the operational carbon alone"
        )
        + f". {record_sentence(report.ledger)}."
    )
    return {
        "name": f"carbonledger run {s.run_id}",
        "description": description,
        "tags": {"kind": "machine-learning", "category": "carbonledger", "complexity": "simple"},
        "aggregation": {
            "metrics": ["energy", "carbon-operational", "carbon"],
            "type": "both",
        },
        "initialize": {"plugins": _plugins(components, embodied)},
        "tree": {
            "children": {
                child: {
                    "pipeline": {
                        "compute": [
                            "sum-it-energy",
                            "facility-energy",
                            "operational-carbon",
                            "total-carbon",
                        ]
                    },
                    "inputs": inputs,
                }
            }
        },
    }


def manifest_yaml(manifest: dict[str, Any]) -> str:
    """The manifest as YAML text."""
    import yaml

    return str(yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True, width=100))
