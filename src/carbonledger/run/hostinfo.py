"""Facts about the host a run measures: OS, Python, CPU, RAM, whether it looks like a cloud VM.

Read from ``os.uname()``, ``os.confstr`` and sysfs, never from :mod:`platform` (which runs
``uname -p`` in a subprocess). The values go into a run's metadata, CodeCarbon-compatible.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from carbonledger._version import __version__

if TYPE_CHECKING:
    from carbonledger.accounting import CarbonContext
    from carbonledger.run.membership import Membership
    from carbonledger.run.settings import TrackerSettings

__all__ = ["cloud_hint", "host_meta", "platform_string", "run_meta"]

_CLOUD_WORDS = ("amazon", "ec2", "google", "microsoft", "azure", "openstack", "alibaba", "oracle")


def platform_string() -> str:
    """The OS as ``platform.platform()`` writes it on Linux
    (``Linux-6.1.0-x86_64-with-glibc2.36``)."""
    u = os.uname()
    text = f"{u.sysname}-{u.release}-{u.machine}"
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (ValueError, OSError, AttributeError):
        libc = None
    if libc:
        text += "-with-" + libc.replace(" ", "")
    return text


def cloud_hint(dmi: str = "/sys/class/dmi/id") -> bool:
    """True when the DMI strings suggest a cloud VM (so the metadata probe is worth its time)."""
    for name in ("sys_vendor", "bios_vendor", "product_name", "chassis_asset_tag", "board_vendor"):
        try:
            with open(os.path.join(dmi, name), errors="replace") as fh:
                text = fh.read().lower()
        except OSError:
            continue
        if any(word in text for word in _CLOUD_WORDS):
            return True
    return False


def host_meta(
    *,
    cpu_model: str,
    gpu_models: Sequence[str],
    cloud: tuple[str | None, str | None],
    command: Sequence[str] | None,
) -> dict[str, Any]:
    """The host part of a run's metadata (CodeCarbon's column names where they exist)."""
    from carbonledger.sensors.memory import installed_ram_bytes
    from carbonledger.units import bytes_to_gb

    provider, region = cloud
    models = sorted(set(gpu_models))
    return {
        "os": platform_string(),
        "python_version": sys.version.split()[0],
        "carbonledger_version": __version__,
        "cpu_model": cpu_model,
        "cpu_count": os.cpu_count(),
        "gpu_model": ", ".join(models),
        "gpu_count": len(gpu_models),
        "ram_total_gb": bytes_to_gb(installed_ram_bytes()),
        "cloud_provider": provider or "",
        "cloud_region": region or "",
        "command": list(command) if command else list(sys.argv),
    }


def run_meta(
    settings: TrackerSettings,
    member: Membership,
    carbon: CarbonContext,
    *,
    cpu_model: str,
    gpu_models: Sequence[str],
    cloud: tuple[str | None, str | None],
    country_name: str,
    command: Sequence[str] | None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A run's metadata as its start record keeps it: the host, the location's names, the
    market factor, the data centre's WUE and the electricity price with their sources
    (``water``, ``electricity_price``: what readers turn into litres and a cost, see
    :func:`carbonledger.accounting.account`), the forecast's horizon, where the run id came
    from, and the SLURM job."""
    location = carbon.location
    slurm: dict[str, Any] = {}
    known = os.environ if env is None else env
    if "SLURM_JOB_ID" in known or "SLURM_JOBID" in known:  # the module loads only there
        from carbonledger.errors import InputError
        from carbonledger.run.slurm import job_meta

        try:
            slurm = job_meta(env)
        except InputError as exc:  # a malformed SLURM variable: said, not fatal
            slurm = {"error": str(exc)}
    return {
        **({"slurm": slurm} if slurm else {}),
        **host_meta(cpu_model=cpu_model, gpu_models=gpu_models, cloud=cloud, command=command),
        "country_name": country_name,
        "country_iso_code": location.split("-")[0] if ":" not in location else "",
        "region": location if "-" in location or ":" in location else "",
        "expected_epochs": settings.run.expected_epochs,
        "market_g_per_kwh": carbon.market_g_per_kwh,
        **({"water": carbon.water.to_dict()} if carbon.water is not None else {}),
        **({"electricity_price": carbon.price.to_dict()} if carbon.price is not None else {}),
        "run_id_source": member.run_id_source,
    }
