"""A fake NVML module: a test double for the hardware edge (see also ``_fake_amdsmi``).

:class:`FakeNvml` stands in for the ``pynvml`` module (nvidia-ml-py) and
:class:`FakeAmdSmi` for the ``amdsmi`` module. Pass one to
:func:`carbonledger.sensors.gpu.nvidia.discover_nvml` or
:func:`carbonledger.sensors.gpu.amd.discover_amd` instead of the real module, and drive
the simulated GPUs from the test::

    nvml = FakeNvml([FakeGpu("NVIDIA H100 80GB HBM3", "GPU-aaaa", power_mw=300_000)])
    sensors, infos = discover_nvml(nvml, env={}, clock=nvml.clock)
    nvml.advance(0, joules=30.0, seconds=0.1)   # 300 W for 100 ms
    sensors[0].read().energy_j                  # 30.0

The fakes keep their own simulated time (``clock()``, moved by ``tick`` and
``advance``), or follow a clock you give them (``FakeNvml(gpus, clock=FakeClock())``):
either way a GPU's counter grows by its power x elapsed time, so sensors given
``clock=fake.clock`` see time and energy move together. Units are the vendors':
NVML counts millijoules and reports milliwatts; amdsmi counts ticks of
``counter_resolution`` microjoules and reports socket power in watts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from carbonledger.testing._fake_gpus import SimulatedGpus

__all__ = ["FakeGpu", "FakeNvml", "NVMLError"]


# --------------------------------------------------------------------------- NVML


# The NVML return codes the fake raises (same values as nvml.h / pynvml).
NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_UNKNOWN = 999

_NVML_MESSAGES = {
    NVML_ERROR_UNINITIALIZED: "Uninitialized",
    NVML_ERROR_INVALID_ARGUMENT: "Invalid Argument",
    NVML_ERROR_NOT_SUPPORTED: "Not Supported",
    NVML_ERROR_NO_PERMISSION: "Insufficient Permissions",
    NVML_ERROR_NOT_FOUND: "Not Found",
    NVML_ERROR_DRIVER_NOT_LOADED: "Driver Not Loaded",
    NVML_ERROR_LIBRARY_NOT_FOUND: "NVML Shared Library Not Found",
    NVML_ERROR_FUNCTION_NOT_FOUND: "Function Not Found",
    NVML_ERROR_GPU_IS_LOST: "GPU is lost",
    NVML_ERROR_UNKNOWN: "Unknown Error",
}


class NVMLError(Exception):
    """The fake's NVML error: ``value`` is the NVML return code, like pynvml's."""

    def __init__(self, value: int) -> None:
        super().__init__(value)
        self.value = value

    def __str__(self) -> str:
        return _NVML_MESSAGES.get(self.value, f"NVML Error with code {self.value}")


@dataclass
class FakeGpu:
    """One simulated NVIDIA GPU.

    ``energy_mj`` is the total-energy counter (millijoules since "driver load");
    ``power_mw`` the power draw. ``has_energy_counter=False`` simulates a pre-Volta
    GPU (the counter raises NOT_SUPPORTED); ``has_power=False`` one that reports no
    power either. ``mig=True`` turns MIG mode on; ``mig_uuids`` are its MIG
    instances. ``fail=True`` makes every call on this GPU (from the handle lookup
    on) raise ``fail_code``; set ``read_error`` to an NVML code at any time to make
    the energy and power reads raise it.
    """

    name: str = "NVIDIA A100-SXM4-80GB"
    uuid: str = "GPU-00000000-0000-0000-0000-000000000000"
    energy_mj: float = 0.0
    power_mw: float = 0.0
    has_energy_counter: bool = True
    mig: bool = False
    fail: bool = False
    has_power: bool = True
    mig_uuids: list[str] = field(default_factory=list)
    power_limit_mw: int = 400_000
    utilisation_percent: int = 0
    fail_code: int = NVML_ERROR_GPU_IS_LOST
    read_error: int | None = None


@dataclass(frozen=True)
class _NvmlHandle:
    index: int
    mig_slot: int | None = None


@dataclass(frozen=True)
class _Utilization:
    gpu: int
    memory: int


class FakeNvml(SimulatedGpus[FakeGpu]):
    """A module-like stand-in for ``pynvml``, over a list of :class:`FakeGpu`.

    ``init_error`` (an NVML code such as ``NVML_ERROR_LIBRARY_NOT_FOUND``) makes
    ``nvmlInit`` fail like a machine without the NVIDIA driver. ``init_calls`` and
    ``shutdown_calls`` count the lifecycle calls so tests can check they pair up.
    """

    NVMLError = NVMLError
    NVML_SUCCESS = NVML_SUCCESS
    NVML_ERROR_UNINITIALIZED = NVML_ERROR_UNINITIALIZED
    NVML_ERROR_INVALID_ARGUMENT = NVML_ERROR_INVALID_ARGUMENT
    NVML_ERROR_NOT_SUPPORTED = NVML_ERROR_NOT_SUPPORTED
    NVML_ERROR_NO_PERMISSION = NVML_ERROR_NO_PERMISSION
    NVML_ERROR_NOT_FOUND = NVML_ERROR_NOT_FOUND
    NVML_ERROR_DRIVER_NOT_LOADED = NVML_ERROR_DRIVER_NOT_LOADED
    NVML_ERROR_LIBRARY_NOT_FOUND = NVML_ERROR_LIBRARY_NOT_FOUND
    NVML_ERROR_FUNCTION_NOT_FOUND = NVML_ERROR_FUNCTION_NOT_FOUND
    NVML_ERROR_GPU_IS_LOST = NVML_ERROR_GPU_IS_LOST
    NVML_ERROR_UNKNOWN = NVML_ERROR_UNKNOWN
    NVML_DEVICE_MIG_DISABLE = 0
    NVML_DEVICE_MIG_ENABLE = 1

    def __init__(
        self,
        gpus: list[FakeGpu] | None = None,
        *,
        init_error: int | None = None,
        driver_version: str = "550.54.15",
        start_s: float = 0.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(gpus, init_error=init_error, start_s=start_s, clock=clock)
        self.driver_version = driver_version

    # ---- NVML's units: the counter in mJ, the power in mW

    def _accrue(self, gpu: FakeGpu, elapsed_s: float) -> None:
        gpu.energy_mj += gpu.power_mw * elapsed_s  # mW x s = mJ

    def _add_energy_j(self, gpu: FakeGpu, energy_j: float) -> None:
        gpu.energy_mj += energy_j * 1e3

    def _set_power_w(self, gpu: FakeGpu, power_w: float) -> None:
        gpu.power_mw = power_w * 1e3

    def reset_counter(self, index: int, energy_mj: float = 0.0) -> None:
        """Simulate a driver reload: the energy counter restarts from ``energy_mj``."""
        with self._lock:
            self._sync()
            self.gpus[index].energy_mj = energy_mj

    # ---- NVML

    def _check_init(self) -> None:
        if self.init_calls <= self.shutdown_calls:
            raise NVMLError(NVML_ERROR_UNINITIALIZED)

    def _gpu(self, handle: Any) -> FakeGpu:
        self._check_init()
        if not isinstance(handle, _NvmlHandle) or not 0 <= handle.index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        gpu = self.gpus[handle.index]
        if gpu.fail:
            raise NVMLError(gpu.fail_code)
        return gpu

    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.init_calls += 1

    def nvmlShutdown(self) -> None:
        self._check_init()
        self.shutdown_calls += 1

    def nvmlSystemGetDriverVersion(self) -> str:
        self._check_init()
        return self.driver_version

    def nvmlDeviceGetCount(self) -> int:
        self._check_init()
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> _NvmlHandle:
        self._check_init()
        if not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        if self.gpus[index].fail:
            raise NVMLError(self.gpus[index].fail_code)
        return _NvmlHandle(index)

    def nvmlDeviceGetHandleByUUID(self, uuid: str) -> _NvmlHandle:
        self._check_init()
        for index, gpu in enumerate(self.gpus):
            if gpu.uuid == uuid:
                if gpu.fail:
                    raise NVMLError(gpu.fail_code)
                return _NvmlHandle(index)
        raise NVMLError(NVML_ERROR_NOT_FOUND)

    def nvmlDeviceGetUUID(self, handle: Any) -> str:
        gpu = self._gpu(handle)
        if handle.mig_slot is not None:
            return str(gpu.mig_uuids[handle.mig_slot])
        return gpu.uuid

    def nvmlDeviceGetName(self, handle: Any) -> str:
        return self._gpu(handle).name

    def nvmlDeviceGetMigMode(self, handle: Any) -> list[int]:
        gpu = self._gpu(handle)
        mode = self.NVML_DEVICE_MIG_ENABLE if gpu.mig else self.NVML_DEVICE_MIG_DISABLE
        return [mode, mode]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: Any) -> int:
        gpu = self._gpu(handle)
        return 7 if gpu.mig else 0

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: Any, index: int) -> _NvmlHandle:
        gpu = self._gpu(handle)
        if not gpu.mig or not 0 <= index < len(gpu.mig_uuids):
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return _NvmlHandle(handle.index, index)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
        gpu = self._gpu(handle)
        if gpu.read_error is not None:
            raise NVMLError(gpu.read_error)
        if not gpu.has_energy_counter or handle.mig_slot is not None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        with self._lock:
            self._sync()
            return int(gpu.energy_mj)  # NVML returns an integer count of mJ

    def nvmlDeviceGetPowerUsage(self, handle: Any) -> int:
        gpu = self._gpu(handle)
        if gpu.read_error is not None:
            raise NVMLError(gpu.read_error)
        if not gpu.has_power:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        return int(gpu.power_mw)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: Any) -> int:
        return self._gpu(handle).power_limit_mw

    def nvmlDeviceGetUtilizationRates(self, handle: Any) -> _Utilization:
        gpu = self._gpu(handle)
        return _Utilization(gpu=gpu.utilisation_percent, memory=0)
