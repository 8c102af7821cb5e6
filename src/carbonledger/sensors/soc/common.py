"""What system-on-chip readings share: one reading that covers several parts, and one sensor
per part.

A system-on-chip reports the power of several parts at once: Apple's ``powermetrics`` prints
the CPU, GPU and neural engine (ANE) power of each interval; NVIDIA's ``tegrastats`` the power
of a Jetson's rails. Both are programs that run on and print a sample per interval, so the
pieces are:

- :class:`TextSource`: the program's output as it comes (:class:`ProcessText` runs the real
  program with non-blocking pipes: no thread; tests inject a fake, see
  :mod:`carbonledger.testing`);
- a parser of that output (in the vendor module) turning text into :class:`PartsSample`\\ s:
  each part's mean power over the sample's own elapsed time;
- :class:`SocReader`: integrates the samples into cumulative energy per part
  (``power x elapsed``), polled by whichever part sensor reads;
- :class:`SocPartSensor`: the :class:`~carbonledger.sensors.base.Sensor` of one part (its
  own component: ``cpu``, ``gpu``, ``npu``...), sharing the reader with the other parts; the
  last part closed stops the program.

Energy is counted from the first sample after the sensors were made and reflects the samples
printed so far, so a reading lags the present by at most one sample interval: a window
shorter than the interval is not resolved, a long one is exact to the program's figures. A
sample that lacks a part's figure (partial or malformed output) holds that part's previous
power over its interval and is reported once per kind of problem (a
:class:`~carbonledger.errors.SensorError` from that part's next read, which the meter
records); parsing never raises. When the program ends, reads raise a ``SensorError`` saying
why once its last samples have been returned.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol

from carbonledger.errors import SensorError
from carbonledger.models import Reading, SensorInfo

if TYPE_CHECKING:
    from carbonledger.models import Component

__all__ = [
    "PartsSample",
    "ProcessText",
    "SampleParser",
    "SocPart",
    "SocPartSensor",
    "SocReader",
    "TextSource",
]

#: a clock in seconds (``time.monotonic`` or a test's fake clock)
Clock = Callable[[], float]
#: keep at most this much of a program's standard error (characters), for messages
STDERR_TAIL_CHARS = 2000
#: how often :meth:`SocReader.wait_first` looks for the first sample, in seconds
FIRST_SAMPLE_POLL_S = 0.05


class SocPart(NamedTuple):
    """One part a system-on-chip reading covers: ``key`` as the parser names it (``"ane"``),
    the ``component`` it is counted as, its ``device`` name (``"npu:ane"``) and ``label``,
    what the program calls its figure (``"ANE Power"``, for messages)."""

    key: str
    component: Component
    device: str
    label: str


class PartsSample(NamedTuple):
    """One sample of a system-on-chip reading: each part's mean power in watts over the
    sample's elapsed time (``elapsed_s``; None when the output did not say). A part absent
    from ``power_w`` had no readable figure in this sample."""

    power_w: Mapping[str, float]
    elapsed_s: float | None = None


class TextSource(Protocol):
    """A running program's output, read without waiting (the hardware edge of a SoC reading)."""

    def read_available(self) -> str:
        """The text printed since the previous call (``""`` when none); never blocks."""
        ...

    def exited(self) -> str | None:
        """None while the program runs; else why it ended (exit code, its last error lines)."""
        ...

    def close(self) -> None:
        """Stop the program. Idempotent."""
        ...


class SampleParser(Protocol):
    """Turns a program's output, fed as it comes, into samples; never raises."""

    def feed(self, text: str) -> list[PartsSample]:
        """The samples completed by ``text``."""
        ...

    def finish(self) -> list[PartsSample]:
        """The output has ended: the samples still pending (a last, partial one)."""
        ...


class ProcessText:
    """A program started with ``argv`` whose standard output is read without blocking: each
    :meth:`read_available` takes what the pipe holds (no thread; a sampler that reads every
    few seconds keeps up with a sample a second). Its standard error is kept (the last
    :data:`STDERR_TAIL_CHARS` characters) for :meth:`exited`. Raises ``OSError`` when the
    program cannot be started (not found, not executable)."""

    def __init__(self, argv: Sequence[str]) -> None:
        import codecs
        import subprocess  # only where a program is run: discovery elsewhere never loads it

        self._argv = list(argv)
        self._proc = subprocess.Popen(
            self._argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            close_fds=True,
        )
        assert self._proc.stdout is not None and self._proc.stderr is not None
        self._out_fd = self._proc.stdout.fileno()
        self._err_fd = self._proc.stderr.fileno()
        for fd in (self._out_fd, self._err_fd):
            os.set_blocking(fd, False)
        self._out = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._err = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._err_tail = ""
        self._eof = False
        self._closed = False

    @staticmethod
    def _drain(fd: int) -> tuple[bytes, bool]:
        """What ``fd`` holds now, and whether it reached the end (the program closed it)."""
        chunks: list[bytes] = []
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return b"".join(chunks), False
            except OSError:
                return b"".join(chunks), True
            if not data:
                return b"".join(chunks), True
            chunks.append(data)

    def read_available(self) -> str:
        if self._closed or self._eof:
            return ""
        data, self._eof = self._drain(self._out_fd)
        err, err_eof = self._drain(self._err_fd)
        if err:
            text = self._err.decode(err, final=err_eof)
            self._err_tail = (self._err_tail + text)[-STDERR_TAIL_CHARS:]
        return self._out.decode(data, final=self._eof)

    def exited(self) -> str | None:
        code = self._proc.poll()
        if code is None:
            return None
        name = os.path.basename(self._argv[0]) if self._argv else "the program"
        why = f"{name} exited with code {code}"
        tail = " ".join(self._err_tail.split())
        return f"{why}: {tail[-300:]}" if tail else why

    def close(self) -> None:
        import subprocess

        if self._closed:
            return
        self._closed = True
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=2.0)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()


class _State:
    """What the samples so far add up to."""

    __slots__ = ("elapsed_s", "energy_j", "last_time_s", "power_w", "problems", "samples")

    def __init__(self) -> None:
        self.energy_j: dict[str, float] = {}
        self.power_w: dict[str, float] = {}
        #: per part, each kind of problem (its message) and how often it happened
        self.problems: dict[str, dict[str, int]] = {}
        self.samples = 0
        self.last_time_s = 0.0
        self.elapsed_s: float | None = None  # the latest elapsed time a sample stated


class SocReader:
    """Cumulative energy per part of one system-on-chip reading (thread-safe).

    ``source`` is the program's output, ``parser`` its parser, ``name`` the program's name and
    ``labels`` each part's figure as the program calls it (both for messages). The first
    sample with at least one figure fixes the parts and their power; its energy predates the
    sensors and is not counted. Each later sample adds ``power x elapsed`` per part: the
    elapsed time the sample states, else the latest one a sample stated (else the clock time
    since the previous sample); a part without a figure keeps its previous power. Both are
    problems, counted per part. The program is
    stopped when the last :class:`SocPartSensor` is closed (or by :meth:`close`).
    """

    def __init__(
        self,
        source: TextSource,
        parser: SampleParser,
        *,
        name: str,
        labels: Mapping[str, str],
        clock: Clock = time.monotonic,
    ) -> None:
        self._source = source
        self._parser = parser
        self._name = name
        self._labels = dict(labels)
        self._clock = clock
        self.lock = threading.Lock()
        self._state = _State()
        self._ended: str | None = None
        self._refs = 0
        self._closed = False

    # -- reading the program (call under ``lock``)
    def poll(self) -> None:
        """Take in what the program has printed since the previous poll. Never raises."""
        if self._closed:
            return
        samples: list[PartsSample] = []
        try:
            samples.extend(self._parser.feed(self._source.read_available()))
            if self._ended is None:
                why = self._source.exited()
                if why is not None:  # what it printed before ending, then the partial rest
                    samples.extend(self._parser.feed(self._source.read_available()))
                    samples.extend(self._parser.finish())
                    self._ended = why
        except Exception as exc:  # the pipe or the program failed: it is over
            self._ended = f"{self._name} could not be read: {type(exc).__name__}: {exc}"
        now = self._clock()
        for sample in samples:
            self._take(sample, now)

    def _problem(self, part: str, message: str) -> None:
        kinds = self._state.problems.setdefault(part, {})
        kinds[message] = kinds.get(message, 0) + 1

    def _take(self, sample: PartsSample, now: float) -> None:
        state = self._state
        if state.samples == 0:
            if not sample.power_w:
                return  # nothing readable yet: the parts are not known
            state.power_w = dict(sample.power_w)
            state.energy_j = dict.fromkeys(sample.power_w, 0.0)
            state.elapsed_s = sample.elapsed_s
        else:
            elapsed_s = sample.elapsed_s
            if elapsed_s is not None:
                state.elapsed_s = elapsed_s
            else:
                if state.elapsed_s is not None:
                    elapsed_s, used = state.elapsed_s, "the previous sample's was used"
                else:
                    elapsed_s, used = max(0.0, now - state.last_time_s), "the clock's was used"
                for part in state.energy_j:
                    self._problem(
                        part, f"{self._name} printed a sample without its elapsed time: {used}"
                    )
            for part in state.energy_j:
                power_w = sample.power_w.get(part)
                if power_w is None:
                    power_w = state.power_w[part]
                    label = self._labels.get(part, part)
                    self._problem(
                        part,
                        f"{self._name} printed a sample without a readable {label}: its "
                        "previous power was held over that sample",
                    )
                state.energy_j[part] += power_w * elapsed_s
                state.power_w[part] = power_w
        state.samples += 1
        state.last_time_s = now

    def wait_first(
        self,
        timeout_s: float,
        *,
        sleep: Callable[[float], object] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> str | None:
        """Wait (at most ``timeout_s`` seconds, real time) for the first sample: None once it
        came, else why not (the program ended, or said nothing in time)."""
        deadline = monotonic() + timeout_s
        while True:
            with self.lock:
                self.poll()
                if self._state.samples:
                    return None
                if self._ended is not None:
                    return f"{self._name} ended before its first sample ({self._ended})"
            if monotonic() >= deadline:
                return f"{self._name} printed no complete sample within {timeout_s:g} s"
            sleep(FIRST_SAMPLE_POLL_S)

    # -- what the parts see (call under ``lock``)
    @property
    def parts(self) -> tuple[str, ...]:
        """The parts the first sample had a figure for."""
        return tuple(self._state.energy_j)

    @property
    def samples(self) -> int:
        """Samples taken in so far (the first included)."""
        return self._state.samples

    @property
    def ended(self) -> str | None:
        """Why the program ended, None while it runs."""
        return self._ended

    def now(self) -> float:
        """The reader's clock, in seconds."""
        return self._clock()

    def energy_j(self, part: str) -> float:
        """Cumulative energy of ``part`` since the first sample, in joules."""
        return self._state.energy_j[part]

    def power_w(self, part: str) -> float:
        """``part``'s power in the latest sample, in watts."""
        return self._state.power_w[part]

    def problems(self, part: str) -> dict[str, int]:
        """Each kind of problem ``part``'s figures had so far (its message), and how often."""
        return dict(self._state.problems.get(part, {}))

    # -- lifetime
    def acquire(self) -> None:
        with self.lock:
            self._refs += 1

    def release(self) -> None:
        with self.lock:
            self._refs -= 1
            last = self._refs <= 0
        if last:
            self.close()

    def close(self) -> None:
        """Stop the program (closing must never fail a run). Idempotent."""
        with self.lock:
            if self._closed:
                return
            self._closed = True
        with contextlib.suppress(Exception):
            self._source.close()


class SocPartSensor:
    """One part of a system-on-chip reading as a :class:`~carbonledger.sensors.base.Sensor`.

    ``read()`` polls the shared reader and returns the part's cumulative energy since the
    sensor was made (the reader's count, less what it held then) and its latest power. A
    new kind of problem with the part's figures is raised once as a
    :class:`~carbonledger.errors.SensorError` (the meter records it and keeps the previous
    reading; the energy is not lost, the next read has it); so is the program's end, at every
    read after its last samples were returned.
    """

    def __init__(self, reader: SocReader, part: SocPart, info: SensorInfo) -> None:
        self._reader = reader
        self._part = part
        self._info = info
        with reader.lock:
            self._base_j = reader.energy_j(part.key)
            self._seen_samples = reader.samples
            self._reported = set(reader.problems(part.key))
        self._closed = False
        reader.acquire()

    @property
    def info(self) -> SensorInfo:
        return self._info

    @property
    def part(self) -> SocPart:
        return self._part

    def read(self) -> Reading:
        reader, key = self._reader, self._part.key
        with reader.lock:
            if self._closed:
                raise SensorError(f"{self._info.device}: the sensor is closed")
            reader.poll()
            new = [m for m in reader.problems(key) if m not in self._reported]
            if new:  # one kind per read: each is its own line of the run's errors
                self._reported.add(new[0])
                raise SensorError(new[0])
            if reader.ended is not None and reader.samples == self._seen_samples:
                raise SensorError(f"{reader.ended}; energy after its last sample is not measured")
            self._seen_samples = reader.samples
            return Reading(
                time_s=reader.now(),
                energy_j=reader.energy_j(key) - self._base_j,
                power_w=reader.power_w(key),
            )

    def close(self) -> None:
        with self._reader.lock:
            if self._closed:
                return
            self._closed = True
        self._reader.release()
