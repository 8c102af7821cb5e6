"""NVIDIA GPUs through NVML (the ``pynvml`` module of nvidia-ml-py).

Two ways to measure, best first:

* ``nvml-energy`` (:class:`NvmlEnergySensor`): the GPU's total-energy counter
  (``nvmlDeviceGetTotalEnergyConsumption``, millijoules since the driver was
  loaded; Volta and newer). The energy of any interval is the counter difference.
* ``nvml-power`` (:class:`NvmlPowerSensor`): where that counter is not supported,
  the power reading (``nvmlDeviceGetPowerUsage``, milliwatts) is sampled at every
  ``read()`` and integrated with the trapezoid rule. Still a hardware reading
  (``measured=True``), but its accuracy depends on how often it is read.

Only the GPUs this process can see are measured: ``CUDA_VISIBLE_DEVICES`` is parsed
as CUDA does (see :func:`parse_cuda_visible_devices`). With MIG enabled, the counter
covers the whole physical GPU, so MIG instances map to their parent GPU, counted once.

The NVML module is injected (tests pass :class:`carbonledger.testing.FakeNvml`); by
default ``pynvml`` is imported lazily inside :func:`discover_nvml`, never at import
time. No NVIDIA driver is the normal case on CPU machines: discovery then returns no
sensor and one unavailable :class:`SensorInfo` that says so, and never raises.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from carbonledger.errors import SensorError
from carbonledger.models import SensorInfo
from carbonledger.sensors.base import Sensor, unavailable_gpu_info
from carbonledger.sensors.gpu.common import NVIDIA_DRIVER_FIX as _DRIVER_FIX
from carbonledger.sensors.gpu.common import (
    NVIDIA_DRIVER_PATHS,
    POWER_REASON,
    Clock,
    CounterSensor,
    LibraryLease,
    PowerIntegratingSensor,
    gpu_info,
    join_reasons,
    nvidia_driver_missing,
)
from carbonledger.sensors.gpu.cuda_visible import (
    Gpu,
    index_order_note,
    parse_cuda_visible_devices,
    resolve_visible,
    text,
)
from carbonledger.units import mj_to_j, mw_to_w

if TYPE_CHECKING:
    from carbonledger.sensors.base import Probe, ProbeContext

__all__ = [
    "NvmlEnergySensor",
    "NvmlPowerSensor",
    "discover_nvml",
    "gpu_utilisation_percent",
    "nvml_driver_version",
    "parse_cuda_visible_devices",
    "probe",
]

# NVML return codes (nvml.h); used when an injected module lacks the constant.
_NOT_SUPPORTED = 3
_NOT_FOUND = 6
_DRIVER_NOT_LOADED = 9
_LIBRARY_NOT_FOUND = 12
_FUNCTION_NOT_FOUND = 13
_MIG_ENABLE = 1

MIG_REASON = (
    "MIG enabled: the energy counter covers the whole physical GPU (every MIG "
    "instance on it, whoever uses them); counted once per physical GPU"
)


# --------------------------------------------------------------------------- helpers


def _error_class(nvml: Any) -> type[BaseException]:
    cls = getattr(nvml, "NVMLError", None)
    return cls if isinstance(cls, type) and issubclass(cls, BaseException) else Exception


def _code(nvml: Any, name: str, default: int) -> int:
    value = getattr(nvml, name, default)
    return value if isinstance(value, int) else default


def _error_value(exc: BaseException) -> int | None:
    value = getattr(exc, "value", None)
    return value if isinstance(value, int) else None


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    value = _error_value(exc)
    return f"{text} (NVML error {value})" if value is not None else text


class _NvmlReads:
    """The NVML reads both NVIDIA sensors share (mixed into the generic sensors)."""

    _nvml: Any
    _errors: type[BaseException]
    _handle: Any
    _info: SensorInfo
    power_limit_w: float | None

    def _setup(self, nvml: Any, power_limit_w: float | None) -> None:
        self._nvml = nvml
        self._errors = _error_class(nvml)
        self.power_limit_w = power_limit_w
        """The enforced power limit in watts, when NVML reports it."""

    def _read_power_w(self) -> float:
        try:
            return mw_to_w(float(self._nvml.nvmlDeviceGetPowerUsage(self._handle)))
        except self._errors as exc:
            raise SensorError(
                f"{self._info.device}: NVML power read failed: {_describe(exc)}"
            ) from exc


class NvmlEnergySensor(_NvmlReads, CounterSensor):
    """Cumulative energy from the GPU's total-energy counter (method ``nvml-energy``).

    ``read().energy_j`` is the counter difference since construction; a counter that goes
    backwards (the driver was reloaded) is a reset (see :class:`CounterSensor`).
    ``power_w`` is NVML's power reading when the GPU reports one (on Ampere and newer,
    except GA100, it is a 1 s average), else None. Raises :class:`SensorError` if the
    first counter read fails.
    """

    def __init__(
        self,
        nvml: Any,
        handle: Any,
        *,
        device: str,
        model: str = "",
        uid: str = "",
        reason: str = "",
        clock: Clock = time.monotonic,
        lease: LibraryLease | None = None,
        power_limit_w: float | None = None,
        report_power: bool = True,
    ) -> None:
        self._setup(nvml, power_limit_w)
        info = gpu_info("nvml-energy", device, model, uid, reason)
        CounterSensor.__init__(
            self, handle, info, clock=clock, lease=lease, report_power=report_power
        )

    def _counter_j(self) -> float:
        try:
            return mj_to_j(float(self._nvml.nvmlDeviceGetTotalEnergyConsumption(self._handle)))
        except self._errors as exc:
            raise SensorError(
                f"{self._info.device}: NVML energy counter read failed: {_describe(exc)}"
            ) from exc


class NvmlPowerSensor(_NvmlReads, PowerIntegratingSensor):
    """Cumulative energy integrated from NVML power readings (method ``nvml-power``), for
    GPUs without an energy counter (before Volta); see :class:`PowerIntegratingSensor`."""

    def __init__(
        self,
        nvml: Any,
        handle: Any,
        *,
        device: str,
        model: str = "",
        uid: str = "",
        reason: str = "",
        clock: Clock = time.monotonic,
        lease: LibraryLease | None = None,
        power_limit_w: float | None = None,
    ) -> None:
        self._setup(nvml, power_limit_w)
        info = gpu_info("nvml-power", device, model, uid, join_reasons(POWER_REASON, reason))
        PowerIntegratingSensor.__init__(self, handle, info, clock=clock, lease=lease)


# --------------------------------------------------------------------------- discovery


def _unavailable(
    reason: str, fix: str, *, device: str = "gpu", model: str = "", uid: str = ""
) -> SensorInfo:
    return unavailable_gpu_info("nvml", reason, fix, device=device, model=model, uid=uid)


def _init_failure(nvml: Any, exc: BaseException) -> SensorInfo:
    value = _error_value(exc)
    if value == _code(nvml, "NVML_ERROR_LIBRARY_NOT_FOUND", _LIBRARY_NOT_FOUND):
        reason = (
            "no NVIDIA GPU measured: the NVIDIA driver library (libnvidia-ml.so.1) "
            "was not found, as on any machine without an NVIDIA GPU"
        )
    elif value == _code(nvml, "NVML_ERROR_DRIVER_NOT_LOADED", _DRIVER_NOT_LOADED):
        reason = "no NVIDIA GPU measured: the NVIDIA driver is installed but not loaded"
    else:
        reason = f"no NVIDIA GPU measured: NVML failed to start: {_describe(exc)}"
    return _unavailable(reason, _DRIVER_FIX)


def _is_mig(nvml: Any, handle: Any) -> bool:
    try:
        mode = nvml.nvmlDeviceGetMigMode(handle)
    except Exception:  # NOT_SUPPORTED on GPUs without MIG
        return False
    current = mode[0] if isinstance(mode, (list, tuple)) else mode
    return bool(current == _code(nvml, "NVML_DEVICE_MIG_ENABLE", _MIG_ENABLE))


def _power_limit_w(nvml: Any, handle: Any) -> float | None:
    try:
        return mw_to_w(float(nvml.nvmlDeviceGetEnforcedPowerLimit(handle)))
    except Exception:  # optional information
        return None


def _open_gpu(
    nvml: Any, gpu: Gpu, *, note: str, clock: Clock, lease: LibraryLease
) -> Sensor | SensorInfo:
    """The best sensor for one visible GPU, or its unavailable SensorInfo."""
    device = f"gpu:{gpu.index}"
    if gpu.error:
        return _unavailable(
            f"NVML could not open this GPU: {gpu.error}",
            "check `nvidia-smi`; a lost GPU (Xid errors in `dmesg`) needs a reset or reboot",
            device=device,
            model=gpu.name,
            uid=gpu.uuid,
        )
    errors = _error_class(nvml)
    reason = join_reasons(MIG_REASON if _is_mig(nvml, gpu.handle) else "", note)
    limit = _power_limit_w(nvml, gpu.handle)
    common: dict[str, Any] = {
        "device": device,
        "model": gpu.name,
        "uid": gpu.uuid,
        "reason": reason,
        "clock": clock,
        "lease": lease,
        "power_limit_w": limit,
    }
    no_counter = {
        _code(nvml, "NVML_ERROR_NOT_SUPPORTED", _NOT_SUPPORTED),
        _code(nvml, "NVML_ERROR_FUNCTION_NOT_FOUND", _FUNCTION_NOT_FOUND),
    }
    try:
        nvml.nvmlDeviceGetTotalEnergyConsumption(gpu.handle)
    except errors as exc:
        if _error_value(exc) not in no_counter:
            return _unavailable(
                f"NVML energy counter read failed: {_describe(exc)}",
                "check `nvidia-smi -q -d POWER`; a lost GPU needs a reset or reboot",
                device=device,
                model=gpu.name,
                uid=gpu.uuid,
            )
        lease.acquire()
        try:
            return NvmlPowerSensor(nvml, gpu.handle, **common)
        except SensorError as power_exc:
            lease.release()
            return _unavailable(
                f"this GPU reports neither an energy counter nor its power ({power_exc})",
                "none with NVML: this GPU's energy can only be estimated (TDP model)",
                device=device,
                model=gpu.name,
                uid=gpu.uuid,
            )
    lease.acquire()
    try:
        return NvmlEnergySensor(nvml, gpu.handle, **common)
    except SensorError as exc:
        lease.release()
        return _unavailable(
            str(exc), "check `nvidia-smi`", device=device, model=gpu.name, uid=gpu.uuid
        )


def discover_nvml(
    nvml: Any | None = None,
    *,
    env: Mapping[str, str] | None = None,
    clock: Clock = time.monotonic,
    driver_paths: Sequence[str | os.PathLike[str]] = NVIDIA_DRIVER_PATHS,
) -> tuple[list[Sensor], list[SensorInfo]]:
    """Open a sensor for every NVIDIA GPU this process can see.

    Returns ``(sensors, infos)``: ``infos`` has one entry per visible GPU (working or
    not, in ``CUDA_VISIBLE_DEVICES`` order), plus one ``device="gpu"`` entry when
    something concerns all GPUs (no driver, none visible, an invalid
    ``CUDA_VISIBLE_DEVICES`` entry). Never raises for missing hardware or a missing
    ``pynvml``; close the sensors when done (the last close shuts NVML down).

    ``nvml`` is the NVML module (default: ``import pynvml``); ``env`` the environment
    (default: ``os.environ``); ``clock`` the sensors' clock in seconds. Without an
    injected module, NVML is only loaded when one of ``driver_paths`` (the driver's
    device node or procfs entry) exists, so hosts without NVIDIA GPUs pay nothing.
    """
    if env is None:
        env = os.environ
    if nvml is None:
        missing = nvidia_driver_missing(driver_paths)
        if missing is not None:
            return [], [missing]
        try:
            import pynvml
        except ImportError as exc:
            return [], [
                _unavailable(
                    f"nvidia-ml-py (module pynvml) is not installed ({exc})",
                    "pip install nvidia-ml-py (a dependency of carbonledger: reinstall it)",
                )
            ]
        nvml = pynvml
    errors = _error_class(nvml)
    try:
        nvml.nvmlInit()
    except errors as exc:
        return [], [_init_failure(nvml, exc)]
    except OSError as exc:
        return [], [_unavailable(f"no NVIDIA GPU measured: {exc}", _DRIVER_FIX)]
    lease = LibraryLease(nvml.nvmlShutdown)
    try:
        return _discover(nvml, env=env, clock=clock, lease=lease)
    finally:
        lease.release()  # discovery's own reference; sensors hold theirs


def _discover(
    nvml: Any, *, env: Mapping[str, str], clock: Clock, lease: LibraryLease
) -> tuple[list[Sensor], list[SensorInfo]]:
    errors = _error_class(nvml)
    try:
        count = int(nvml.nvmlDeviceGetCount())
    except errors as exc:
        return [], [
            _unavailable(
                f"NVML started but could not count GPUs: {_describe(exc)}", "check `nvidia-smi`"
            )
        ]
    if count == 0:
        return [], [
            _unavailable(
                "the NVIDIA driver is loaded but reports no GPU",
                "check `nvidia-smi`; in a container, pass the GPUs through (--gpus all)",
            )
        ]
    gpus: list[Gpu] = []
    for index in range(count):
        gpu = Gpu(index)
        try:
            gpu.handle = nvml.nvmlDeviceGetHandleByIndex(index)
            gpu.uuid = text(nvml.nvmlDeviceGetUUID(gpu.handle))
            gpu.name = text(nvml.nvmlDeviceGetName(gpu.handle))
        except errors as exc:
            gpu.error = _describe(exc)
        gpus.append(gpu)

    raw = env.get("CUDA_VISIBLE_DEVICES")
    tokens = parse_cuda_visible_devices(raw)
    visible, invalid = resolve_visible(nvml, tokens, gpus)
    infos: list[SensorInfo] = []
    if invalid:
        infos.append(
            _unavailable(
                f"CUDA_VISIBLE_DEVICES={raw!r}: entry {invalid!r} names no GPU here, so "
                f"CUDA ignores it and every entry after it"
                + ("" if visible else "; no GPU is visible to this process"),
                f"use GPU indices (0..{count - 1}), GPU-/MIG- UUIDs from `nvidia-smi -L`, "
                "or unset CUDA_VISIBLE_DEVICES to see every GPU",
            )
        )
    elif not visible:
        infos.append(
            _unavailable(
                f"CUDA_VISIBLE_DEVICES={raw!r} hides every GPU from this process",
                "unset CUDA_VISIBLE_DEVICES, or list the GPUs to measure",
            )
        )
    note = index_order_note(tokens, gpus, env)
    sensors: list[Sensor] = []
    for index in visible:
        opened = _open_gpu(nvml, gpus[index], note=note, clock=clock, lease=lease)
        if isinstance(opened, SensorInfo):
            infos.append(opened)
        else:
            sensors.append(opened)
            infos.append(opened.info)
    return sensors, infos


def probe(ctx: ProbeContext) -> Probe:
    """The registry's ``nvidia`` entry: every NVIDIA GPU visible to the process (see
    :func:`discover_nvml`; ``hardware={"nvidia": module}`` injects the NVML module)."""
    from carbonledger.sensors.base import Probe

    sensors, infos = discover_nvml(ctx.hardware("nvidia"), env=ctx.env, clock=ctx.clock)
    notes = (f"gpu: {len(sensors)} NVIDIA GPU(s) via NVML",) if sensors else ()
    return Probe(tuple(sensors), tuple(infos), notes)


# --------------------------------------------------------------------------- extras


def gpu_utilisation_percent(sensor: Sensor) -> float | None:
    """The GPU's utilisation (0-100 %) over NVML's last sample period, for an NVML
    sensor; None for another sensor or when NVML cannot say."""
    if not isinstance(sensor, _NvmlReads):
        return None
    try:
        rates = sensor._nvml.nvmlDeviceGetUtilizationRates(sensor._handle)
        return float(rates.gpu)
    except Exception:  # optional information
        return None


def nvml_driver_version(nvml: Any | None = None) -> str | None:
    """The NVIDIA driver version (e.g. ``"550.54.15"``), or None without a driver."""
    if nvml is None:
        try:
            import pynvml
        except ImportError:
            return None
        nvml = pynvml
    try:
        nvml.nvmlInit()
    except Exception:  # no driver: no version
        return None
    try:
        return text(nvml.nvmlSystemGetDriverVersion())
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):  # closing must never fail a run
            nvml.nvmlShutdown()
