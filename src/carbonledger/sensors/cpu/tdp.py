"""The CPU TDP table: CPU model names and their rated TDP, and how a name is matched.

The table (``sensors/data/cpu_tdp.csv``) is built by ``scripts/build_cpu_table.py`` from
public TDP lists; each row names its source, year and licence. The TDP model of
:mod:`carbonledger.sensors.cpu.model` charges a bare-metal machine's CPUs by it.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cache

from carbonledger._dirs import cache_dir
from carbonledger._files import read_json_cache, write_json_cache

__all__ = [
    "DEFAULT_TDP_HIGH_W",
    "DEFAULT_TDP_LOW_W",
    "DEFAULT_TDP_W",
    "TABLE_PATH",
    "TDP_HIGH_FACTOR",
    "TDP_LOW_FACTOR",
    "CpuRecord",
    "TdpMatch",
    "cpu_table",
    "find_tdp",
    "lookup_tdp",
    "normalise_cpu_name",
]

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

#: patterns removed from names, in order
_REMOVED = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        r"\((?:r|tm|c)\)|[®™©]",  # trademarks
        r"@\s*\d+(?:\.\d+)?\s*[gm]hz",  # "@ 2.50GHz"
        r"\b\d+(?:st|nd|rd|th)\s+gen(?:eration)?\b",  # "12th Gen"
        r"\b\d+\s*-?\s*cores?\b"
        r"|\b(?:single|dual|triple|quad|hexa|six|octa|eight|ten|twelve|sixteen)[- ]cores?\b",
        r"\b(?:w(?:ith|/)\s+)?radeon\b.*$",  # "with Radeon Graphics"
    )
)
_PUNCTUATION = re.compile(r"[-_,;/()\[\]\"']")
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
    s = name
    for pattern in _REMOVED:
        s = pattern.sub(" ", s)
    s = _PUNCTUATION.sub(" ", s.lower())
    return " ".join(w for w in s.split() if w not in _NOISE)


def _model_tokens(words: list[str]) -> frozenset[str]:
    return frozenset(w for w in words if any(c.isdigit() for c in w))


# --------------------------------------------------------------------------- table


@dataclass(frozen=True)
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


TABLE_PATH = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data", "cpu_tdp.csv"
)


@cache
def cpu_table() -> tuple[CpuRecord, ...]:
    """The shipped CPU TDP table (read once)."""
    with open(TABLE_PATH, newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh)
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


@dataclass(frozen=True)
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
    return os.path.join(cache_dir(env), "cpu-tdp.json")


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
    path = _tdp_cache_file()
    stamp = _table_stamp()
    entries: dict[str, dict[str, object]] = {}
    data = read_json_cache(path)
    if isinstance(data, dict) and data.get("table") == stamp:
        found = data.get("entries")
        entries = found if isinstance(found, dict) else {}
        hit = entries.get(name)
        if isinstance(hit, dict):
            try:
                return TdpMatch(**hit)  # type: ignore[arg-type]
            except TypeError:  # an entry of another shape: looked up again below
                pass
    match = find_tdp(name)
    entries = {**dict(list(entries.items())[-31:]), name: asdict(match)}
    write_json_cache(path, {"table": stamp, "entries": entries})
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
