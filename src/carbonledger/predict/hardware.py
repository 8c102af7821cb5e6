"""The accelerator catalogue: dense BF16/FP16 peak, TDP, memory, and embodied carbon.

Every figure comes from ``data/accelerators.csv``, whose rows cite their source. Peaks
are *dense* tensor-core figures: where a vendor prints a 2:4-sparsity figure, the dense
one is half of it. Names resolve case-, space- and punctuation-insensitively, with or
without the vendor prefix, so ``"A100"``, ``"a100-80gb"``, ``"NVIDIA A100-SXM4-80GB"``
(nvidia-smi's name) and ``"TPUv3"`` / ``"TPU v3"`` all work.

Embodied carbon per device follows LLMCarbon (Faiz et al., ICLR 2024)::

    die     = die area (cm2) x carbon per area of its process node (kgCO2e/cm2)
    memory  = on-package memory (GB) x 0.4 kgCO2e/GB (LLMCarbon's DRAM figure)
    host    = LLMCarbon's server (CPU + 256 GB DRAM + 32 TB SSD + other chips, 828 kg)
              / accelerators per host

with the nearest process node of LLMCarbon's table (16, 12, 7, 4 nm; ties to the smaller).
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from carbonledger.errors import UnknownNameError

__all__ = [
    "Accelerator",
    "EmbodiedConstants",
    "accelerator",
    "embodied_constants",
    "list_accelerators",
]

Kind = Literal["gpu", "tpu"]


def _read_csv(name: str) -> list[dict[str, str]]:
    text = (Path(__file__).parent / "data" / name).read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


@dataclass(frozen=True, slots=True)
class EmbodiedConstants:
    """LLMCarbon's embodied-carbon constants (``data/embodied_llmcarbon.csv``)."""

    #: process node (nm) -> kgCO2e per cm2 of die
    carbon_per_area: dict[int, float]
    memory_kg_per_gb: float
    host_kg: float
    lifetime_years: float
    sources: dict[str, str]

    def node_cpa(self, process_nm: float) -> tuple[int, float]:
        """The nearest node of the table and its kgCO2e/cm2 (ties go to the smaller node)."""
        node = min(self.carbon_per_area, key=lambda n: (abs(n - process_nm), n))
        return node, self.carbon_per_area[node]


@cache
def embodied_constants() -> EmbodiedConstants:
    cpa: dict[int, float] = {}
    sources: dict[str, str] = {}
    memory = host = lifetime = 0.0
    for row in _read_csv("embodied_llmcarbon.csv"):
        value = float(row["value"])
        sources[f"{row['kind']}:{row['key']}"] = row["source"]
        if row["kind"] == "cpa":
            cpa[int(row["key"])] = value
        elif row["kind"] == "memory":
            memory = value
        elif row["kind"] == "host":
            host += value
        elif row["kind"] == "lifetime":
            lifetime = value
    return EmbodiedConstants(cpa, memory, host, lifetime, sources)


@dataclass(frozen=True, slots=True)
class Accelerator:
    """One accelerator model of the catalogue. Figures are per device (one GPU board,
    one TPU chip, one AMD OAM module)."""

    name: str
    aliases: tuple[str, ...]
    vendor: str
    kind: Kind
    #: architecture generation (volta, ampere, hopper, tpu-v3, ...): selects the MFU prior
    generation: str
    #: selects the power prior: "tpu-v3" or "board-tdp" (every TDP that is a board/chip limit)
    power_group: str
    year: int
    peak_tflops: float
    tdp_w: float
    memory_gb: float
    memory_bw_gb_s: float
    die_area_cm2: float
    process_nm: float
    devices_per_host: int
    #: figures that are assumptions rather than published (e.g. ("tdp_w",))
    estimated_fields: tuple[str, ...]
    spec_source: str
    die_source: str
    notes: str = ""

    @property
    def peak_flops(self) -> float:
        """Dense BF16/FP16 peak in FLOP/s."""
        return self.peak_tflops * 1e12

    def embodied_breakdown_kg(self) -> dict[str, float]:
        """Manufacturing footprint of one device, by part, in kgCO2e."""
        k = embodied_constants()
        _, cpa = k.node_cpa(self.process_nm)
        return {
            "die": self.die_area_cm2 * cpa,
            "memory": self.memory_gb * k.memory_kg_per_gb,
            "host_share": k.host_kg / self.devices_per_host,
        }

    @property
    def embodied_kg(self) -> float:
        """Manufacturing footprint of one device with its host share, kgCO2e."""
        return sum(self.embodied_breakdown_kg().values())

    def describe(self) -> str:
        return (
            f"{self.name}: {self.peak_tflops:g} TFLOP/s dense BF16/FP16, TDP {self.tdp_w:g} W, "
            f"{self.memory_gb:g} GB at {self.memory_bw_gb_s:g} GB/s"
        )


def _key(name: str) -> str:
    key = re.sub(r"[^a-z0-9]", "", name.lower())
    for prefix in ("nvidia", "tesla", "amd", "instinct", "google", "cloud"):
        if key.startswith(prefix) and len(key) > len(prefix):
            key = key[len(prefix) :]
    return key


def _parse(row: dict[str, str]) -> Accelerator:
    kind = row["kind"]
    if kind not in ("gpu", "tpu"):
        raise ValueError(f"accelerators.csv: bad kind {kind!r} for {row['name']}")
    return Accelerator(
        name=row["name"],
        aliases=tuple(a for a in row["aliases"].split(";") if a),
        vendor=row["vendor"],
        kind="gpu" if kind == "gpu" else "tpu",
        generation=row["generation"],
        power_group=row["power_group"],
        year=int(row["year"]),
        peak_tflops=float(row["peak_bf16_tflops"]),
        tdp_w=float(row["tdp_w"]),
        memory_gb=float(row["memory_gb"]),
        memory_bw_gb_s=float(row["memory_bw_gb_s"]),
        die_area_cm2=float(row["die_area_cm2"]),
        process_nm=float(row["process_nm"]),
        devices_per_host=int(row["devices_per_host"]),
        estimated_fields=tuple(f for f in row["estimated_fields"].split(";") if f),
        spec_source=row["spec_source"],
        die_source=row["die_source"],
        notes=row["notes"],
    )


@cache
def _catalogue() -> tuple[tuple[Accelerator, ...], dict[str, Accelerator]]:
    items = tuple(_parse(r) for r in _read_csv("accelerators.csv"))
    index: dict[str, Accelerator] = {}
    for acc in items:
        for name in (acc.name, *acc.aliases):
            key = _key(name)
            other = index.get(key)
            if other is not None and other is not acc:
                raise ValueError(
                    f"accelerators.csv: {name!r} names both {other.name} and {acc.name}"
                )
            index[key] = acc
    return items, index


def list_accelerators() -> tuple[Accelerator, ...]:
    """Every accelerator of the catalogue, in table order."""
    return _catalogue()[0]


def accelerator(name: str | Accelerator) -> Accelerator:
    """Look an accelerator up by name or alias; an unknown name raises
    :class:`~carbonledger.errors.UnknownNameError` listing close matches."""
    if isinstance(name, Accelerator):
        return name
    items, index = _catalogue()
    found = index.get(_key(str(name)))
    if found is not None:
        return found
    import difflib

    key = _key(str(name))
    close = difflib.get_close_matches(key, list(index), n=8, cutoff=0.5)
    suggestions: list[str] = []
    for k in close:
        if index[k].name not in suggestions:
            suggestions.append(index[k].name)
    if not suggestions:  # e.g. "A100-NVL": try a prefix match on the model number
        suggestions = [a.name for a in items if key and _key(a.name).startswith(key[:4])][:5]
    raise UnknownNameError(
        "accelerator",
        str(name),
        suggestions[:5],
        hint="(known: " + ", ".join(a.name for a in items) + ")",
    )
