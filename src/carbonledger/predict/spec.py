"""The YAML spec of ``carbonledger estimate SPEC.yaml``.

::

    name: llama-7b-pretrain          # optional, free text
    model:
      params: 7e9                    # total parameters (7e9, 7B, 7000000000), or:
      active_params: 1.3e10          # mixture-of-experts: parameters used per token
      architecture:                  # instead of params: computed from the shape
        layers: 32
        hidden_size: 4096
        ffn_size: 11008
        gated_ffn: true              # SwiGLU/GeGLU: 3 FFN matrices instead of 2
        heads: 32
        kv_heads: 32                 # fewer than heads: grouped-query attention
        vocab_size: 32000
        sequence_length: 4096
        tied_embeddings: false
        moe: {experts: 8, experts_per_token: 2, layer_share: 1.0}
    training:
      tokens: 2e12
      recompute: none                # none | selective | full activation recomputation
      flops: 8.4e22                  # optional: total model FLOPs when counted
    hardware:
      accelerator: A100-80GB
      devices: 1024
      lifetime_years: 5              # embodied amortisation (default 5, LLMCarbon)
    measured:                        # optional facts that replace the priors
      device_hours: 184320
      mfu: 0.4
      avg_power_w: 400
    datacenter:
      pue: 1.1
      grid_g_per_kwh: 385            # or zone: FR | US-CA | aws:eu-west-3
    inference:                       # optional: serving footprint of the same model
      devices: 1                     # per replica
      batch_size: 8                  # or utilisation: 0.3
      input_tokens: 500
      output_tokens: 300
      requests_per_day: 1e6
      days: 365

Errors name the file, the line and what to fix.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from carbonledger.errors import InputError
from carbonledger.predict._check import parse_number

if TYPE_CHECKING:
    from carbonledger.predict.estimate import Estimate
    from carbonledger.predict.inference import InferenceEstimate

__all__ = ["SECTIONS", "Spec", "load_spec", "parse_spec"]

#: allowed keys of each section
SECTIONS: dict[str, tuple[str, ...]] = {
    "model": ("params", "active_params", "architecture"),
    "training": ("tokens", "recompute", "flops"),
    "hardware": ("accelerator", "devices", "lifetime_years"),
    "measured": ("device_hours", "mfu", "avg_power_w"),
    "datacenter": ("pue", "grid_g_per_kwh", "zone"),
    "inference": (
        "devices",
        "batch_size",
        "utilisation",
        "input_tokens",
        "output_tokens",
        "requests_per_day",
        "days",
        "avg_power_w",
        "bytes_per_param",
    ),
}
_TOP = ("name", "description", *SECTIONS)
_NUMERIC = {
    "params",
    "active_params",
    "tokens",
    "flops",
    "devices",
    "lifetime_years",
    "device_hours",
    "mfu",
    "avg_power_w",
    "pue",
    "grid_g_per_kwh",
    "batch_size",
    "utilisation",
    "input_tokens",
    "output_tokens",
    "requests_per_day",
    "days",
    "bytes_per_param",
}


@dataclass(frozen=True, slots=True)
class Spec:
    """A parsed spec: keyword arguments for :func:`~carbonledger.predict.training` and,
    when the spec has an ``inference`` section, :func:`~carbonledger.predict.inference`."""

    path: str
    name: str
    training_kwargs: dict[str, Any] | None
    inference_kwargs: dict[str, Any] | None
    notes: tuple[str, ...] = field(default=())
    #: argument name -> "line N (section.key)", to place the library's errors
    training_lines: dict[str, str] = field(default_factory=dict)
    inference_lines: dict[str, str] = field(default_factory=dict)

    def _place(self, exc: InputError, lines: dict[str, str]) -> InputError:
        msg = str(exc)
        for key in sorted(lines, key=len, reverse=True):
            if msg.startswith(key):
                return InputError(f"{self.path} {lines[key]}: {msg}")
        return InputError(f"{self.path}: {msg}")

    def training(self) -> Estimate | None:
        from carbonledger.predict.estimate import training

        if self.training_kwargs is None:
            return None
        try:
            est = training(**self.training_kwargs)
        except InputError as exc:
            raise self._place(exc, self.training_lines) from None
        return _with_notes(est, self.notes)

    def inference(self) -> InferenceEstimate | None:
        from carbonledger.predict.inference import inference

        if self.inference_kwargs is None:
            return None
        try:
            est = inference(**self.inference_kwargs)
        except InputError as exc:
            raise self._place(exc, self.inference_lines) from None
        return _with_notes(est, self.notes)


_E = TypeVar("_E", "Estimate", "InferenceEstimate")


def _with_notes(est: _E, notes: tuple[str, ...]) -> _E:
    from dataclasses import replace

    return replace(est, assumptions=(*est.assumptions, *notes)) if notes else est


class _Doc:
    """A YAML mapping with the line of each key, for messages."""

    def __init__(self, path: str, values: dict[str, Any], lines: dict[str, int], where: str):
        self.path, self.values, self.lines, self.where = path, values, lines, where

    def error(self, key: str | None, message: str) -> InputError:
        line = self.lines.get(key, self.lines.get("", 0)) if key else self.lines.get("", 0)
        place = f"{self.where}.{key}" if key and self.where else (key or self.where or "spec")
        return InputError(f"{self.path} line {line} ({place}): {message}")


#: a spec is a few levels deep: this many brackets opened in a row is no spec (refused at
#: once, before the YAML parser recurses into them)
_MAX_FLOW_DEPTH = 64


def _compose(text: str, path: str) -> Any:
    import re

    import yaml

    if re.search(r"[\[{](?:\s*[\[{]){" + str(_MAX_FLOW_DEPTH) + "}", text):
        raise InputError(f"{path}: nested too deeply to be a spec")
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a spec") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = exc.problem or exc.context or "malformed YAML"
        raise InputError(f"{path}{line}: malformed YAML: {problem}") from None
    except yaml.YAMLError as exc:  # a character YAML refuses...: its message on one line
        raise InputError(f"{path}: malformed YAML: {' '.join(str(exc).split())}") from None


def _construct(node: Any) -> Any:
    import yaml

    try:
        return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
    except RecursionError:
        raise InputError("a value is nested too deeply") from None
    except yaml.YAMLError as exc:  # a bad !!timestamp, !!binary...
        mark = getattr(exc, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark else ""
        raise InputError(f"{line}cannot read a value ({getattr(exc, 'problem', exc)})") from None


def _mapping(node: Any, path: str, where: str) -> _Doc:
    import yaml

    if not isinstance(node, yaml.MappingNode):
        line = node.start_mark.line + 1 if node is not None else 1
        what = where or "the spec"
        raise InputError(f"{path} line {line}: {what} must be a mapping of key: value lines")
    values: dict[str, Any] = {}
    lines: dict[str, int] = {"": node.start_mark.line + 1}
    for key_node, value_node in node.value:
        key = str(_construct(key_node))
        lines[key] = key_node.start_mark.line + 1
        values[key] = value_node
    return _Doc(path, values, lines, where)


def _check_keys(doc: _Doc, allowed: tuple[str, ...]) -> None:
    for key in doc.values:
        if key not in allowed:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise doc.error(key, f"unknown key {key!r}; {hint}known: {', '.join(allowed)}")


def _scalar(doc: _Doc, key: str) -> Any:
    import yaml

    node = doc.values[key]
    if key == "architecture":
        return node
    if not isinstance(node, yaml.ScalarNode):
        raise doc.error(key, "expected a single value, not a list or mapping")
    value = _construct(node)
    if value is None:
        raise doc.error(key, "has no value")
    if key in _NUMERIC:
        try:
            return parse_number(value, key)
        except InputError as exc:
            raise doc.error(key, str(exc)) from None
    return value


def _sections(top: _Doc, path: str) -> tuple[dict[str, dict[str, Any]], dict[str, _Doc]]:
    """(values of every known section, empty when absent; the documents of those given)."""
    sections: dict[str, dict[str, Any]] = {}
    docs: dict[str, _Doc] = {}
    for name in SECTIONS:
        if name in top.values:
            doc = _mapping(top.values[name], path, name)
            _check_keys(doc, SECTIONS[name])
            docs[name] = doc
            sections[name] = {k: _scalar(doc, k) for k in doc.values}
        else:
            sections[name] = {}
    return sections, docs


def _model_kwargs(
    model: dict[str, Any], docs: dict[str, _Doc], top: _Doc, path: str
) -> dict[str, Any]:
    """The model size: ``architecture`` and/or ``params`` / ``active_params``."""
    kwargs: dict[str, Any] = {}
    if "architecture" in model:
        from carbonledger.predict.params import Architecture

        arch_doc = _mapping(model["architecture"], path, "model.architecture")
        data = {k: _construct(v) for k, v in arch_doc.values.items()}
        try:
            kwargs["architecture"] = Architecture.from_dict(data)
        except (InputError, TypeError) as exc:
            raise docs["model"].error("architecture", str(exc)) from None
    for key in ("params", "active_params"):
        if key in model:
            kwargs[key] = model[key]
    if not kwargs:
        raise docs.get("model", top).error(
            "model" if "model" not in docs else None,
            "give the model size: model.params (e.g. 7e9) or model.architecture",
        )
    return kwargs


def _grid_g_per_kwh(dc: dict[str, Any], docs: dict[str, _Doc], top: _Doc, notes: list[str]) -> Any:
    """The grid intensity, gCO2e/kWh: ``datacenter.grid_g_per_kwh`` or that of
    ``datacenter.zone`` (one of them)."""
    grid = dc.get("grid_g_per_kwh")
    if "zone" in dc:
        if grid is not None:
            raise docs["datacenter"].error("zone", "give either zone or grid_g_per_kwh, not both")
        from carbonledger.carbon import intensity

        try:
            zone = intensity(str(dc["zone"]))
        except InputError as exc:
            raise docs["datacenter"].error("zone", str(exc)) from None
        grid = zone.intensity_g_per_kwh
        notes.append(f"grid intensity of {zone.name} ({zone.code}): {zone.year}, {zone.source}")
    if grid is None:
        raise docs.get("datacenter", top).error(
            "grid_g_per_kwh" if "datacenter" in docs else "datacenter",
            "give datacenter.grid_g_per_kwh (e.g. 385) or datacenter.zone (e.g. FR)",
        )
    return grid


def _add_hardware(
    common: dict[str, Any], hw: dict[str, Any], docs: dict[str, _Doc], top: _Doc
) -> None:
    """Add the (known) accelerator and the hardware lifetime to ``common``."""
    if "accelerator" not in hw:
        raise (docs.get("hardware") or top).error(
            "accelerator" if "hardware" in docs else "hardware",
            "give hardware.accelerator (e.g. A100-80GB)",
        )
    common["accelerator"] = str(hw["accelerator"])
    from carbonledger.predict.hardware import accelerator

    try:
        accelerator(common["accelerator"])
    except InputError as exc:
        raise docs["hardware"].error("accelerator", str(exc)) from None
    if "lifetime_years" in hw:
        common["lifetime_years"] = hw["lifetime_years"]


def _training_kwargs(
    common: dict[str, Any],
    sections: dict[str, dict[str, Any]],
    docs: dict[str, _Doc],
    top: _Doc,
) -> dict[str, Any] | None:
    """training() arguments; None when the spec has only an inference section."""
    tr = sections["training"]
    hw = sections["hardware"]
    if not (tr or "training" in docs or "inference" not in docs):
        return None
    if "tokens" not in tr:
        raise (docs.get("training") or top).error(
            "tokens" if "training" in docs else "training",
            "give training.tokens (e.g. 2e12)",
        )
    if "devices" not in hw:
        raise (docs.get("hardware") or top).error(
            "devices" if "hardware" in docs else "hardware", "give hardware.devices (e.g. 64)"
        )
    training_kwargs = {**common, "tokens": tr["tokens"], "devices": hw["devices"]}
    if "recompute" in tr:
        training_kwargs["recompute"] = str(tr["recompute"])
    if "flops" in tr:
        training_kwargs["flops"] = tr["flops"]
    training_kwargs.update(sections["measured"])
    return training_kwargs


def _source_lines(docs: dict[str, _Doc]) -> tuple[dict[str, str], dict[str, str]]:
    """Where each training and inference argument came from: ``line N (section.key)``."""

    def where(section: str, key: str) -> str:
        return f"line {docs[section].lines[key]} ({section}.{key})"

    shared = {
        k: where(sec, k)
        for sec in ("model", "hardware", "datacenter")
        if sec in docs
        for k in docs[sec].values
    }
    training_lines = dict(shared)
    for sec in ("training", "measured"):
        if sec in docs:
            training_lines.update({k: where(sec, k) for k in docs[sec].values})
    inference_lines = {k: v for k, v in shared.items() if k != "devices"}
    if "inference" in docs:
        inference_lines.update({k: where("inference", k) for k in docs["inference"].values})
    return training_lines, inference_lines


def parse_spec(text: str, path: str = "<spec>") -> Spec:
    """Parse the text of a spec; every error is an InputError naming the line."""
    root = _compose(text, path)
    if root is None:
        raise InputError(f"{path}: the spec is empty; see docs/prediction.md for an example")
    top = _mapping(root, path, "")
    _check_keys(top, _TOP)
    sections, docs = _sections(top, path)
    kwargs = _model_kwargs(sections["model"], docs, top, path)
    notes: list[str] = []
    dc = sections["datacenter"]
    grid = _grid_g_per_kwh(dc, docs, top, notes)
    common = {"grid_g_per_kwh": grid, "pue": dc.get("pue"), **kwargs}
    _add_hardware(common, sections["hardware"], docs, top)
    training_kwargs = _training_kwargs(common, sections, docs, top)
    inference_kwargs: dict[str, Any] | None = None
    if "inference" in docs:
        inference_kwargs = {**common, **sections["inference"]}
    training_lines, inference_lines = _source_lines(docs)
    name = str(_construct(top.values["name"])) if "name" in top.values else Path(path).stem
    return Spec(
        path,
        name,
        training_kwargs,
        inference_kwargs,
        tuple(notes),
        training_lines,
        inference_lines,
    )


#: the largest spec file read (bytes): a spec is a few dozen lines
SPEC_MAX_BYTES = 1 << 20


def load_spec(path: str | Path) -> Spec:
    """Read and parse a spec file (a regular file or a pipe, at most
    :data:`SPEC_MAX_BYTES`, UTF-8)."""
    from carbonledger._files import read_input_text

    text = read_input_text(path, "spec file", max_bytes=SPEC_MAX_BYTES)
    return parse_spec(text, str(path))
