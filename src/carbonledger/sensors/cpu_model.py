"""CPU energy without a counter: a TDP table and a utilisation model (estimated).

Power of the machine's CPUs at utilisation ``u`` (0..1, busy CPU time over elapsed
time x logical CPUs)::

    P(u) = P_idle + (P_max - P_idle) x u,   P_max = TDP,   P_idle = IDLE_SHARE x TDP

``IDLE_SHARE`` and its range come from Cloud Carbon Footprint's per-vCPU minimum and
maximum watts (SPECpower-based) by microarchitecture; the TDP range from the spread
between rated TDP and real package power (see ``docs/sensors-cpu.md``). Because the
model is linear in ``u``, integrating it with the mean utilisation of each interval
between two reads is exact.

Process scope attributes the machine's CPU energy by the process tree's share of the
machine's busy CPU time in each interval, the same rule :class:`RaplShareSensor`
applies to a measured package counter, so a process's figure does not depend on
whether RAPL happens to be readable.
"""

from __future__ import annotations

import _thread
import os
import time

from carbonledger._lite import asdict, cache, record
from carbonledger.errors import InputError
from carbonledger.models import Reading, SensorInfo
from carbonledger.sensors.base import Sensor
from carbonledger.units import isfinite

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from re import Pattern
    from typing import Literal

    Scope = Literal["process", "machine"]


__all__ = [
    "DEFAULT_TDP_HIGH_W",
    "DEFAULT_TDP_LOW_W",
    "DEFAULT_TDP_W",
    "IDLE_SHARE",
    "IDLE_SHARE_HIGH",
    "IDLE_SHARE_LOW",
    "TDP_HIGH_FACTOR",
    "TDP_LOW_FACTOR",
    "CpuModelSensor",
    "CpuRecord",
    "RaplShareSensor",
    "TdpMatch",
    "cpu_model_name",
    "cpu_table",
    "lookup_tdp",
    "normalise_cpu_name",
]


# --------------------------------------------------------------------------- constants

#: idle power as a share of full-load power: the median over the 20 microarchitectures of
#: Cloud Carbon Footprint's coefficients-aws-use.csv (Min Watts / Max Watts per vCPU,
#: derived from SPECpower results); Apache-2.0. scripts/build_cpu_table.py recomputes it.
IDLE_SHARE = 0.268
#: lowest of those ratios (Skylake, 0.149)
IDLE_SHARE_LOW = 0.149
#: highest of those ratios (EPYC 5th Gen, 0.411)
IDLE_SHARE_HIGH = 0.411
#: full-load package power vs. rated TDP: memory-bound work stays below TDP, and turbo
#: (Intel PL2 is typically 1.2-1.25 x TDP) runs above it for a while; our stated range
TDP_LOW_FACTOR = 0.75
TDP_HIGH_FACTOR = 1.25
#: TDP per package of a CPU missing from the table: the median TDP of the table's
#: server-class rows (Xeon, EPYC, Opteron). An unknown name is most often a cloud
#: provider's custom server part (a laptop's or desktop's name is nearly always known).
DEFAULT_TDP_W = 115.0
#: the 10th and 90th percentiles of the same rows
DEFAULT_TDP_LOW_W = 50.0
DEFAULT_TDP_HIGH_W = 250.0

# --------------------------------------------------------------------------- names

#: (pattern, flags) removed from names, in order; compiled on the first name normalised (the
#: TDP lookup is cached per user, so most processes never compile them)
_REMOVED = (
    (r"\((?:r|tm|c)\)|[®™©]", "i"),  # trademarks
    (r"@\s*\d+(?:\.\d+)?\s*[gm]hz", "i"),  # "@ 2.50GHz"
    (r"\b\d+(?:st|nd|rd|th)\s+gen(?:eration)?\b", "i"),  # "12th Gen"
    (
        r"\b\d+\s*-?\s*cores?\b"
        r"|\b(?:single|dual|triple|quad|hexa|six|octa|eight|ten|twelve|sixteen)[- ]cores?\b",
        "i",
    ),  # core counts
    (r"\b(?:w(?:ith|/)\s+)?radeon\b.*$", "i"),  # "with Radeon Graphics"
)
_PUNCTUATION = r"[-_,;/()\[\]\"']"
_compiled: list[Pattern[str]] = []  # compiled on the first call (re costs ~5 ms to import)
_NOISE = frozenset(
    {"intel", "amd", "cpu", "processor", "apu", "genuine", "genuineintel", "authenticamd"}
)


def normalise_cpu_name(name: str) -> str:
    """A CPU name reduced to the words that identify the model.

    Lower case, without trademarks, vendor words, ``CPU``/``Processor``, a
    ``@ 2.50GHz`` suffix, an ``N-Core`` count, an ``Nth Gen`` prefix or a "with Radeon
    Graphics" (or "Radeon R7, 12 Compute Cores...") suffix, with hyphens as spaces::

        "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz" -> "xeon gold 6248"
        "AMD EPYC 7763 64-Core Processor"          -> "epyc 7763"
    """
    if not _compiled:
        import re

        _compiled.extend(re.compile(p, re.IGNORECASE if f == "i" else 0) for p, f in _REMOVED)
        _compiled.append(re.compile(_PUNCTUATION))
    *removed, punctuation = _compiled
    s = name
    for pattern in removed:
        s = pattern.sub(" ", s)
    s = punctuation.sub(" ", s.lower())
    return " ".join(w for w in s.split() if w not in _NOISE)


def _model_tokens(words: list[str]) -> frozenset[str]:
    return frozenset(w for w in words if any(c.isdigit() for c in w))


# --------------------------------------------------------------------------- table


@record
class CpuRecord:
    """One row of the shipped TDP table (``sensors/data/cpu_tdp.csv``)."""

    name: str
    normalised_name: str
    tdp_w: float
    cores: int | None
    source: str
    year: int
    licence: str
    note: str = ""


TABLE_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "cpu_tdp.csv")


@cache
def cpu_table() -> tuple[CpuRecord, ...]:
    """The shipped CPU TDP table (read once)."""
    import _csv  # csv's C reader, without the re import of the csv module around it

    with open(TABLE_PATH, newline="", encoding="utf-8") as fh:
        rows = _csv.reader(fh)
        header = next(rows)
        expected = ["name", "normalised_name", "tdp_w", "cores", "source", "year", "licence"]
        if header[:7] != expected:  # pragma: no cover - guards the shipped file
            raise RuntimeError(f"{TABLE_PATH}: unexpected columns {header}")
        return tuple(
            CpuRecord(
                r[0],
                r[1],
                float(r[2]),
                int(r[3]) if r[3] else None,
                r[4],
                int(r[5]),
                r[6],
                r[7] if len(r) > 7 else "",
            )
            for r in rows
        )


@cache
def _index() -> tuple[dict[str, CpuRecord], dict[str, list[CpuRecord]]]:
    exact: dict[str, CpuRecord] = {}
    by_token: dict[str, list[CpuRecord]] = {}
    for rec in cpu_table():
        exact[rec.normalised_name] = rec
        for token in rec.normalised_name.split():
            if not token.isalpha():  # holds a digit (or '+'): a model token
                by_token.setdefault(token, []).append(rec)
    return exact, by_token


@record
class TdpMatch:
    """The TDP found for a CPU name, and how it was found.

    ``tdp_w`` is per package (socket). ``exact``: the normalised names are equal;
    neither ``exact`` nor ``default``: a token match (same model number, same family
    words); ``default``: the name is unknown and :data:`DEFAULT_TDP_W` is used, which
    ``note`` says in words. ``low_w``/``high_w`` bound the TDP itself.
    """

    query: str
    matched_name: str | None
    tdp_w: float
    source: str
    exact: bool
    default: bool
    note: str = ""
    cores: int | None = None
    low_w: float = 0.0
    high_w: float = 0.0


def _found(query: str, rec: CpuRecord, *, exact: bool, note: str = "") -> TdpMatch:
    if rec.note:
        note = f"{note}; {rec.note}" if note else rec.note
    return TdpMatch(
        query=query,
        matched_name=rec.name,
        tdp_w=rec.tdp_w,
        source=f"{rec.source}, {rec.licence}",
        exact=exact,
        default=False,
        note=note,
        cores=rec.cores,
        low_w=rec.tdp_w * TDP_LOW_FACTOR,
        high_w=rec.tdp_w * TDP_HIGH_FACTOR,
    )


def _tdp_cache_file(env: Mapping[str, str] | None = None) -> str:
    """``$XDG_CACHE_HOME/carbonledger/cpu-tdp.json`` (default ``~/.cache``)."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "carbonledger", "cpu-tdp.json")


def _table_stamp() -> str:
    st = os.stat(TABLE_PATH)
    return f"{st.st_size}:{st.st_mtime_ns}"


def lookup_tdp(name: str, *, cache: bool = True) -> TdpMatch:
    """:func:`find_tdp`, remembered across processes in a small per-user cache file
    (keyed by the table file's size and time, so a new table invalidates it). The cache
    only saves time (the table lookup costs tens of milliseconds at the first ``start()``);
    any problem reading or writing it falls back to the lookup itself."""
    if not cache:
        return find_tdp(name)
    from carbonledger import _fastjson as json

    path = _tdp_cache_file()
    stamp = _table_stamp()
    entries: dict[str, dict[str, object]] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.loads(fh.read())
        if isinstance(data, dict) and data.get("table") == stamp:
            entries = data.get("entries", {})
            hit = entries.get(name)
            if isinstance(hit, dict):
                return TdpMatch(**hit)  # type: ignore[arg-type]
    except (OSError, ValueError, TypeError):
        entries = {}
    match = find_tdp(name)
    entries = {**dict(list(entries.items())[-31:]), name: asdict(match)}
    try:
        folder, base = os.path.split(path)
        os.makedirs(folder, exist_ok=True)
        tmp = os.path.join(folder, f".{base}.{os.getpid()}.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps({"table": stamp, "entries": entries}))
        os.replace(tmp, path)
    except OSError:
        pass
    return match


def find_tdp(name: str) -> TdpMatch:
    """Find the TDP of the CPU called ``name`` (as ``/proc/cpuinfo`` spells it, or not).

    1. the normalised names are equal;
    2. else a token match: the same set of model-number tokens (words holding a digit:
       ``7763`` never matches ``7713``, nor ``6248`` ``6248r``, nor ``v3`` ``v4``), and
       one name's other words a subset of the other's, sharing at least one (the
       family: ``xeon``, ``ryzen``...); the closest such row wins;
    3. else :data:`DEFAULT_TDP_W`, with ``default=True`` and a note naming the CPU.
    """
    key = normalise_cpu_name(name)
    exact, by_token = _index()
    if key in exact:
        return _found(name, exact[key], exact=True)
    words = key.split()
    tokens = _model_tokens(words)
    family = frozenset(words) - tokens
    best: CpuRecord | None = None
    best_score: tuple[int, int] = (0, 0)
    if tokens:
        pools = [by_token.get(t, []) for t in tokens]
        for rec in min(pools, key=len):
            rec_words = rec.normalised_name.split()
            if _model_tokens(rec_words) != tokens:
                continue
            rec_family = frozenset(rec_words) - tokens
            if not (rec_family <= family or family <= rec_family):
                continue  # "xeon gold" vs "xeon platinum": a different line
            if (rec_family or family) and not rec_family & family:
                continue  # a bare number (some rows have no family) is not enough

            score = (len(rec_family & family), -len(rec_family ^ family))
            if best is None or score > best_score:
                best, best_score = rec, score
    if best is not None:
        return _found(
            name, best, exact=False, note=f"{name!r} matched {best.name!r} by model number"
        )
    what = f"CPU {name!r}" if name.strip() else "the CPU model name (unknown here)"
    return TdpMatch(
        query=name,
        matched_name=None,
        tdp_w=DEFAULT_TDP_W,
        source="carbonledger default: median TDP of the table's server CPUs",
        exact=False,
        default=True,
        note=(
            f"{what} is not in the TDP table: assumed {DEFAULT_TDP_W:g} W per socket "
            f"(range {DEFAULT_TDP_LOW_W:g}-{DEFAULT_TDP_HIGH_W:g} W)"
        ),
        low_w=DEFAULT_TDP_LOW_W,
        high_w=DEFAULT_TDP_HIGH_W,
    )


def cpu_model_name(
    cpuinfo: str | os.PathLike[str] = "/proc/cpuinfo",
    processor: Callable[[], str] | None = None,
) -> str:
    """The CPU's model name: ``model name`` in ``/proc/cpuinfo``, else ``platform.processor()``.

    Returns ``""`` when neither knows (e.g. many ARM servers).
    """
    try:
        with open(cpuinfo, errors="replace") as fh:
            text = fh.read()
    except OSError:
        text = ""
    for line in text.splitlines():
        field, _, value = line.partition(":")
        if field.strip().lower() == "model name" and value.strip():
            return value.strip()
    if processor is None:
        import platform

        processor = platform.processor
    try:
        return processor().strip()
    except Exception:  # platform.processor may run a subprocess  # pragma: no cover
        return ""


# --------------------------------------------------------------------------- CPU time


class _CpuTimes:
    """Deltas of machine busy CPU time (and a process tree's) between steps."""

    def __init__(
        self,
        cpu_times: Callable[[], float] | None,
        process_cpu_times: Callable[[], float] | None,
        pid: int | None,
        with_process: bool,
    ) -> None:
        from carbonledger.sensors import _proc

        self.machine = cpu_times if cpu_times is not None else _proc.machine_busy_cpu_s
        self.process: Callable[[], float] | None = None
        if with_process:
            self.process = (
                process_cpu_times
                if process_cpu_times is not None
                else _proc.ProcessTreeCpu(os.getpid() if pid is None else pid)
            )
        self._last_machine = self.machine()
        self._last_process = self.process() if self.process is not None else 0.0

    def step(self) -> tuple[float, float]:
        """(machine busy CPU s, process tree CPU s) since the previous step, never negative."""
        machine = self.machine()
        process = self.process() if self.process is not None else 0.0
        d_machine = max(0.0, machine - self._last_machine)
        d_process = max(0.0, process - self._last_process)
        self._last_machine, self._last_process = machine, process
        return d_machine, d_process


def _idle_and_span(tdp_w: float, idle_share: float) -> tuple[float, float]:
    """(P_idle, TDP - P_idle) in W of the line ``P(u) = P_idle + (TDP - P_idle) x u``."""
    idle_w = idle_share * tdp_w
    return idle_w, tdp_w - idle_w


def _share(d_process_s: float, d_machine_s: float) -> float:
    """The tree's share of the machine's busy CPU time (0 when the machine was idle)."""
    if d_machine_s <= 0:
        return 0.0
    return min(1.0, d_process_s / d_machine_s)


def _cpu_count(cpu_count: int | None) -> int:
    if cpu_count is None:
        from carbonledger.sensors._proc import logical_cpu_count

        return logical_cpu_count()
    if cpu_count < 1:
        raise InputError(f"cpu_count must be at least 1, got {cpu_count}")
    return cpu_count


class CpuModelSensor:
    """CPU energy estimated from TDP and utilisation (``method="tdp-model"``).

    ``scope="machine"``: the whole machine's CPUs, ``P(u) x dt`` per interval.
    ``scope="process"``: that energy x the share of the machine's busy CPU time that
    the process tree of ``pid`` (default: this process) used in the interval.
    ``tdp_w`` is for all packages together (per-socket TDP x sockets). ``cpu_times``
    returns the machine's busy CPU seconds, ``process_cpu_times`` the tree's, both
    cumulative; by default they come from psutil.
    """

    def __init__(
        self,
        *,
        tdp_w: float,
        scope: Scope,
        pid: int | None = None,
        cpu_count: int | None = None,
        cpu_times: Callable[[], float] | None = None,
        process_cpu_times: Callable[[], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        model: str = "",
        tdp_source: str = "",
        tdp_low_w: float | None = None,
        tdp_high_w: float | None = None,
        note: str = "",
        device: str = "cpu",
    ) -> None:
        if not (isfinite(tdp_w) and tdp_w > 0):
            raise InputError(f"tdp_w must be a positive number of watts, got {tdp_w!r}")
        if scope not in ("process", "machine"):
            raise InputError(f"unknown scope {scope!r}; use 'process' or 'machine'")
        self._scope = scope
        self._tdp_w = tdp_w
        self._tdp_low_w = tdp_w * TDP_LOW_FACTOR if tdp_low_w is None else tdp_low_w
        self._tdp_high_w = tdp_w * TDP_HIGH_FACTOR if tdp_high_w is None else tdp_high_w
        if not 0 < self._tdp_low_w <= tdp_w <= self._tdp_high_w:
            raise InputError(
                f"need 0 < tdp_low_w <= tdp_w <= tdp_high_w, got "
                f"{self._tdp_low_w} / {tdp_w} / {self._tdp_high_w}"
            )
        #: P(u) = P_idle + span x u, as (P_idle, span = TDP - P_idle) in W, for the central,
        #: low and high model: made once, so that a sampler tick only multiplies and adds
        self._lines = tuple(
            _idle_and_span(t, share)
            for t, share in (
                (tdp_w, IDLE_SHARE),
                (self._tdp_low_w, IDLE_SHARE_LOW),
                (self._tdp_high_w, IDLE_SHARE_HIGH),
            )
        )
        self._cpu_count = _cpu_count(cpu_count)
        self._clock = clock
        self._lock = _thread.allocate_lock()
        self._times = _CpuTimes(cpu_times, process_cpu_times, pid, scope == "process")
        self._last_time_s = clock()
        self._energy_j = self._low_j = self._high_j = 0.0
        self._first = True
        source = tdp_source or "given"
        how = (
            "share of the machine's busy CPU time used by the process tree x machine power"
            if scope == "process"
            else "the whole machine"
        )
        reason = (
            f"estimated: P = P_idle + (TDP - P_idle) x utilisation, TDP {tdp_w:g} W "
            f"({source}), P_idle {IDLE_SHARE:g} x TDP; {how}"
        )
        if note:
            reason += f"; {note}"
        self._info = SensorInfo(
            component="cpu",
            device=device,
            method="tdp-model",
            measured=False,
            model=model,
            reason=reason,
            host_wide=scope == "machine",
        )

    @property
    def info(self) -> SensorInfo:
        return self._info

    def power_w(self, utilisation: float) -> float:
        """The machine's modelled CPU power at ``utilisation`` (0..1)."""
        idle_w, span_w = self._lines[0]
        return idle_w + span_w * utilisation

    def read(self) -> Reading:
        with self._lock:
            now = self._clock()
            elapsed_s = now - self._last_time_s
            d_machine, d_process = self._times.step()
            power_w: float | None = None
            if elapsed_s > 0:
                u = min(1.0, d_machine / (elapsed_s * self._cpu_count))
                share = 1.0 if self._scope == "machine" else _share(d_process, d_machine)
                (idle_w, span_w), (low_idle_w, low_span_w), (high_idle_w, high_span_w) = self._lines
                e = (idle_w + span_w * u) * elapsed_s * share
                self._energy_j += e
                self._low_j += (low_idle_w + low_span_w * u) * elapsed_s * share
                self._high_j += (high_idle_w + high_span_w * u) * elapsed_s * share
                if not self._first:
                    power_w = e / elapsed_s
            self._first = False
            self._last_time_s = now
            return Reading(now, self._energy_j, power_w, self._low_j, self._high_j)

    def close(self) -> None:
        """Nothing to release."""


class RaplShareSensor:
    """A measured package counter attributed to a process tree (``method="rapl-share"``).

    Each interval's energy of ``inner`` (a RAPL package sensor) is multiplied by the
    share of the machine's busy CPU time that the process tree of ``pid`` used in that
    interval (0 when the machine was idle). The energy is a hardware counter and the
    split exact kernel CPU-time accounting, hence ``measured=True``; the split assumes
    every busy CPU second costs the same energy.
    """

    def __init__(
        self,
        inner: Sensor,
        *,
        pid: int | None = None,
        cpu_count: int | None = None,
        cpu_times: Callable[[], float] | None = None,
        process_cpu_times: Callable[[], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._inner = inner
        self._clock = clock
        self._lock = _thread.allocate_lock()
        # cpu_count is accepted for symmetry with CpuModelSensor: a share needs no count
        if cpu_count is not None:
            _cpu_count(cpu_count)
        self._times = _CpuTimes(cpu_times, process_cpu_times, pid, True)
        self._last_inner_j = inner.read().energy_j
        self._last_time_s = clock()
        self._energy_j = 0.0
        self._first = True
        base = inner.info
        self._info = SensorInfo(
            component=base.component,
            device=base.device,
            method="rapl-share",
            measured=True,
            model=base.model,
            reason=(
                f"{base.device} RAPL counter (measured) x the process tree's share of the "
                "machine's busy CPU time in each interval (kernel CPU-time accounting); "
                "0 while the machine is idle"
            ),
            host_wide=False,
            uid=base.uid,
        )

    @property
    def info(self) -> SensorInfo:
        return self._info

    @property
    def inner(self) -> Sensor:
        return self._inner

    def read(self) -> Reading:
        with self._lock:
            inner = self._inner.read()
            now = self._clock()
            d_machine, d_process = self._times.step()
            d_energy_j = max(0.0, inner.energy_j - self._last_inner_j)
            self._last_inner_j = inner.energy_j
            e = d_energy_j * _share(d_process, d_machine)
            self._energy_j += e
            elapsed_s = now - self._last_time_s
            power_w = e / elapsed_s if not self._first and elapsed_s > 0 else None
            self._first = False
            self._last_time_s = now
            return Reading(time_s=now, energy_j=self._energy_j, power_w=power_w)

    def close(self) -> None:
        self._inner.close()
