"""What every standard's report shares: the verified record behind it, the task's fields
(from the run's ``task_*`` tags and ``--task``), the hardware in words, and times."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from carbonledger.errors import InputError
from carbonledger.models import RunSummary
from carbonledger.report.data import LedgerStatus

__all__ = [
    "TASK_FIELDS",
    "country_name",
    "finite",
    "hardware_groups",
    "meta_of",
    "place_name",
    "record_dict",
    "record_sentence",
    "task_fields",
    "utc_text",
    "yaml_problem",
]

#: what a run can say of its task, as ``task_<name>`` tags or ``--task NAME=VALUE``, and
#: what each one means (the BoAmps and model-card fields they fill are in docs/standards.md)
TASK_FIELDS: dict[str, str] = {
    "stage": "the task's stage: training, finetuning, inference, preprocessing...",
    "family": "the family of task: image classification, text generation...",
    "training_type": "supervisedLearning, transferLearning... (BoAmps); for a model card "
    "pre-training or fine-tuning",
    "algorithm_type": "llm, neural network, embeddings creation...",
    "algorithm_name": "randomForest, cnn, transformers...",
    "foundation_model": "the foundation model's name (llama3.1-8b...)",
    "foundation_model_uri": "the foundation model's URI",
    "parameters_billion": "the model's parameters, in billions (a number)",
    "framework": "pytorch, scikit-learn, vllm...",
    "framework_version": "the framework's version",
    "layers": "the number of layers (a number)",
    "epochs": "the number of epochs (a number)",
    "optimizer": "adam, lora...",
    "quantization": "fp32, fp16, int8...",
    "data_usage": "input or output",
    "data_type": "tabular, audio, image, video, text, token, word, boolean, object, other",
    "data_format": "csv, parquet, jpeg... (BoAmps's list)",
    "data_size_gb": "the dataset's size in GB (a number)",
    "data_quantity": "the number of items in the dataset (a number)",
    "data_shape": "the dataset's shape, e.g. (12, 1000)",
    "data_source": "public, private or other",
    "data_uri": "the dataset's URI",
    "data_owner": "the dataset's owner",
    "requests": "for inference: the number of requests measured (a number)",
    "accuracy": "the measured accuracy, 0 to 1 (a number)",
    "description": "free text on the task",
    "language": "the programming language of the measured work (python, c++...)",
    "language_version": "its version",
    "infra_type": "publicCloud, privateCloud, onPremise or other",
    "cloud_instance": "the cloud instance type (a1.large...)",
    "cloud_service": "the AI cloud service used, if any",
    "power_supplier_type": "public, private, internal or other",
    "power_source": "solar, wind, nuclear, hydroelectric, gas, coal or other",
    "publisher": "the publishing organisation's name",
    "division": "the publishing department",
    "confidentiality": "public, internal, confidential or secret",
    "licensing": "the licence under which the report is shared",
    "report_status": "draft, final, corrective or other",
}
#: the task fields that are numbers
NUMBER_FIELDS = frozenset(
    {"parameters_billion", "layers", "epochs", "data_size_gb", "data_quantity", "requests",
     "accuracy"}
)  # fmt: skip


def task_fields(tags: Mapping[str, Any], given: Mapping[str, str]) -> dict[str, str]:
    """The task's fields: the run's ``task_<name>`` tags, overridden by ``given`` (the
    report's ``--task NAME=VALUE``). An unknown name is an :class:`InputError` listing the
    known ones; a number field must hold a finite number."""
    out: dict[str, str] = {}
    for key, value in tags.items():
        name = str(key)
        if name.startswith("task_") and name[5:] in TASK_FIELDS:
            out[name[5:]] = str(value)
    for name, value in given.items():
        if name not in TASK_FIELDS:
            raise InputError(
                f"unknown task field {name!r}; known: {', '.join(sorted(TASK_FIELDS))}"
            )
        out[name] = value
    for name in NUMBER_FIELDS & out.keys():
        if finite(out[name]) is None:
            raise InputError(f"task field {name} must be a number, got {out[name]!r}")
    return out


def finite(value: object) -> float | None:
    """``value`` as a finite float (numbers and numeric text), else None."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def meta_of(summary: RunSummary) -> dict[str, Any]:
    """The run's metadata as the ledger gives it with its summary (``{}`` when absent)."""
    meta = summary.extra.get("meta")
    return dict(meta) if isinstance(meta, Mapping) else {}


def record_dict(status: LedgerStatus | None) -> dict[str, Any]:
    """The verification behind a report, for a machine: the ledger's head, what was checked,
    whether it verified and against which keys; ``{"verified": None}`` when nothing was."""
    if status is None:
        return {"verified": None, "note": "no ledger record was checked"}
    return {
        "ledger_head": status.head,
        "verified": status.ok,
        "anchored": status.anchored,
        "scope": status.scope,
        "records": status.records,
        "signers": list(status.signers),
        "problems": list(status.problems),
        "statement": status.text,
    }


def record_sentence(status: LedgerStatus | None) -> str:
    """The verification behind a report in one sentence, to carry in a text field."""
    if status is None:
        return "no ledger record was checked"
    if not status.ok:
        return status.text
    if status.anchored:
        keys = ", ".join(status.signers) or "a trusted key"
        return f"record verified against {keys}; ledger head {status.head}"
    return (
        f"record signatures consistent but not anchored to a trusted key; ledger head {status.head}"
    )


def utc_text(unix_s: float) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC (BoAmps's date format)."""
    from datetime import datetime, timezone

    return datetime.fromtimestamp(math.floor(unix_s), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S")


def _zone(code: str) -> Any:
    from carbonledger.carbon import intensity
    from carbonledger.errors import CarbonLedgerError

    try:
        return intensity(code)
    except (CarbonLedgerError, ValueError, KeyError):
        return None


def country_name(summary: RunSummary) -> str | None:
    """The name of the run's country (``France``, for ``FR``, ``FR-COR`` or
    ``aws:eu-west-3``), or None when the location is unknown (the world average) or in no
    country."""
    if summary.location_source == "default" or summary.location.upper() in ("WORLD", "UNKNOWN"):
        return None
    zone = _zone(summary.location)
    if zone is None:
        name = str(meta_of(summary).get("country_name") or "").strip()
        return name or None
    if zone.kind != "country":
        zone = _zone(zone.country) if zone.country else None
    return str(zone.name) if zone is not None and zone.kind == "country" else None


def place_name(summary: RunSummary) -> str | None:
    """Where the run drew its electricity, in words: the country, a sub-national zone with
    its country (``US-CA, United States``), a cloud region with where it is
    (``aws:eu-west-3 (Paris, France)``); None when unknown."""
    country = country_name(summary)
    if country is None:
        return None
    zone = _zone(summary.location)
    if zone is not None and zone.kind == "cloud":
        return f"{summary.location} ({zone.location or country})"
    if zone is not None and zone.kind != "country":
        return f"{zone.name}, {country}" if zone.name else f"{summary.location}, {country}"
    return country


def hardware_groups(summary: RunSummary) -> list[tuple[str, str, int]]:
    """``(component, model, count)`` for each kind of device of the run (model "" when not
    known), GPUs first: what a report names as the hardware used."""
    groups: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for c in summary.components:
        groups.setdefault((c.component, c.model), set()).add((c.host, c.device))
    order = {"gpu": 0, "cpu": 1, "ram": 2, "npu": 3, "soc": 4}
    return sorted(
        ((comp, model, len(devices)) for (comp, model), devices in groups.items()),
        key=lambda g: (order.get(g[0], 9), g[1]),
    )


def yaml_problem(exc: Exception) -> str:
    """A YAML parser's error in one line: ``line 3, column 8: expected ',' or ']'``."""
    mark = getattr(exc, "problem_mark", None)
    problem = str(getattr(exc, "problem", "") or exc).replace("\n", " ")
    if mark is None:
        return " ".join(problem.split())
    return f"line {mark.line + 1}, column {mark.column + 1}: {' '.join(problem.split())}"
