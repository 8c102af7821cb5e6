"""The ``co2_eq_emissions`` metadata of a Hugging Face model card, from one run.

The Hub reads the card's YAML front matter; its ``co2_eq_emissions`` block has five fields:
``emissions`` (grams of CO2e), ``source``, ``training_type``, ``geographical_location`` and
``hardware_used``. We give the run's location-based operational CO2e (embodied carbon is
not in it), name carbonledger, its version, the run and the verified record in ``source``,
and leave out what is not known (a training type nobody gave, an unknown location).

:func:`update_card` puts the block into an existing card: the block replaces the card's own
``co2_eq_emissions`` (or is added at the end of its metadata); every other line of the card,
metadata and text, stays as it was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from carbonledger.errors import InputError
from carbonledger.models import RunSummary
from carbonledger.report.data import LedgerStatus
from carbonledger.report.standards._common import (
    hardware_groups,
    place_name,
    record_sentence,
    task_fields,
    yaml_problem,
)

__all__ = ["co2_eq_emissions", "metadata_yaml", "update_card"]

_LABELS = {"cpu": "CPU", "gpu": "GPU", "ram": "RAM", "npu": "NPU", "soc": "SoC"}
#: a task stage or training type -> the Hub's training_type
_TRAINING = {
    "pretraining": "pre-training",
    "pre-training": "pre-training",
    "training": "pre-training",
    "finetuning": "fine-tuning",
    "fine-tuning": "fine-tuning",
    "fine_tuning": "fine-tuning",
}


def _hardware(summary: RunSummary) -> str | None:
    parts = []
    for component, model, count in hardware_groups(summary):
        if component == "ram":
            continue  # memory has no model worth naming
        name = model or _LABELS.get(component, component.upper())
        label = "" if not model else f" {_LABELS.get(component, component.upper())}"
        parts.append(f"{count} x {name}{label}" if count > 1 else f"{name}{label}")
    return ", ".join(parts) or None


def co2_eq_emissions(
    summary: RunSummary,
    status: LedgerStatus | None,
    task: Mapping[str, str] | None = None,
    *,
    version: str,
) -> dict[str, Any]:
    """The card's ``co2_eq_emissions`` block for run ``summary``: ``emissions`` in grams
    (location-based, operational), ``source`` (the tool, the run, the verified record) and,
    when known, ``training_type``, ``geographical_location`` and ``hardware_used``."""
    fields = task_fields(summary.extra.get("tags") or {}, task or {})
    block: dict[str, Any] = {
        "emissions": float(summary.co2e_g),
        "source": f"carbonledger {version}, run {summary.run_id}; {record_sentence(status)}",
    }
    kind = fields.get("training_type") or fields.get("stage") or ""
    training = _TRAINING.get(kind.strip().lower())
    if training is not None:
        block["training_type"] = training
    location = place_name(summary)
    if location is not None:
        block["geographical_location"] = location
    hardware = _hardware(summary)
    if hardware is not None:
        block["hardware_used"] = hardware
    return block


def _block_yaml(block: Mapping[str, Any]) -> str:
    import yaml

    return str(
        yaml.safe_dump({"co2_eq_emissions": dict(block)}, sort_keys=False, allow_unicode=True)
    )


def metadata_yaml(block: Mapping[str, Any]) -> str:
    """The card's metadata block holding ``block``, front matter delimiters included: what
    goes at the top of a README.md."""
    return f"---\n{_block_yaml(block)}---\n"


_FRONT = re.compile(r"\A(---[ \t]*\r?\n)(.*?)(^---[ \t]*\r?\n?)", re.S | re.M)


def update_card(text: str, block: Mapping[str, Any]) -> str:
    """``text`` (a model card) with its ``co2_eq_emissions`` set to ``block``: the key's
    lines are replaced (or the block added at the end of the metadata, or a metadata block
    added at the top when the card has none); nothing else changes."""
    import yaml

    new = _block_yaml(block)
    match = _FRONT.match(text)
    if match is None:
        return metadata_yaml(block) + text
    opening, body, closing = match.group(1), match.group(2), match.group(3)
    try:
        yaml.safe_load(body)
    except yaml.YAMLError as exc:
        raise InputError(f"the card's metadata is not valid YAML: {yaml_problem(exc)}") from None
    lines = body.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith("co2_eq_emissions:")), None)
    if start is None:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(new)
    else:
        end = start + 1
        while end < len(lines) and lines[end][:1] in (" ", "\t"):  # the block's own lines
            end += 1
        lines[start:end] = [new]
    return opening + "".join(lines) + closing + text[match.end() :]
