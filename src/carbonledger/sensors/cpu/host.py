"""What the host's CPU is, and whether it is a virtual machine's.

Read from ``/proc/cpuinfo`` (model name, vendor, family/model/stepping, flags, ARM part,
packages) and, for the hypervisor, from ``/sys/hypervisor`` and the DMI strings in
``/sys/class/dmi/id``. Both roots are injectable, so tests describe a host in ``tmp_path``.
``platform`` is not used: on Linux it runs a subprocess and knows no more than cpuinfo.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["CPUINFO_PATH", "SYS_ROOT", "HostCpu", "hypervisor_hint", "read_host_cpu"]

CPUINFO_PATH = "/proc/cpuinfo"
SYS_ROOT = "/sys"

#: DMI vendor / product strings of virtual machines (lower case, matched as substrings)
_VM_DMI = (
    "kvm",
    "qemu",
    "vmware",
    "virtualbox",
    "virtual machine",  # Microsoft Hyper-V / Azure
    "hvm domu",  # Xen
    "google compute engine",
    "openstack",
    "bochs",
    "bhyve",
    "parallels",
    "cloud hypervisor",
    "firecracker",
)


@dataclass(frozen=True)
class HostCpu:
    """The host's CPU as ``/proc/cpuinfo`` describes it (empty fields when it does not say).

    ``family``/``model``/``stepping`` are x86 CPUID numbers (-1 when absent); ``cpu_part``
    the ARM part number (e.g. ``0xd0c``); ``processors`` the logical CPUs listed;
    ``sockets`` the distinct ``physical id`` values (at least 1).
    """

    model_name: str = ""
    vendor_id: str = ""
    family: int = -1
    model: int = -1
    stepping: int = -1
    flags: frozenset[str] = frozenset()
    cpu_part: str = ""
    processors: int = 0
    sockets: int = 1

    @property
    def hypervisor_flag(self) -> bool:
        """The CPU reports that it runs under a hypervisor (CPUID leaf 1, ECX bit 31)."""
        return "hypervisor" in self.flags


def _int(text: str) -> int:
    try:
        return int(text, 0) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return -1


def read_host_cpu(cpuinfo: str | os.PathLike[str] = CPUINFO_PATH) -> HostCpu:
    """Parse ``cpuinfo``; a missing or unreadable file gives an empty :class:`HostCpu`."""
    try:
        with open(cpuinfo, errors="replace") as fh:
            text = fh.read()
    except OSError:
        return HostCpu()
    first: dict[str, str] = {}
    processors = 0
    packages: set[str] = set()
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip().lower(), value.strip()
        if key == "processor":
            processors += 1
        elif key == "physical id":
            packages.add(value)
        if key not in first and value:
            first[key] = value
    return HostCpu(
        model_name=first.get("model name", ""),
        vendor_id=first.get("vendor_id", ""),
        family=_int(first.get("cpu family", "")),
        model=_int(first.get("model", "")),
        stepping=_int(first.get("stepping", "")),
        flags=frozenset((first.get("flags") or first.get("features") or "").split()),
        cpu_part=first.get("cpu part", "").lower(),
        processors=processors,
        sockets=max(1, len(packages)),
    )


def _read_text(path: str) -> str:
    try:
        with open(path, errors="replace") as fh:
            return fh.read().strip()
    except OSError:
        return ""


def hypervisor_hint(cpu: HostCpu, sys_root: str | os.PathLike[str] = SYS_ROOT) -> str:
    """Why this host looks like a virtual machine, in words; ``""`` when nothing says so.

    Evidence, first found wins: the ``hypervisor`` CPU flag; ``/sys/hypervisor/type``
    (Xen guests); a DMI vendor or product string of a known hypervisor (an Amazon EC2
    instance whose product name ends in ``.metal`` is bare metal).
    """
    if cpu.hypervisor_flag:
        return "the CPU reports a hypervisor ('hypervisor' flag in /proc/cpuinfo)"
    root = os.fspath(sys_root)
    kind = _read_text(os.path.join(root, "hypervisor", "type"))
    if kind:
        return f"/sys/hypervisor/type says {kind!r}"
    dmi = os.path.join(root, "class", "dmi", "id")
    vendor = _read_text(os.path.join(dmi, "sys_vendor"))
    product = _read_text(os.path.join(dmi, "product_name"))
    both = f"{vendor} {product}".lower()
    if vendor.lower().startswith("amazon ec2") and not product.lower().endswith(".metal"):
        return f"DMI says {vendor!r} {product!r} (an EC2 virtual instance)"
    for marker in _VM_DMI:
        if marker in both:
            return f"DMI says {vendor!r} {product!r} (a {marker} virtual machine)"
    return ""
