"""Watts per vCPU by microarchitecture, for virtual machines.

A virtual machine has a share of its host's CPUs, not the whole socket, so charging the
socket's TDP overcounts (a 2-vCPU slice of a 64-core EPYC was charged a 115 W package).
Cloud Carbon Footprint's coefficients give the power of one vCPU (one hardware thread) at
idle and at full load, by microarchitecture, from SPECpower results; the shipped table
(``sensors/data/cpu_vcpu_power.csv``, built by ``scripts/build_vcpu_table.py``) carries
them with a range, and a row ``average`` for a microarchitecture we cannot tell.

:func:`microarchitecture` names the CPU's microarchitecture from, in order: the ARM part
number (AWS Graviton), the model name's number (``EPYC 7B13``, ``Xeon Platinum 8259CL``,
``Xeon E5-2686 v4``), the x86 family/model numbers (many guests see a generic name such
as ``Intel Xeon Processor`` or ``AMD EPYC Processor``), and last the AMX flag.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from functools import cache

from carbonledger.sensors.cpu.host import HostCpu
from carbonledger.sensors.cpu.tdp import normalise_cpu_name

__all__ = [
    "AVERAGE",
    "VCPU_TABLE_PATH",
    "VcpuPower",
    "microarchitecture",
    "vcpu_power",
    "vcpu_table",
]

VCPU_TABLE_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "cpu_vcpu_power.csv"
)
#: the table's row for an unknown microarchitecture
AVERAGE = "average"


@dataclass(frozen=True)
class VcpuPower:
    """One row of the per-vCPU table: watts of one vCPU at idle (``min_w``) and at full
    load (``max_w``), with the low and high bounds of each, and where they come from."""

    microarchitecture: str
    min_w: float
    max_w: float
    min_low_w: float
    max_low_w: float
    min_high_w: float
    max_high_w: float
    source: str
    year: int
    licence: str
    note: str = ""


@cache
def vcpu_table() -> dict[str, VcpuPower]:
    """The shipped per-vCPU table by microarchitecture (read once)."""
    with open(VCPU_TABLE_PATH, newline="", encoding="utf-8") as fh:
        return {
            row["microarchitecture"]: VcpuPower(
                microarchitecture=row["microarchitecture"],
                min_w=float(row["min_w"]),
                max_w=float(row["max_w"]),
                min_low_w=float(row["min_low_w"]),
                max_low_w=float(row["max_low_w"]),
                min_high_w=float(row["min_high_w"]),
                max_high_w=float(row["max_high_w"]),
                source=row["source"],
                year=int(row["year"]),
                licence=row["licence"],
                note=row["note"],
            )
            for row in csv.DictReader(fh)
        }


#: ARM "CPU part" numbers of AWS's Graviton cores (Neoverse N1, V1, V2)
_ARM_PARTS = {"0xd0c": "Graviton2", "0xd40": "Graviton3", "0xd4f": "Graviton4"}
#: Intel family 6 model numbers of server parts (85 is Skylake-SP up to stepping 4, then
#: Cascade Lake); Coffee Lake's 158 is shared with client Kaby Lake, as in Xeon E-2100
_INTEL_MODELS = {
    45: "Sandy Bridge",
    62: "Ivy Bridge",
    63: "Haswell",
    79: "Broadwell",
    86: "Broadwell",
    106: "Ice Lake",
    108: "Ice Lake",
    143: "Sapphire Rapids",
    158: "Coffee Lake",
    173: "Granite Rapids",
    207: "Emerald Rapids",
}
#: AMD (family, model) of EPYC generations: Naples, Rome, Milan, Genoa/Bergamo, Turin
_AMD_MODELS = {
    (23, 1): "EPYC 1st Gen",
    (23, 49): "EPYC 2nd Gen",
    (25, 1): "EPYC 3rd Gen",
    (25, 17): "EPYC 4th Gen",
    (25, 160): "EPYC 4th Gen",
    (26, 2): "EPYC 5th Gen",
    (26, 17): "EPYC 5th Gen",
}
_EPYC_GENERATIONS = {"1": "1st", "2": "2nd", "3": "3rd", "4": "4th", "5": "5th"}
_XEON_SCALABLE = {
    "1": "Skylake",
    "2": "Cascade Lake",
    "3": "Ice Lake",
    "4": "Sapphire Rapids",
    "5": "Emerald Rapids",
}
_XEON_E5 = {"": "Sandy Bridge", "2": "Ivy Bridge", "3": "Haswell", "4": "Broadwell"}
_EPYC = re.compile(r"\bepyc (\d)[0-9a-z]{2}(\d)\b")
_SCALABLE = re.compile(r"\bxeon (?:platinum|gold|silver|bronze) \d(\d)\d\d([a-z]*)\b")
_E5 = re.compile(r"\bxeon e[57] \d{4}[a-z]*(?: v(\d))?\b")
_XEON_E = re.compile(r"\bxeon e 2[12]\d\d")
_XEON_6 = re.compile(r"\bxeon 6\d{3}p\b")


def _from_name(name: str) -> str | None:
    key = normalise_cpu_name(name)
    if m := _EPYC.search(key):
        series, generation = m.groups()
        if (series == "7" and generation in "123") or (series in "489" and generation in "45"):
            return f"EPYC {_EPYC_GENERATIONS[generation]} Gen"
        return None
    if m := _SCALABLE.search(key):
        generation, suffix = m.groups()
        if generation == "3" and suffix.startswith("h"):
            return "Cascade Lake"  # Cooper Lake (83xxH): Cascade Lake's core
        return _XEON_SCALABLE.get(generation)
    if m := _E5.search(key):
        return _XEON_E5.get(m.group(1) or "")
    if _XEON_E.search(key):
        return "Coffee Lake"
    if _XEON_6.search(key):
        return "Granite Rapids"
    return None


def _from_numbers(cpu: HostCpu) -> str | None:
    vendor = cpu.vendor_id.lower()
    if "intel" in vendor and cpu.family == 6:
        if cpu.model == 85:
            return "Skylake" if 0 <= cpu.stepping <= 4 else "Cascade Lake"
        return _INTEL_MODELS.get(cpu.model)
    if "amd" in vendor:
        return _AMD_MODELS.get((cpu.family, cpu.model))
    return None


def microarchitecture(cpu: HostCpu) -> tuple[str | None, str]:
    """The CPU's microarchitecture as the per-vCPU table names it (None when unknown), and
    how it was told, in words."""
    if cpu.cpu_part in _ARM_PARTS:
        return _ARM_PARTS[cpu.cpu_part], f"ARM CPU part {cpu.cpu_part}"
    if cpu.model_name and (arch := _from_name(cpu.model_name)):
        return arch, f"model name {cpu.model_name!r}"
    if arch := _from_numbers(cpu):
        return arch, f"{cpu.vendor_id} family {cpu.family} model {cpu.model}"
    if "amx_tile" in cpu.flags:
        return "Sapphire Rapids", "AMX flag (Sapphire Rapids or newer; the oldest assumed)"
    return None, ""


def vcpu_power(arch: str | None) -> VcpuPower:
    """The table's row for ``arch``, or the ``average`` row when it is None or not listed."""
    table = vcpu_table()
    return table.get(arch or AVERAGE, table[AVERAGE])
