"""``verify`` of a run's rows against what each batch signed: a batch's samples and windows
against the rows tagged with its number, read in order one segment at a time (see
:mod:`~carbonledger.ledger.audit_events`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

from carbonledger.events import Batch, SamplesAdded, WindowEnded
from carbonledger.ledger.chain import Problem
from carbonledger.ledger.rows import ce_to_dict, dumps, sample_values
from carbonledger.ledger.state import loads
from carbonledger.ledger.transports.base import Row

__all__ = ["Cursor", "compare_segment", "rows_by_seg"]


def rows_by_seg(rows: Iterator[Row]) -> Iterator[tuple[int | None, list[Row]]]:
    """Consecutive rows grouped by their first column (the segment)."""
    current: list[Row] = []
    seg: Any = object()
    for row in rows:
        if current and row[0] != seg:
            yield _seg(seg), current
            current = []
        seg = row[0]
        current.append(row)
    if current:
        yield _seg(seg), current


def _seg(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class Cursor:
    """Segments of rows read in order, taken one segment number at a time."""

    def __init__(self, groups: Iterator[tuple[int | None, list[Row]]]) -> None:
        self._groups = groups
        self._next: tuple[int | None, list[Row]] | None = next(groups, None)

    def take(self, seg: int) -> tuple[list[Row], list[tuple[int | None, list[Row]]]]:
        """The rows of ``seg``, and the groups before it that no batch claims."""
        stray = []
        while self._next is not None and (self._next[0] is None or self._next[0] < seg):
            stray.append(self._next)
            self._next = next(self._groups, None)
        if self._next is not None and self._next[0] == seg:
            rows = self._next[1]
            self._next = next(self._groups, None)
            return rows, stray
        return [], stray

    def rest(self) -> list[tuple[int | None, list[Row]]]:
        out = []
        while self._next is not None:
            out.append(self._next)
            self._next = next(self._groups, None)
        return out


def compare_segment(
    rid: str,
    mid: str,
    seg: int,
    batch: Batch,
    held_samples: Cursor,
    held_windows: Cursor,
    host: str,
) -> list[Problem]:
    """Batch ``seg`` of member ``mid`` against the sample and window rows tagged with its
    number (and any rows tagged with a number before it that no batch claims)."""
    problems: list[Problem] = []
    rows, stray = held_samples.take(seg)
    wrows, wstray = held_windows.take(seg)
    for s_seg, srows in stray:
        problems.append(
            Problem(
                rid,
                "inserted",
                f"member {mid}: {len(srows)} sample(s) tagged {s_seg} are in no signed batch",
            )
        )
    for w_seg, ws in wstray:
        problems.append(
            Problem(
                rid,
                "inserted",
                f"member {mid}: {len(ws)} window(s) tagged {w_seg} are in no signed batch",
            )
        )
    signed_samples = []
    signed_windows = []
    for event in batch.events:
        if isinstance(event, SamplesAdded):
            signed_samples += [[s.device, *sample_values(s)] for s in event.samples]
        elif isinstance(event, WindowEnded):
            w = event.window
            signed_windows.append(
                [
                    w.name,
                    w.path,
                    float(w.started_unix_s),
                    float(w.duration_s),
                    None if w.co2e_g is None else float(w.co2e_g),
                    [ce_to_dict(c, host) for c in w.components],
                    dict(w.metrics),
                ]
            )
    held = [[r[1], *r[2:]] for r in rows]
    if Counter(map(tuple, held)) != Counter(map(tuple, signed_samples)):
        problems.append(
            Problem(
                rid,
                "modified",
                f"member {mid}: the samples of batch {seg} differ from what it signed "
                f"({len(signed_samples)} signed, {len(held)} now"
                + _first_difference(signed_samples, held)
                + ")",
            )
        )
    held_w = [[*r[1:6], loads(r[6], []), {} if r[7] is None else loads(r[7], {})] for r in wrows]
    if _sorted(held_w) != _sorted(signed_windows):
        problems.append(
            Problem(
                rid,
                "modified",
                f"member {mid}: the windows of batch {seg} differ from what it signed "
                f"({len(signed_windows)} signed, {len(held_w)} now"
                + _first_difference(signed_windows, held_w)
                + ")",
            )
        )
    return problems


def _sorted(rows: list[list[Any]]) -> list[str]:
    return sorted(dumps(r) for r in rows)


def _first_difference(signed: list[list[Any]], held: list[list[Any]]) -> str:
    a, b = set(_sorted(signed)), set(_sorted(held))
    gone, new = sorted(a - b), sorted(b - a)
    if gone and new:
        return f"; signed {gone[0][:120]}, now {new[0][:120]}"
    if gone:
        return f"; missing {gone[0][:120]}"
    if new:
        return f"; added {new[0][:120]}"
    return ""
