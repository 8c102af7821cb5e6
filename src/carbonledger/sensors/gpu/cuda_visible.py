"""Which NVIDIA GPUs this process can see: ``CUDA_VISIBLE_DEVICES`` resolved as CUDA does
(indices, ``GPU-`` UUIDs or prefixes, ``MIG-`` UUIDs; stop at the first entry that names no
GPU), against the physical GPUs NVML lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from carbonledger.sensors.gpu.common import split_visible_devices

__all__ = ["Gpu", "index_order_note", "parse_cuda_visible_devices", "resolve_visible", "text"]


def text(value: Any) -> str:
    """NVML strings: bytes in old pynvml releases, str in new ones."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def parse_cuda_visible_devices(value: str | None) -> list[str] | None:
    """Split ``CUDA_VISIBLE_DEVICES`` into its entries.

    ``None`` (unset) means every GPU and returns None; an empty or blank value hides
    every GPU and returns ``[]``. Entries are stripped of spaces; their meaning (an
    index, a ``GPU-`` UUID or prefix, a ``MIG-`` UUID, anything else = invalid) is
    resolved against the GPUs by :func:`discover_nvml`, which, like CUDA, stops at the
    first entry that matches no GPU (so ``-1`` or ``NoDevFiles`` first hides all).
    """
    return split_visible_devices(value)


@dataclass
class Gpu:
    """A physical GPU as NVML lists it."""

    index: int
    handle: Any = None
    uuid: str = ""
    name: str = ""
    error: str = ""
    _mig_uuids: list[str] | None = field(default=None, repr=False)


def _mig_uuids(nvml: Any, gpu: Gpu) -> list[str]:
    """UUIDs of the MIG devices on ``gpu`` (empty when MIG is off or unsupported)."""
    if gpu._mig_uuids is not None:
        return gpu._mig_uuids
    uuids: list[str] = []
    if gpu.handle is not None:
        try:
            slots = int(nvml.nvmlDeviceGetMaxMigDeviceCount(gpu.handle))
        except Exception:  # no MIG here
            slots = 0
        for slot in range(slots):
            try:
                mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(gpu.handle, slot)
                uuids.append(text(nvml.nvmlDeviceGetUUID(mig)))
            except Exception:  # an empty slot (NVML_ERROR_NOT_FOUND)
                continue
    gpu._mig_uuids = uuids
    return uuids


def _unique(matches: Sequence[int]) -> int | None:
    return matches[0] if len(matches) == 1 else None


def _match_entry(nvml: Any, token: str, gpus: Sequence[Gpu]) -> int | None:
    """The physical GPU index a ``CUDA_VISIBLE_DEVICES`` entry names, or None if invalid."""
    if token.isascii() and token.isdigit():
        index = int(token)
        return index if index < len(gpus) else None
    if token.startswith("GPU-"):
        return _unique([g.index for g in gpus if g.uuid and g.uuid.startswith(token)])
    if token.startswith("MIG-GPU-"):  # legacy form MIG-GPU-<gpu uuid>/<gi>/<ci>
        parent = token[len("MIG-") :].split("/", 1)[0]
        return _unique([g.index for g in gpus if g.uuid and g.uuid.startswith(parent)])
    if token.startswith("MIG-"):
        return _unique([g.index for g in gpus for m in _mig_uuids(nvml, g) if m.startswith(token)])
    return None


def resolve_visible(
    nvml: Any, tokens: list[str] | None, gpus: Sequence[Gpu]
) -> tuple[list[int], str]:
    """Visible physical indices (ordered, each once) and the first invalid entry, if any."""
    if tokens is None:
        return [g.index for g in gpus], ""
    visible: list[int] = []
    for token in tokens:
        index = _match_entry(nvml, token, gpus)
        if index is None:
            return visible, token
        if index not in visible:  # MIG instances of one GPU, or a repeated entry
            visible.append(index)
    return visible, ""


def index_order_note(tokens: list[str] | None, gpus: Sequence[Gpu], env: Mapping[str, str]) -> str:
    """Warn when CUDA's index order may differ from NVML's (mixed GPU models)."""
    if not tokens or not any(t.isascii() and t.isdigit() for t in tokens):
        return ""
    if env.get("CUDA_DEVICE_ORDER", "") == "PCI_BUS_ID":
        return ""
    if len({g.name for g in gpus if g.name}) <= 1:
        return ""
    return (
        "CUDA_VISIBLE_DEVICES uses indices on a machine with mixed GPU models: CUDA's "
        "default order (FASTEST_FIRST) may differ from NVML's PCI order; set "
        "CUDA_DEVICE_ORDER=PCI_BUS_ID or use GPU UUIDs"
    )
