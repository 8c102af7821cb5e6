"""The Sensor protocol: read hardware, nothing else.

A sensor knows one device. ``read()`` returns *cumulative* energy since the sensor
was created (see :class:`carbonledger.models.Reading`); it is thread-safe because the
sampler thread and window boundaries both call it. A sensor that cannot work here is
never constructed as working: discovery returns its :class:`SensorInfo` with
``available=False``, the reason and the fix.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from carbonledger.models import SensorInfo

if TYPE_CHECKING:
    from carbonledger.models import Reading

__all__ = ["Sensor", "unavailable_gpu_info"]


@runtime_checkable
class Sensor(Protocol):
    """One device's energy source."""

    @property
    def info(self) -> SensorInfo:
        """What this sensor measures and how."""
        ...

    def read(self) -> Reading:
        """Cumulative energy in joules since creation (thread-safe).

        Raises :class:`carbonledger.errors.SensorError` when the hardware read fails.
        """
        ...

    def close(self) -> None:
        """Release handles (NVML, files). Idempotent."""
        ...


def unavailable_gpu_info(
    method: str, reason: str, fix: str, *, device: str, model: str = "", uid: str = ""
) -> SensorInfo:
    """The description of a GPU (or of all GPUs) that cannot be measured, and why."""
    return SensorInfo(
        component="gpu",
        device=device,
        method=method,
        measured=False,
        available=False,
        model=model,
        reason=reason,
        fix=fix,
        host_wide=False,
        uid=uid,
    )
