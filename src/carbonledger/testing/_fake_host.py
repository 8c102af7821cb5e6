"""A fake host description: ``/proc/cpuinfo`` and the ``/sys`` files read to tell a
virtual machine from bare metal, written under a folder of the test's."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

__all__ = ["FakeHost"]

_DEFAULT_FLAGS = ("fpu", "vme", "de", "pse", "tsc", "msr", "pae", "sse", "sse2", "avx2")


class FakeHost:
    """Write a fake ``cpuinfo`` file and ``sys`` tree under ``root``.

    Pass :attr:`cpuinfo` and :attr:`sys_root` to
    :func:`carbonledger.discover` (``cpuinfo=``, ``sys_root=``)::

        host = FakeHost(tmp_path, "AMD EPYC 7B13", vcpus=2, hypervisor=True)
        found = discover(cpuinfo=host.cpuinfo, sys_root=host.sys_root, cpu_count=2, ...)

    ``hypervisor=True`` sets the CPU's ``hypervisor`` flag, as every KVM, Xen HVM,
    Hyper-V or VMware guest reports it; :meth:`set_dmi` writes the DMI vendor and product
    strings; :meth:`set_xen` the ``/sys/hypervisor/type`` of a Xen guest.
    """

    def __init__(
        self,
        root: Path,
        model_name: str = "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz",
        *,
        vcpus: int = 2,
        sockets: int = 1,
        hypervisor: bool = False,
        vendor_id: str = "",
        family: int | None = None,
        model: int | None = None,
        stepping: int | None = None,
        flags: Iterable[str] = _DEFAULT_FLAGS,
        cpu_part: str = "",
    ) -> None:
        self.root = Path(root)
        self.cpuinfo = self.root / "proc" / "cpuinfo"
        self.sys_root = self.root / "sys"
        self.cpuinfo.parent.mkdir(parents=True, exist_ok=True)
        self.sys_root.mkdir(parents=True, exist_ok=True)
        all_flags = [*flags, *(["hypervisor"] if hypervisor else [])]
        vendor = vendor_id or ("AuthenticAMD" if "amd" in model_name.lower() else "GenuineIntel")
        blocks = []
        for cpu in range(vcpus):
            lines = [f"processor\t: {cpu}", f"vendor_id\t: {vendor}"]
            if family is not None:
                lines.append(f"cpu family\t: {family}")
            if model is not None:
                lines.append(f"model\t\t: {model}")
            if model_name:
                lines.append(f"model name\t: {model_name}")
            if stepping is not None:
                lines.append(f"stepping\t: {stepping}")
            lines.append(f"physical id\t: {cpu * sockets // vcpus}")
            lines.append(f"flags\t\t: {' '.join(all_flags)}")
            if cpu_part:
                lines.append(f"CPU part\t: {cpu_part}")
            blocks.append("\n".join(lines) + "\n")
        self.cpuinfo.write_text("\n".join(blocks))

    def set_dmi(self, sys_vendor: str, product_name: str) -> None:
        """Write ``/sys/class/dmi/id/sys_vendor`` and ``product_name``."""
        dmi = self.sys_root / "class" / "dmi" / "id"
        dmi.mkdir(parents=True, exist_ok=True)
        (dmi / "sys_vendor").write_text(sys_vendor + "\n")
        (dmi / "product_name").write_text(product_name + "\n")

    def set_xen(self) -> None:
        """Write ``/sys/hypervisor/type`` as a Xen guest has it."""
        folder = self.sys_root / "hypervisor"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "type").write_text("xen\n")
