"""A fake ``powermetrics``: macOS's power tool, as the Apple silicon reading sees it (the
program's output, read as it comes)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

__all__ = ["FakePowermetrics"]

_PREAMBLE = """Machine model: {model}
OS version: 23E224
Boot arguments:
Boot time: Mon Mar  4 08:12:40 2024



"""

_SAMPLE = """*** Sampled system activity (Wed Mar  6 10:15:{second:02d} 2024 +0100) ({elapsed_ms:.2f}ms elapsed) ***


**** Processor usage ****

E-Cluster HW active frequency: 1020 MHz
E-Cluster HW active residency:  18.42% (600 MHz:  61% 912 MHz: 8.1% 1284 MHz: 6.4%)
E-Cluster idle residency:  81.58%
P0-Cluster HW active frequency: 2412 MHz
P0-Cluster HW active residency:  34.07% (660 MHz: 0.00% 3504 MHz:  22%)
P0-Cluster idle residency:  65.93%

CPU Power: {cpu_mw:g} mW
GPU Power: {gpu_mw:g} mW
ANE Power: {ane_mw:g} mW
Combined Power (CPU + GPU + ANE): {combined_mw:g} mW

**** GPU usage ****

GPU HW active frequency: 444 MHz
GPU HW active residency:   3.02% (444 MHz: 3.0% 612 MHz:   0% 808 MHz:   0%)
GPU SW requested state: (P1 : 100% P2 :   0% P3 :   0%)
GPU idle residency:  96.98%
GPU Power: {gpu_mw:g} mW

"""


class FakePowermetrics:
    """Stands in for ``powermetrics``: what it prints is what you emit.

    Pass it as the way to start the program, ``discover(hardware={"apple-soc": fake})``
    (it records the command in :attr:`argv` and returns itself), then drive it::

        fake = FakePowermetrics()
        fake.emit(cpu_mw=1200, gpu_mw=300, ane_mw=0)   # the first sample, before discovery
        found = discover(hardware={"apple-soc": fake}, clock=clock, gpu=True, ...)
        fake.emit(cpu_mw=5000, gpu_mw=8000, ane_mw=40, elapsed_ms=1000)

    :meth:`emit` prints one sample in powermetrics' text format (CPU, GPU and ANE power in
    mW, the elapsed time in its header); :meth:`emit_text` prints anything (a recorded
    output, a malformed line); :meth:`exit` ends the program with a code and an error text.
    The output starts with the preamble naming ``machine_model``.
    """

    def __init__(self, machine_model: str = "Mac14,9") -> None:
        self.argv: list[str] | None = None
        self.closed = False
        self._lock = threading.Lock()
        self._out: list[str] = [_PREAMBLE.format(model=machine_model)]
        self._exit: str | None = None
        self._samples = 0

    def __call__(self, argv: Sequence[str]) -> FakePowermetrics:
        """Start the fake program (what the reading calls with its command)."""
        self.argv = list(argv)
        return self

    def emit(
        self, *, cpu_mw: float, gpu_mw: float, ane_mw: float, elapsed_ms: float = 1000.0
    ) -> None:
        """Print one sample: each part's mean power over ``elapsed_ms`` milliseconds."""
        text = _SAMPLE.format(
            second=self._samples % 60,
            elapsed_ms=elapsed_ms,
            cpu_mw=cpu_mw,
            gpu_mw=gpu_mw,
            ane_mw=ane_mw,
            combined_mw=cpu_mw + gpu_mw + ane_mw,
        )
        self._samples += 1
        self.emit_text(text)

    def emit_text(self, text: str) -> None:
        """Print ``text`` as it is."""
        with self._lock:
            self._out.append(text)

    def exit(self, code: int = 0, stderr: str = "") -> None:
        """End the program: later output is never read, :meth:`exited` says why."""
        with self._lock:
            why = f"powermetrics exited with code {code}"
            self._exit = f"{why}: {stderr}" if stderr else why

    # -- what the reading reads (carbonledger.sensors.soc.common.TextSource)
    def read_available(self) -> str:
        with self._lock:
            text = "".join(self._out)
            self._out.clear()
            return text

    def exited(self) -> str | None:
        with self._lock:
            return "stopped by close()" if self.closed and self._exit is None else self._exit

    def close(self) -> None:
        with self._lock:
            self.closed = True
