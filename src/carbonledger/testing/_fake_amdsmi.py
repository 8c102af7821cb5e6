"""A fake amdsmi module: a test double for the hardware edge.

:class:`FakeAmdSmi` stands in for the ``amdsmi`` module: pass it to
:func:`carbonledger.sensors.gpu.amd.discover_amd` and drive the simulated GPUs from the
test, as with :class:`carbonledger.testing.FakeNvml`. Units are amdsmi's: the energy
counter counts ticks of ``counter_resolution`` microjoules; socket power is in watts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from carbonledger.testing._fake_gpus import SimulatedGpus

__all__ = ["AmdSmiException", "AmdSmiLibraryException", "FakeAmdGpu", "FakeAmdSmi"]


# --------------------------------------------------------------------------- amdsmi


AMDSMI_STATUS_SUCCESS = 0
AMDSMI_STATUS_INVAL = 1
AMDSMI_STATUS_NOT_SUPPORTED = 2
AMDSMI_STATUS_INIT_ERROR = 8  # value irrelevant to callers; they test the class
AMDSMI_STATUS_NOT_INIT = 32


class AmdSmiException(Exception):
    """Base of the fake's amdsmi errors (like ``amdsmi.AmdSmiException``)."""


class AmdSmiLibraryException(AmdSmiException):
    """A library status code, like ``amdsmi.AmdSmiLibraryException``."""

    def __init__(self, err_code: int) -> None:
        super().__init__(err_code)
        self.err_code = err_code

    def get_error_code(self) -> int:
        return self.err_code

    def __str__(self) -> str:
        return f"An error occured with code: {self.err_code}"


class _AmdSmiInitFlags:
    INIT_ALL_PROCESSORS = 0xFFFFFFFF
    INIT_AMD_GPUS = 1 << 1


@dataclass
class FakeAmdGpu:
    """One simulated AMD GPU.

    The energy counter is ``energy_uj`` microjoules, reported as
    ``energy_accumulator`` ticks of ``counter_resolution_uj`` (about 15.3 µJ on
    real parts); ``legacy_keys=True`` reports it under the pre-6.4 key ``power``.
    ``power_w`` is the socket power in watts. ``fail`` makes every call on the GPU
    raise; ``read_error`` (a status code) makes only the energy and power reads
    raise.
    """

    market_name: str = "AMD Instinct MI250X"
    uuid: str = "00ff740f-0000-1000-8000-000000000000"
    energy_uj: float = 0.0
    power_w: float = 0.0
    has_energy_counter: bool = True
    has_power: bool = True
    counter_resolution_uj: float = 15.3
    legacy_keys: bool = False
    fail: bool = False
    read_error: int | None = None
    hip_uuid: str = ""


@dataclass(frozen=True)
class _AmdHandle:
    index: int


class FakeAmdSmi(SimulatedGpus[FakeAmdGpu]):
    """A module-like stand-in for ``amdsmi`` over a list of :class:`FakeAmdGpu`.

    ``init_error`` (a status code) makes ``amdsmi_init`` fail as on a machine
    without the amdgpu driver.
    """

    AmdSmiException = AmdSmiException
    AmdSmiLibraryException = AmdSmiLibraryException
    AmdSmiInitFlags = _AmdSmiInitFlags
    AMDSMI_STATUS_NOT_SUPPORTED = AMDSMI_STATUS_NOT_SUPPORTED

    def __init__(
        self,
        gpus: list[FakeAmdGpu] | None = None,
        *,
        init_error: int | None = None,
        start_s: float = 0.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(gpus, init_error=init_error, start_s=start_s, clock=clock)

    # ---- amdsmi's units: the counter in uJ, the socket power in W (see FakeNvml)

    def _accrue(self, gpu: FakeAmdGpu, elapsed_s: float) -> None:
        gpu.energy_uj += gpu.power_w * elapsed_s * 1e6

    def _add_energy_j(self, gpu: FakeAmdGpu, energy_j: float) -> None:
        gpu.energy_uj += energy_j * 1e6

    def _set_power_w(self, gpu: FakeAmdGpu, power_w: float) -> None:
        gpu.power_w = power_w

    def reset_counter(self, index: int, energy_uj: float = 0.0) -> None:
        """Simulate a driver reload: the accumulator restarts."""
        with self._lock:
            self._sync()
            self.gpus[index].energy_uj = energy_uj

    # ---- amdsmi

    def _check_init(self) -> None:
        if self.init_calls <= self.shutdown_calls:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_INIT)

    def _gpu(self, handle: Any) -> FakeAmdGpu:
        self._check_init()
        if not isinstance(handle, _AmdHandle) or not 0 <= handle.index < len(self.gpus):
            raise AmdSmiLibraryException(AMDSMI_STATUS_INVAL)
        gpu = self.gpus[handle.index]
        if gpu.fail:
            raise AmdSmiLibraryException(AMDSMI_STATUS_INVAL)
        return gpu

    def amdsmi_init(self, flag: int = _AmdSmiInitFlags.INIT_AMD_GPUS) -> None:
        if self.init_error is not None:
            raise AmdSmiLibraryException(self.init_error)
        self.init_calls += 1

    def amdsmi_shut_down(self) -> None:
        self._check_init()
        self.shutdown_calls += 1

    def amdsmi_get_processor_handles(self) -> list[_AmdHandle]:
        self._check_init()
        return [_AmdHandle(i) for i in range(len(self.gpus))]

    def amdsmi_get_gpu_asic_info(self, handle: Any) -> dict[str, Any]:
        gpu = self._gpu(handle)
        return {"market_name": gpu.market_name, "vendor_name": "Advanced Micro Devices Inc."}

    def amdsmi_get_gpu_device_uuid(self, handle: Any) -> str:
        return self._gpu(handle).uuid

    def amdsmi_get_gpu_enumeration_info(self, handle: Any) -> dict[str, Any]:
        gpu = self._gpu(handle)
        return {"hip_id": handle.index, "hip_uuid": gpu.hip_uuid or "N/A"}

    def amdsmi_get_energy_count(self, handle: Any) -> dict[str, Any]:
        gpu = self._gpu(handle)
        if gpu.read_error is not None:
            raise AmdSmiLibraryException(gpu.read_error)
        if not gpu.has_energy_counter:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        with self._lock:
            self._sync()
            ticks = int(gpu.energy_uj / gpu.counter_resolution_uj)
        key = "power" if gpu.legacy_keys else "energy_accumulator"
        return {
            key: ticks,
            "counter_resolution": gpu.counter_resolution_uj,
            "timestamp": int(self.now_s * 1e9),
        }

    def amdsmi_get_power_info(self, handle: Any) -> dict[str, Any]:
        gpu = self._gpu(handle)
        if gpu.read_error is not None:
            raise AmdSmiLibraryException(gpu.read_error)
        if not gpu.has_power:
            raise AmdSmiLibraryException(AMDSMI_STATUS_NOT_SUPPORTED)
        return {
            "current_socket_power": int(gpu.power_w),
            "average_socket_power": "N/A",
            "gfx_voltage": "N/A",
            "soc_voltage": "N/A",
            "mem_voltage": "N/A",
            "power_limit": 500_000_000,
        }
