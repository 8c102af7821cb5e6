"""AMD GPUs through AMD SMI (the ``amdsmi`` Python package, extra ``carbonledger[amd]``).

Same shape as :mod:`carbonledger.sensors.gpu.nvidia`:

* ``amdsmi-energy`` (:class:`AmdEnergySensor`): the GPU's energy accumulator
  (``amdsmi_get_energy_count``: ``energy_accumulator`` ticks x ``counter_resolution``
  microjoules per tick; before amdsmi 6.4 the tick count was under the key
  ``power``). The energy of an interval is the counter difference.
* ``amdsmi-power`` (:class:`AmdPowerSensor`): where there is no counter, the socket
  power (``amdsmi_get_power_info``, watts) sampled at every ``read()`` and
  integrated with the trapezoid rule.

Visible devices follow the ROCm runtimes: ``ROCR_VISIBLE_DEVICES`` (indices or
``GPU-`` UUIDs) selects from all GPUs, then ``HIP_VISIBLE_DEVICES`` (or, when it is
unset, ``CUDA_VISIBLE_DEVICES``, which HIP honours too) picks indices among those.
Indices are positions in ``amdsmi_get_processor_handles()``.

``amdsmi`` is injected (tests pass :class:`carbonledger.testing.FakeAmdSmi`) or
imported lazily inside :func:`discover_amd`; without it, or without the amdgpu
driver, discovery returns one unavailable :class:`SensorInfo` and never raises.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

from carbonledger.errors import SensorError
from carbonledger.models import SensorInfo
from carbonledger.sensors.base import Sensor, unavailable_gpu_info
from carbonledger.sensors.gpu.common import (
    POWER_REASON,
    Clock,
    CounterSensor,
    LibraryLease,
    PowerIntegratingSensor,
    gpu_info,
    join_reasons,
    split_visible_devices,
)
from carbonledger.units import uj_to_j

if TYPE_CHECKING:
    from carbonledger.sensors.base import Probe, ProbeContext

__all__ = ["AmdEnergySensor", "AmdPowerSensor", "discover_amd", "probe"]

_INSTALL_FIX = "pip install carbonledger[amd] (it needs ROCm's AMD SMI library, libamd_smi)"
_POWER_KEYS = ("current_socket_power", "socket_power", "average_socket_power")
_INDEX = re.compile(r"[0-9]+")


def _error_class(amdsmi: Any) -> type[BaseException]:
    cls = getattr(amdsmi, "AmdSmiException", None)
    return cls if isinstance(cls, type) and issubclass(cls, BaseException) else Exception


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _number(value: Any) -> float | None:
    """amdsmi reports "N/A" (a string) for values a GPU does not provide."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


class _AmdReads:
    """The amdsmi reads both AMD sensors share (mixed into the generic sensors)."""

    _amdsmi: Any
    _errors: type[BaseException]
    _handle: Any
    _info: SensorInfo

    def _setup(self, amdsmi: Any) -> None:
        self._amdsmi = amdsmi
        self._errors = _error_class(amdsmi)

    def _read_power_w(self) -> float:
        try:
            info = self._amdsmi.amdsmi_get_power_info(self._handle)
        except self._errors as exc:
            raise SensorError(
                f"{self._info.device}: amdsmi power read failed: {_describe(exc)}"
            ) from exc
        for key in _POWER_KEYS:
            watts = _number(info.get(key)) if isinstance(info, Mapping) else None
            if watts is not None:
                return watts
        raise SensorError(f"{self._info.device}: amdsmi reports no socket power (N/A)")


class AmdEnergySensor(_AmdReads, CounterSensor):
    """Cumulative energy from the GPU's energy accumulator (method ``amdsmi-energy``).

    A counter that goes backwards (driver reload) is a reset (see :class:`CounterSensor`).
    ``power_w`` is the socket power when the GPU reports it, else None. Raises
    :class:`SensorError` if the first read fails.
    """

    def __init__(
        self,
        amdsmi: Any,
        handle: Any,
        *,
        device: str,
        model: str = "",
        uid: str = "",
        reason: str = "",
        clock: Clock = time.monotonic,
        lease: LibraryLease | None = None,
        report_power: bool = True,
    ) -> None:
        self._setup(amdsmi)
        info = gpu_info("amdsmi-energy", device, model, uid, reason)
        CounterSensor.__init__(
            self, handle, info, clock=clock, lease=lease, report_power=report_power
        )

    def _counter_j(self) -> float:
        try:
            count = self._amdsmi.amdsmi_get_energy_count(self._handle)
        except self._errors as exc:
            raise SensorError(
                f"{self._info.device}: amdsmi energy counter read failed: {_describe(exc)}"
            ) from exc
        ticks = resolution = None
        if isinstance(count, Mapping):
            ticks = _number(count.get("energy_accumulator", count.get("power")))
            resolution = _number(count.get("counter_resolution"))
        if ticks is None or resolution is None:
            raise SensorError(
                f"{self._info.device}: unexpected amdsmi_get_energy_count result {count!r}"
            )
        return uj_to_j(ticks * resolution)  # the resolution is in microjoules per tick


class AmdPowerSensor(_AmdReads, PowerIntegratingSensor):
    """Cumulative energy integrated from amdsmi socket power (method ``amdsmi-power``);
    see :class:`PowerIntegratingSensor`."""

    def __init__(
        self,
        amdsmi: Any,
        handle: Any,
        *,
        device: str,
        model: str = "",
        uid: str = "",
        reason: str = "",
        clock: Clock = time.monotonic,
        lease: LibraryLease | None = None,
    ) -> None:
        self._setup(amdsmi)
        info = gpu_info("amdsmi-power", device, model, uid, join_reasons(POWER_REASON, reason))
        PowerIntegratingSensor.__init__(self, handle, info, clock=clock, lease=lease)


# --------------------------------------------------------------------------- discovery


def _unavailable(
    reason: str, fix: str, *, device: str = "gpu:amd", model: str = "", uid: str = ""
) -> SensorInfo:
    return unavailable_gpu_info("amdsmi", reason, fix, device=device, model=model, uid=uid)


def _select(
    tokens: list[str] | None, candidates: Sequence[int], uuids: Mapping[int, Sequence[str]]
) -> tuple[list[int], str]:
    """Apply one visible-devices list to ``candidates`` (indices of all GPUs): entries
    are positions in ``candidates`` or UUID prefixes; stop at the first invalid one."""
    if tokens is None:
        return list(candidates), ""
    chosen: list[int] = []
    for token in tokens:
        match: int | None = None
        if _INDEX.fullmatch(token):
            position = int(token)
            match = candidates[position] if position < len(candidates) else None
        elif token.upper().startswith("GPU-") and uuids:
            wanted = token.lower()
            found = [
                i
                for i in candidates
                if any(u.lower().startswith(wanted) for u in uuids.get(i, ()) if u)
            ]
            match = found[0] if len(found) == 1 else None
        if match is None:
            return chosen, token
        if match not in chosen:
            chosen.append(match)
    return chosen, ""


def _amd_uuids(amdsmi: Any, handle: Any) -> list[str]:
    """The UUID forms a ROCR_VISIBLE_DEVICES entry may use for this GPU."""
    forms: list[str] = []
    try:
        info = amdsmi.amdsmi_get_gpu_enumeration_info(handle)
        hip_uuid = info.get("hip_uuid") if isinstance(info, Mapping) else None
        if isinstance(hip_uuid, str) and hip_uuid.upper().startswith("GPU-"):
            forms.append(hip_uuid)
    except Exception:  # older amdsmi has no enumeration info
        pass
    return forms


def discover_amd(
    amdsmi: Any | None = None,
    *,
    env: Mapping[str, str] | None = None,
    clock: Clock = time.monotonic,
) -> tuple[list[Sensor], list[SensorInfo]]:
    """Open a sensor for every AMD GPU this process can see.

    Returns ``(sensors, infos)`` like :func:`carbonledger.sensors.gpu.nvidia.discover_nvml`.
    Devices are named ``gpu:amd-<index>``; ``device="gpu:amd"`` carries what concerns
    all AMD GPUs (package missing, no driver, none visible). Never raises for missing
    hardware or a missing package.
    """
    if env is None:
        env = os.environ
    if amdsmi is None:
        try:
            import amdsmi as amdsmi_module
        except Exception as exc:  # ImportError, or OSError when libamd_smi is missing
            return [], [
                _unavailable(
                    f"no AMD GPU measured: the amdsmi package is not usable ({_describe(exc)})",
                    _INSTALL_FIX + "; nothing to do on a machine without an AMD GPU",
                )
            ]
        amdsmi = amdsmi_module
    errors = _error_class(amdsmi)
    flags = getattr(amdsmi, "AmdSmiInitFlags", None)
    try:
        if flags is not None and hasattr(flags, "INIT_AMD_GPUS"):
            amdsmi.amdsmi_init(flags.INIT_AMD_GPUS)
        else:
            amdsmi.amdsmi_init()
    except (errors, OSError) as exc:
        return [], [
            _unavailable(
                f"no AMD GPU measured: AMD SMI failed to start ({_describe(exc)})",
                "nothing to do on a machine without an AMD GPU; otherwise load the amdgpu "
                "driver (`amd-smi list` should work)",
            )
        ]
    lease = LibraryLease(amdsmi.amdsmi_shut_down)
    try:
        return _discover(amdsmi, env=env, clock=clock, lease=lease)
    finally:
        lease.release()


def _amd_possible() -> bool:
    """An AMD GPU could be here: the ROCm kernel driver's device node, or amdsmi installed."""
    return os.path.exists("/dev/kfd") or find_spec("amdsmi") is not None


def probe(ctx: ProbeContext) -> Probe:
    """The registry's ``amd`` entry: every AMD GPU visible to the process (see
    :func:`discover_amd`; ``hardware={"amd": module}`` injects amdsmi). On a host with
    neither the ROCm driver's ``/dev/kfd`` nor amdsmi installed, nothing is listed."""
    from carbonledger.sensors.base import Probe

    amdsmi = ctx.hardware("amd")
    if amdsmi is None and not _amd_possible():
        return Probe()
    sensors, infos = discover_amd(amdsmi, env=ctx.env, clock=ctx.clock)
    notes = (f"gpu: {len(sensors)} AMD GPU(s) via amdsmi",) if sensors else ()
    return Probe(tuple(sensors), tuple(infos), notes)


def _discover(
    amdsmi: Any, *, env: Mapping[str, str], clock: Clock, lease: LibraryLease
) -> tuple[list[Sensor], list[SensorInfo]]:
    errors = _error_class(amdsmi)
    try:
        handles = list(amdsmi.amdsmi_get_processor_handles())
    except errors as exc:
        return [], [
            _unavailable(f"AMD SMI could not list GPUs: {_describe(exc)}", "check `amd-smi list`")
        ]
    if not handles:
        return [], [_unavailable("AMD SMI reports no AMD GPU", "check `amd-smi list`")]
    everyone = list(range(len(handles)))
    rocr_raw = env.get("ROCR_VISIBLE_DEVICES")
    rocr = split_visible_devices(rocr_raw)
    uuids: dict[int, list[str]] = {}
    if rocr and any(t.upper().startswith("GPU-") for t in rocr):
        uuids = {i: _amd_uuids(amdsmi, handles[i]) for i in everyone}
    visible, invalid = _select(rocr, everyone, uuids)
    invalid_var, invalid_raw = ("ROCR_VISIBLE_DEVICES", rocr_raw) if invalid else ("", None)
    if not invalid:
        hip_var = "HIP_VISIBLE_DEVICES" if "HIP_VISIBLE_DEVICES" in env else "CUDA_VISIBLE_DEVICES"
        hip_raw = env.get(hip_var)
        visible, invalid = _select(split_visible_devices(hip_raw), visible, {})
        if invalid:
            invalid_var, invalid_raw = hip_var, hip_raw
    infos: list[SensorInfo] = []
    if invalid:
        infos.append(
            _unavailable(
                f"{invalid_var}={invalid_raw!r}: entry {invalid!r} names no GPU here, so the "
                "ROCm runtime ignores it and every entry after it"
                + ("" if visible else "; no AMD GPU is visible to this process"),
                f"use indices (0..{len(handles) - 1}) or unset {invalid_var}",
            )
        )
    elif not visible:
        infos.append(
            _unavailable(
                "ROCR_VISIBLE_DEVICES / HIP_VISIBLE_DEVICES hide every AMD GPU from this process",
                "unset them, or list the GPUs to measure",
            )
        )
    sensors: list[Sensor] = []
    for index in visible:
        opened = _open_gpu(amdsmi, index, handles[index], clock=clock, lease=lease)
        if isinstance(opened, SensorInfo):
            infos.append(opened)
        else:
            sensors.append(opened)
            infos.append(opened.info)
    return sensors, infos


def _open_gpu(
    amdsmi: Any, index: int, handle: Any, *, clock: Clock, lease: LibraryLease
) -> Sensor | SensorInfo:
    device = f"gpu:amd-{index}"
    errors = _error_class(amdsmi)
    try:
        asic = amdsmi.amdsmi_get_gpu_asic_info(handle)
        name = asic.get("market_name", "") if isinstance(asic, Mapping) else ""
        model = name if isinstance(name, str) and name != "N/A" else ""
    except errors as exc:
        return _unavailable(
            f"AMD SMI could not open this GPU: {_describe(exc)}",
            "check `amd-smi list`",
            device=device,
        )
    try:
        uid = str(amdsmi.amdsmi_get_gpu_device_uuid(handle))
    except errors:
        uid = ""
    common: dict[str, Any] = {
        "device": device,
        "model": model,
        "uid": uid,
        "clock": clock,
        "lease": lease,
    }
    lease.acquire()
    try:
        return AmdEnergySensor(amdsmi, handle, **common)
    except SensorError as energy_exc:
        energy_error = str(energy_exc)
    try:
        return AmdPowerSensor(amdsmi, handle, **common)
    except SensorError as power_exc:
        lease.release()
        return _unavailable(
            f"this GPU reports neither an energy counter ({energy_error}) nor its power "
            f"({power_exc})",
            "none with AMD SMI (it reports no energy on virtual-machine guests): this "
            "GPU's energy can only be estimated (TDP model)",
            device=device,
            model=model,
            uid=uid,
        )
