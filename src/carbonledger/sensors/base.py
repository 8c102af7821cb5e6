"""The Sensor protocol: read hardware, nothing else.

A sensor knows one device. ``read()`` returns *cumulative* energy since the sensor
was created (see :class:`carbonledger.models.Reading`); it is thread-safe because the
sampler thread and window boundaries both call it. A sensor that cannot work here is
never constructed as working: discovery returns its :class:`SensorInfo` with
``available=False``, the reason and the fix.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    from typing import Protocol, runtime_checkable

    from carbonledger.models import Reading, SensorInfo
else:
    from carbonledger._lite import Protocol, runtime_checkable

__all__ = ["Sensor"]


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
