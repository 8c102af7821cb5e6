"""A Boavizta BoAmps report (JSON) of one run: the format in which AI energy measures are
shared openly (https://github.com/Boavizta/BoAmps, format 1.1, JSON schemas draft-04).

What fills each field (docs/standards.md has the table): the header from the report's
making and the ``publisher``/``licensing`` task fields; the task from the run's ``task_*``
tags or ``--task``; one measure (carbonledger, its version, the CPU's and GPU's methods, the
run's IT energy in kWh, its duration and start); the system and software when known; the
infrastructure's type and cloud provider and one component per kind of device; the country
and grid intensity; a quality class from the energy's range. The ledger's head, the
verification, and each figure's source go in a ``carbonledger`` object beside the standard's
(BoAmps's objects allow other properties; the standard has no field for them).

Nothing is made up: a field we cannot know is left out; the fields BoAmps requires and only
the user knows (the task's stage, family, dataset type and usage) make an
:class:`~carbonledger.errors.InputError` naming the ``--task`` to give.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from carbonledger.errors import InputError
from carbonledger.report.data import RunReport
from carbonledger.report.standards._common import (
    country_name,
    finite,
    hardware_groups,
    meta_of,
    record_dict,
    task_fields,
    utc_text,
)
from carbonledger.units import j_to_kwh

__all__ = ["FORMAT_VERSION", "SPECIFICATION_URI", "boamps_report"]

#: the BoAmps format version written (the schemas of the BoAmps repository's model/)
FORMAT_VERSION = "1.1.0"
SPECIFICATION_URI = "https://github.com/Boavizta/BoAmps/tree/main/model"

_VENDORS = ("nvidia", "amd", "intel", "apple", "arm", "ampere", "qualcomm", "google")
_ENUMS = {
    "data_usage": ("input", "output"),
    "data_type": (
        "tabular",
        "audio",
        "boolean",
        "image",
        "video",
        "object",
        "text",
        "token",
        "word",
        "other",
    ),
    "data_source": ("public", "private", "other"),
    "infra_type": ("publicCloud", "privateCloud", "onPremise", "other"),
    "power_supplier_type": ("public", "private", "internal", "other"),
    "power_source": ("solar", "wind", "nuclear", "hydroelectric", "gas", "coal", "other"),
    "confidentiality": ("public", "internal", "confidential", "secret"),
    "report_status": ("draft", "final", "corrective", "other"),
}
#: the relative uncertainty of each BoAmps quality class
_QUALITY = ((0.10, "high"), (0.25, "medium"), (0.50, "low"))


def _check_enums(task: Mapping[str, str]) -> None:
    for name, allowed in _ENUMS.items():
        if name in task and task[name] not in allowed:
            raise InputError(
                f"task field {name} must be one of {', '.join(allowed)} for BoAmps, got "
                f"{task[name]!r}"
            )


def _number(task: Mapping[str, str], name: str) -> float | None:
    return finite(task[name]) if name in task else None


def _put(target: dict[str, Any], key: str, value: Any) -> None:
    """Set ``key`` when ``value`` is known (not None, not empty)."""
    if value is not None and value != "":
        target[key] = value


def _manufacturer(model: str) -> str | None:
    """The vendor a device's model name starts with (``NVIDIA H100`` -> ``nvidia``)."""
    words = model.replace("(R)", " ").replace("(TM)", " ").split()
    first = words[0].lower() if words else ""
    return first if first in _VENDORS else None


def _quality(report: RunReport) -> str | None:
    """BoAmps's quality class from the energy's range: the largest relative distance of its
    ends from the central figure (measured energy counts as exact); None beyond +/-50 %."""
    s = report.summary
    if s.energy_j <= 0:
        return None
    spread = max(s.energy_high_j - s.energy_j, s.energy_j - s.energy_low_j) / s.energy_j
    return next((name for limit, name in _QUALITY if spread <= limit), None)


def _algorithm(task: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, name in (("trainingType", "training_type"), ("algorithmType", "algorithm_type"),
                      ("algorithmName", "algorithm_name"), ("foundationModelName", "foundation_model"),
                      ("foundationModelUri", "foundation_model_uri"), ("framework", "framework"),
                      ("frameworkVersion", "framework_version"), ("optimizer", "optimizer"),
                      ("quantization", "quantization")):  # fmt: skip
        _put(out, key, task.get(name))
    for key, name in (("parametersNumber", "parameters_billion"), ("layersNumber", "layers"),
                      ("epochsNumber", "epochs")):  # fmt: skip
        _put(out, key, _number(task, name))
    return out


def _dataset(task: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"dataUsage": task["data_usage"], "dataType": task["data_type"]}
    for key, name in (("dataFormat", "data_format"), ("shape", "data_shape"),
                      ("source", "data_source"), ("sourceUri", "data_uri"),
                      ("owner", "data_owner")):  # fmt: skip
        _put(out, key, task.get(name))
    _put(out, "dataSize", _number(task, "data_size_gb"))
    _put(out, "dataQuantity", _number(task, "data_quantity"))
    return out


def _task(task: Mapping[str, str]) -> dict[str, Any]:
    missing = [n for n in ("stage", "family", "data_type", "data_usage") if n not in task]
    if missing:
        flags = " ".join(f"--task {n}=..." for n in missing)
        raise InputError(
            f"a BoAmps report needs the task's {', '.join(missing)}, which only you know: give "
            f"{flags} (or record them as the run's tags task_<name>=...)"
        )
    out: dict[str, Any] = {
        "taskStage": task["stage"],
        "taskFamily": task["family"],
        # BoAmps requires one algorithm; an algorithm nothing is known of is an empty object
        "algorithms": [_algorithm(task)],
        "dataset": [_dataset(task)],
    }
    _put(out, "nbRequest", _number(task, "requests"))
    accuracy = _number(task, "accuracy")
    if accuracy is not None and not 0 <= accuracy <= 1:
        raise InputError(f"task field accuracy must be between 0 and 1, got {accuracy:g}")
    _put(out, "measuredAccuracy", accuracy)
    _put(out, "taskDescription", task.get("description"))
    return out


def _methods(report: RunReport, component: str) -> str | None:
    names = sorted({c.method for c in report.summary.components if c.component == component})
    return ", ".join(names) or None


def _measure(report: RunReport, version: str) -> dict[str, Any]:
    s, meta = report.summary, report.meta
    out: dict[str, Any] = {
        "measurementMethod": "carbonledger",
        "version": str(meta.get("carbonledger_version") or version),
    }
    _put(out, "cpuTrackingMode", _methods(report, "cpu"))
    _put(out, "gpuTrackingMode", _methods(report, "gpu"))
    cpu_util = finite(meta.get("cpu_utilization_percent"))
    if cpu_util is not None and 0 <= cpu_util <= 100:
        out["averageUtilizationCpu"] = cpu_util / 100
    gpu_util = finite(meta.get("gpu_utilization_percent"))
    if gpu_util is not None and 0 <= gpu_util <= 100:
        out["averageUtilizationGpu"] = gpu_util / 100
    out["powerConsumption"] = j_to_kwh(s.energy_j)
    out["measurementDuration"] = s.duration_s
    out["measurementDateTime"] = utc_text(s.started_unix_s)
    return out


def _components(report: RunReport) -> list[dict[str, Any]]:
    out = []
    ram_gb = finite(report.meta.get("ram_total_gb"))
    for component, model, count in hardware_groups(report.summary):
        item: dict[str, Any] = {"componentType": component, "nbComponent": count}
        if model:
            item["componentName"] = f"{count} x {model}" if count > 1 else model
            _put(item, "manufacturer", _manufacturer(model))
        if component == "ram":  # one component: the installed memory, its size when known
            item["nbComponent"] = 1
            if ram_gb is not None and ram_gb > 0:
                item["memorySize"] = ram_gb
        out.append(item)
    return out


def _infrastructure(report: RunReport, task: Mapping[str, str]) -> dict[str, Any]:
    provider = str(report.meta.get("cloud_provider") or "")
    if not provider and ":" in report.summary.location:
        provider = report.summary.location.split(":", 1)[0]
    infra = task.get("infra_type") or ("publicCloud" if provider else "other")
    out: dict[str, Any] = {"infraType": infra}
    _put(out, "cloudProvider", provider)
    _put(out, "cloudInstance", task.get("cloud_instance"))
    _put(out, "cloudService", task.get("cloud_service"))
    components = _components(report)
    if not components:
        raise InputError("the run recorded no device: BoAmps needs at least one component")
    out["components"] = components
    return out


def _environment(report: RunReport, task: Mapping[str, str]) -> dict[str, Any] | None:
    s = report.summary
    country = country_name(s)
    if country is None:  # BoAmps requires the country: without one, no environment
        return None
    out: dict[str, Any] = {"country": country}
    if s.location.upper() != str(report.meta.get("country_iso_code") or "").upper():
        out["location"] = s.location  # a region, a cloud region: more precise than the country
    _put(out, "powerSupplierType", task.get("power_supplier_type"))
    _put(out, "powerSource", task.get("power_source"))
    out["powerSourceCarbonIntensity"] = s.intensity_g_per_kwh
    return out


def _system(meta: Mapping[str, Any]) -> dict[str, Any] | None:
    text = str(meta.get("os") or "")
    name = text.split("-")[0].strip().lower()
    return {"os": name} if name else None


def _software(task: Mapping[str, str]) -> dict[str, Any] | None:
    if "language" not in task:  # the measured work's language is the user's to say
        return None
    out: dict[str, Any] = {"language": task["language"]}
    _put(out, "version", task.get("language_version"))
    return out


def _header(report: RunReport, task: Mapping[str, str], now_unix_s: float) -> dict[str, Any]:
    s = report.summary
    head = report.ledger.head if report.ledger is not None else ""
    out: dict[str, Any] = {}
    _put(out, "licensing", task.get("licensing"))
    out["formatVersion"] = FORMAT_VERSION
    out["formatVersionSpecificationUri"] = SPECIFICATION_URI
    # the same run at the same ledger head gives the same id
    out["reportId"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"carbonledger:{s.run_id}:{head}"))
    out["reportDatetime"] = utc_text(now_unix_s)
    out["reportStatus"] = task.get("report_status") or (
        "final" if s.status == "completed" else "draft"
    )
    publisher: dict[str, Any] = {}
    _put(publisher, "name", task.get("publisher"))
    _put(publisher, "division", task.get("division"))
    _put(publisher, "projectName", s.project)
    signers = report.ledger.signers if report.ledger is not None else ()
    _put(publisher, "publicKey", ", ".join(signers))
    if "confidentiality" in task:
        publisher["confidentialityLevel"] = task["confidentiality"]
        out["publisher"] = publisher
    elif "publisher" in task or "division" in task:
        raise InputError(
            "a BoAmps publisher needs its confidentiality level: give --task "
            "confidentiality=public|internal|confidential|secret"
        )
    return out


def _sources(report: RunReport) -> dict[str, Any]:
    """Where each figure comes from (the standard has no field for it)."""
    s = report.summary
    return {
        "run_id": s.run_id,
        "energy": [
            {"component": c.component, "device": c.device, "method": c.method,
             "measured": c.measured, "energy_kwh": c.energy_kwh,
             **({} if c.measured else {"low_kwh": j_to_kwh(c.low_j if c.low_j is not None else c.energy_j),
                                       "high_kwh": j_to_kwh(c.high_j if c.high_j is not None else c.energy_j)})}
            for c in s.components
        ],
        "measured_share": s.measured_share,
        "energy_kwh_range": [j_to_kwh(s.energy_low_j), j_to_kwh(s.energy_high_j)],
        "powerSourceCarbonIntensity": s.intensity_source,
        "location": {"code": s.location, "source": s.location_source},
        "pue": {"value": s.pue, "source": s.pue_source, "applied": False},
        "co2e_g": s.co2e_g,
        "co2e_g_range": [s.co2e_low_g, s.co2e_high_g],
        "embodied_co2e_g": s.embodied_co2e_g,
        "water_l": s.water_l,
        "water_source": s.water_source or None,
        "quality": "from the energy's range: high within 10%, medium 25%, low 50% "
        "(measured energy counts as exact)",
    }  # fmt: skip


def boamps_report(
    report: RunReport,
    task: Mapping[str, str] | None = None,
    *,
    version: str,
    now_unix_s: float,
) -> dict[str, Any]:
    """The BoAmps report of ``report``'s run (a dict to write as JSON). ``task`` holds the
    ``--task`` fields (over the run's ``task_*`` tags); ``now_unix_s`` is the report's
    time. Raises :class:`InputError` when a field BoAmps requires is the user's to give."""
    s = report.summary
    fields = task_fields(s.extra.get("tags") or {}, task or {})
    _check_enums(fields)
    out: dict[str, Any] = {
        "header": _header(report, fields, now_unix_s),
        "task": _task(fields),
        "measures": [_measure(report, version)],
    }
    _put(out, "system", _system(report.meta or meta_of(s)))
    _put(out, "software", _software(fields))
    out["infrastructure"] = _infrastructure(report, fields)
    _put(out, "environment", _environment(report, fields))
    _put(out, "quality", _quality(report))
    out["carbonledger"] = {"record": record_dict(report.ledger), "sources": _sources(report)}
    return out
