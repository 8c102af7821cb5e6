"""Apple silicon (M1 and later) through macOS's ``powermetrics``: one reading that covers the
CPU, the GPU and the neural engine (ANE). **Untested on Apple hardware**: written to
powermetrics' documented text output and tested on recorded output only.

``powermetrics --samplers cpu_power,gpu_power,ane_power -i 1000`` prints a sample per
interval::

    *** Sampled system activity (Wed Mar  6 10:15:03 2024 +0100) (1001.27ms elapsed) ***
    ...
    CPU Power: 1234 mW
    GPU Power: 56 mW
    ANE Power: 0 mW
    Combined Power (CPU + GPU + ANE): 1290 mW

Each figure is the part's mean power over the sample's elapsed time, so a sample adds
``power x elapsed`` to the part's energy (:class:`~carbonledger.sensors.soc.common.SocReader`).
The parts become three sensors, each its own component: ``cpu:soc`` (``cpu``), ``gpu:soc``
(``gpu``) and ``npu:ane`` (``npu``), all ``method="powermetrics"``, ``soc="apple"``. In process
scope the CPU part is attributed to the process tree by its share of busy CPU time
(``powermetrics-share``), as a RAPL counter is; the GPU and ANE are the whole machine's,
counted once per host. RAM is not in the reading: the W/GB model estimates it.

A sample is complete at its ``Combined Power`` line when the CPU, GPU and ANE figures were all
read by then, else at the next sample's header or the end of the output (so a version that
prints ``GPU Power`` only in its GPU section is read too, one interval later); the first
figure of a part in a sample counts (the GPU section repeats ``GPU Power``); a line that names
a figure but does not hold a number of ``mW`` (or ``W``) leaves the figure out of the sample.
The ``-f plist`` format is not read.

powermetrics needs root. The reading is discovered only on macOS on Apple silicon, as root,
with ``powermetrics`` on the path, once its first sample came (within
:data:`FIRST_SAMPLE_TIMEOUT_S`); elsewhere it is listed unavailable with the reason. Apple's
manual says the figures are estimates that may be inaccurate: they are the chip's own
reading (``measured=True``), with no range.
"""

from __future__ import annotations

import math
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from carbonledger.models import SensorInfo
from carbonledger.sensors.soc.common import (
    PartsSample,
    ProcessText,
    SocPart,
    SocPartSensor,
    SocReader,
    TextSource,
)
from carbonledger.units import mw_to_w

if TYPE_CHECKING:
    from carbonledger.sensors.base import Probe, ProbeContext, Sensor

__all__ = [
    "COMMAND",
    "PARTS",
    "PowermetricsParser",
    "open_powermetrics",
    "parse_powermetrics",
    "probe",
]

#: powermetrics' sample interval, in milliseconds: a reading lags by at most this much
SAMPLE_INTERVAL_MS = 1000
#: the program and its arguments: the three power samplers, a sample a second, line-buffered
COMMAND: tuple[str, ...] = (
    "powermetrics",
    "--samplers",
    "cpu_power,gpu_power,ane_power",
    "-i",
    str(SAMPLE_INTERVAL_MS),
    "--buffer-size",
    "1",
)
#: how long discovery waits for the first sample, in seconds
FIRST_SAMPLE_TIMEOUT_S = 3.0
#: the parts of the reading, in the order they are listed
PARTS: tuple[SocPart, ...] = (
    SocPart("cpu", "cpu", "cpu:soc", "CPU Power"),
    SocPart("gpu", "gpu", "gpu:soc", "GPU Power"),
    SocPart("ane", "npu", "npu:ane", "ANE Power"),
)
UNTESTED = "untested on Apple hardware: parsed from recorded powermetrics output"
_FIX = (
    "run the tracked program as root (e.g. `sudo carbonledger run -- python train.py`); "
    "`sudo powermetrics --samplers cpu_power,gpu_power,ane_power -n 1` should print CPU, GPU "
    "and ANE Power"
)

_HEADER = "*** Sampled system activity"
_ELAPSED = re.compile(r"\(\s*([0-9]+(?:\.[0-9]*)?)\s*ms elapsed\s*\)")
_FIGURE = re.compile(r"^(CPU|GPU|ANE) Power\s*:\s*(.*?)\s*$")
_VALUE = re.compile(r"^([0-9]+(?:\.[0-9]*)?)\s*(mW|W)$")
_COMBINED = "Combined Power"
_MODEL = re.compile(r"^Machine model\s*:\s*(.+?)\s*$")


def _watts(text: str) -> float | None:
    """``"1234 mW"`` -> 1.234; None for anything that is not a non-negative number of mW or W."""
    match = _VALUE.match(text)
    if match is None:
        return None
    value = float(match.group(1))
    if not math.isfinite(value):
        return None
    return mw_to_w(value) if match.group(2) == "mW" else value


class PowermetricsParser:
    """powermetrics' text output, fed as it comes, into
    :class:`~carbonledger.sensors.soc.common.PartsSample`\\ s keyed ``cpu``, ``gpu``, ``ane``
    (watts). Never raises: what cannot be read is left out of the sample. ``machine_model``
    is the ``Machine model:`` line of the output's preamble (e.g. ``Mac14,9``)."""

    def __init__(self) -> None:
        self.machine_model = ""
        self._pending = ""  # a line not yet ended
        self._block: dict[str, float] | None = None  # the figures of the open sample
        self._elapsed_s: float | None = None
        self._done = True  # the open sample was emitted already

    def feed(self, text: str) -> list[PartsSample]:
        out: list[PartsSample] = []
        if not text:
            return out
        *lines, self._pending = (self._pending + text).split("\n")
        for line in lines:
            self._line(line, out)
        return out

    def finish(self) -> list[PartsSample]:
        out: list[PartsSample] = []
        if self._pending:
            self._line(self._pending, out)
            self._pending = ""
        self._emit(out)
        return out

    def _line(self, raw: str, out: list[PartsSample]) -> None:
        line = raw.strip()
        if line.startswith(_HEADER):
            self._emit(out)
            match = _ELAPSED.search(line)
            elapsed_s = float(match.group(1)) / 1000.0 if match else None
            ok = elapsed_s is not None and math.isfinite(elapsed_s) and elapsed_s > 0
            self._block, self._elapsed_s, self._done = {}, elapsed_s if ok else None, False
            return
        if self._block is None:  # the preamble, before the first sample
            model = _MODEL.match(line)
            if model is not None and not self.machine_model:
                self.machine_model = model.group(1)
            return
        if self._done:
            return
        figure = _FIGURE.match(line)
        if figure is not None:
            key = figure.group(1).lower()
            watts = _watts(figure.group(2))
            if key not in self._block and watts is not None:
                self._block[key] = watts
            return
        if line.startswith(_COMBINED) and all(p.key in self._block for p in PARTS):
            self._emit(out)

    def _emit(self, out: list[PartsSample]) -> None:
        if self._block is not None and not self._done:
            out.append(PartsSample(dict(self._block), self._elapsed_s))
        self._done = True


def parse_powermetrics(text: str) -> tuple[list[PartsSample], str]:
    """Every sample of a whole recorded output, and the machine model it names."""
    parser = PowermetricsParser()
    samples = parser.feed(text) + parser.finish()
    return samples, parser.machine_model


def _unavailable(reason: str, fix: str, *, model: str = "") -> SensorInfo:
    return SensorInfo(
        component="soc",
        device="soc:apple",
        method="powermetrics",
        measured=True,
        available=False,
        model=model,
        reason=reason,
        fix=fix,
        host_wide=True,
        soc="apple",
    )


def _not_here() -> tuple[str, str] | None:
    """Why the reading cannot work on this host (reason, fix), else None."""
    if sys.platform != "darwin":
        return (
            f"not macOS (this is {sys.platform}): Apple silicon's power comes from macOS's "
            "powermetrics",
            "nothing to do on other systems",
        )
    import platform
    import shutil

    if platform.machine() != "arm64":
        return (
            "an Intel Mac: powermetrics reports no Apple silicon CPU/GPU/ANE power",
            "nothing to do: the CPU is estimated by a model",
        )
    if shutil.which(COMMAND[0]) is None:
        return (
            "powermetrics is not on the PATH (macOS keeps it in /usr/bin)",
            "add /usr/bin to PATH",
        )
    if os.geteuid() != 0:
        return ("powermetrics needs root, and this process is not root", _FIX)
    return None


def open_powermetrics(
    launch: Callable[[Sequence[str]], TextSource],
    *,
    clock: Callable[[], float],
    timeout_s: float = FIRST_SAMPLE_TIMEOUT_S,
) -> tuple[SocReader, PowermetricsParser] | str:
    """Start powermetrics with ``launch(COMMAND)`` and wait for its first sample: the reader
    (and its parser, for the machine model), or why it failed (the program stopped)."""
    try:
        source = launch(COMMAND)
    except OSError as exc:
        return f"powermetrics could not be started: {exc}"
    parser = PowermetricsParser()
    labels = {p.key: p.label for p in PARTS}
    reader = SocReader(source, parser, name="powermetrics", labels=labels, clock=clock)
    why = reader.wait_first(timeout_s)
    if why is not None:
        reader.close()
        return why
    return reader, parser


def _part_info(part: SocPart, model: str, scope_note: str) -> SensorInfo:
    return SensorInfo(
        component=part.component,
        device=part.device,
        method="powermetrics",
        measured=True,
        model=model,
        reason=(
            f"Apple silicon's {part.label} from powermetrics, one reading of CPU, GPU and ANE "
            f"every {SAMPLE_INTERVAL_MS} ms (Apple calls the figures estimates that may be "
            f"inaccurate); {scope_note}; {UNTESTED}"
        ),
        host_wide=True,
        soc="apple",
    )


def probe(ctx: ProbeContext) -> Probe:
    """The registry's ``apple-soc`` entry: the CPU, GPU and ANE of Apple silicon from one
    powermetrics reading, where it works (``hardware={"apple-soc": launch}`` injects how the
    program is started, e.g. :class:`carbonledger.testing.FakePowermetrics`); otherwise one
    unavailable candidate saying why."""
    from carbonledger.sensors.base import Probe
    from carbonledger.sensors.cpu.model import RaplShareSensor

    launch = ctx.hardware("apple-soc")
    if launch is None:
        why_not = _not_here()
        if why_not is not None:
            return Probe(candidates=(_unavailable(*why_not),))
        launch = ProcessText
    opened = open_powermetrics(launch, clock=ctx.clock)
    if isinstance(opened, str):
        return Probe(candidates=(_unavailable(opened, _FIX),))
    reader, parser = opened
    model = f"Apple silicon ({parser.machine_model})" if parser.machine_model else "Apple silicon"
    sensors: list[Sensor] = []
    candidates: list[SensorInfo] = []
    notes: list[str] = []
    for part in PARTS:
        if part.key not in reader.parts:
            candidates.append(
                SensorInfo(
                    component=part.component,
                    device=part.device,
                    method="powermetrics",
                    measured=True,
                    available=False,
                    model=model,
                    reason=f"powermetrics printed no readable {part.label} in its first sample",
                    fix="check `sudo powermetrics --samplers cpu_power,gpu_power,ane_power -n 1`",
                    host_wide=True,
                    soc="apple",
                )
            )
            continue
        if part.component == "gpu" and not ctx.options.gpu:
            notes.append(f"gpu: {part.device} not counted (GPUs disabled by configuration)")
            continue
        if ctx.covering(part.component) is not None:
            continue  # an earlier entry measures it
        scope_note = "the whole machine's"
        if part.component == "cpu" and ctx.scope == "process":
            scope_note = "attributed to the process tree by its share of busy CPU time"
        sensor = SocPartSensor(reader, part, _part_info(part, model, scope_note))
        candidates.append(sensor.info)
        if part.component == "cpu" and ctx.scope == "process":
            sensors.append(
                RaplShareSensor(
                    sensor,
                    pid=ctx.pid,
                    clock=ctx.clock,
                    method="powermetrics-share",
                    source="powermetrics CPU Power",
                )
            )
        else:
            sensors.append(sensor)
    if not sensors:
        reader.close()
        return Probe(candidates=tuple(candidates), notes=tuple(notes))
    parts = ", ".join(s.info.device for s in sensors)
    notes.insert(
        0,
        f"soc: {model} via powermetrics, one reading for {parts} (measured; {UNTESTED})",
    )
    return Probe(tuple(sensors), tuple(candidates), tuple(notes))
