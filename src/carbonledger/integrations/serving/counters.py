"""From raw counter readings to the amounts of one interval: engine restarts, series that
go missing, never a negative or an invented token.

The rules (docs/serving.md, "Real engines misbehave"):

1. The first successful scrape is the baseline: work done before it is not counted.
2. A series' amount is its value minus its last value seen.
3. A series was reset, and its amount is its whole value (what it counted since the reset),
   when its value went down, when its ``_created`` time changed, or when the engine's
   ``process_start_time_seconds`` changed (a restart resets every series at once). What
   it counted between the last scrape and the reset is gone from the engine: it is not
   guessed; the reset is reported.
4. A series missing from a scrape keeps its last value; when it comes back its amount covers
   the whole gap (or, if it went down meanwhile, rule 3).
5. A series first seen after the baseline counted from zero: its whole value is new work
   (a new model, a new ``finished_reason``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from carbonledger.integrations.serving.engines import (
    QUANTITIES,
    EngineReading,
    Quantity,
    SeriesKey,
)

__all__ = ["Amounts", "CounterDeltas", "Delta", "series_text"]


@dataclass
class Amounts:
    """What one model did in an interval: tokens, finished requests, phase seconds (None:
    the engine exported no such series this time)."""

    input_tokens: float = 0.0
    output_tokens: float = 0.0
    requests: float = 0.0
    prefill_s: float | None = None
    decode_s: float | None = None

    def add(self, quantity: Quantity, amount: float) -> None:
        if quantity in ("prefill_s", "decode_s"):
            setattr(self, quantity, (getattr(self, quantity) or 0.0) + amount)
        else:
            setattr(self, quantity, getattr(self, quantity) + amount)

    def merge(self, other: Amounts) -> None:
        for q in QUANTITIES:
            value = getattr(other, q)
            if value is not None:
                self.add(q, value)

    @property
    def tokens(self) -> float:
        return self.input_tokens + self.output_tokens

    @property
    def active(self) -> bool:
        """Whether anything was counted at all."""
        return self.tokens > 0 or self.requests > 0


@dataclass
class Delta:
    """One scrape's amounts, per model, and what went wrong on the way."""

    models: dict[str, Amounts] = field(default_factory=dict)
    #: series that were reset (their amount is their whole value since)
    resets: list[str] = field(default_factory=list)
    #: series seen before and absent from this scrape
    missing: list[str] = field(default_factory=list)
    #: whether the engine's process restarted (its start time changed)
    restarted: bool = False
    #: this was the baseline: nothing counted yet
    baseline: bool = False

    def total(self) -> Amounts:
        out = Amounts()
        for amounts in self.models.values():
            out.merge(amounts)
        return out


def series_text(key: SeriesKey) -> str:
    """``name{a="1",b="2"}``, as an exposition line names a series."""
    name, labels = key
    if not labels:
        return name
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"


class CounterDeltas:
    """Turns successive :class:`EngineReading` s into :class:`Delta` s (see the module's rules)."""

    def __init__(self) -> None:
        self._last: dict[SeriesKey, float] = {}
        self._created: dict[SeriesKey, float] = {}
        self._start_time_s: float | None = None
        #: series absent when the engine restarted: their next value counts from zero
        self._stale: set[SeriesKey] = set()
        self._baseline_done = False
        #: every reset and restart so far
        self.resets = 0
        self.restarts = 0

    @property
    def has_baseline(self) -> bool:
        """Whether a scrape was taken as the baseline yet."""
        return self._baseline_done

    def update(self, reading: EngineReading) -> Delta:
        delta = Delta()
        if not self._baseline_done:
            self._baseline_done = True
            delta.baseline = True
            self._last.update(reading.values)
            self._created.update(reading.created)
            self._start_time_s = reading.start_time_s
            for key in reading.values:
                delta.models.setdefault(reading.models[key], Amounts())
            return delta
        started = reading.start_time_s
        restarted = (
            started is not None and self._start_time_s is not None and started != self._start_time_s
        )
        if started is not None:
            self._start_time_s = started
        delta.restarted = restarted
        if restarted:
            self.restarts += 1
        for key, value in reading.values.items():
            last = self._last.get(key)
            created, was_created = reading.created.get(key), self._created.get(key)
            recreated = created is not None and was_created is not None and created != was_created
            if last is None:
                amount = value  # a series that appeared after the baseline counted from zero
            elif restarted or recreated or value < last or key in self._stale:
                amount = value
                delta.resets.append(series_text(key))
                self.resets += 1
            else:
                amount = value - last
            self._last[key] = value
            self._stale.discard(key)
            if created is not None:
                self._created[key] = created
            model = reading.models[key]
            delta.models.setdefault(model, Amounts()).add(reading.quantity[key], amount)
        absent = [k for k in self._last if k not in reading.values]
        if restarted:
            self._stale.update(absent)
        delta.missing = [series_text(k) for k in absent]
        return delta
