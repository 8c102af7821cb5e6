"""The serving sidecar: energy per token of a live inference engine (vLLM, TGI, SGLang).

::

    tracker = carbonledger.Tracker(project="serving", scope="machine", interval_s=10)
    sidecar = ServingSidecar("vllm", "http://127.0.0.1:8000/metrics", tracker, interval_s=10)
    sidecar.start()                       # starts the tracker, takes the baseline scrape
    sidecar.run(stop_event)               # an interval every 10 s until stop_event is set
    totals = sidecar.close()              # the last interval, the tracker stopped, the totals
    totals.to_dict()["j_per_output_token"]

Each interval is one window of the tracker's run (``interval-1``, ``interval-2``...): its
energy is the devices' counter difference between the window's two ends, recorded through the
run's signed write path with the tokens and requests the engine counted at its end as the
window's metrics. At the end of an interval the sidecar scrapes the engine's ``/metrics``
(one whole-call deadline), turns the counters into amounts (:mod:`.counters`) and decides:

- **busy**: the engine counted tokens or requests. The interval's energy, plus any energy
  carried from the intervals before it, is one *span*: figures per token, request and phase
  (:mod:`.attribution`), per model where the engine's labels name several.
- **waiting**: nothing was counted but requests are running (TGI and SGLang count a request's
  tokens only when it ends): the energy is carried to the next busy interval.
- **no data**: the scrape failed (the energy is carried: the next scrape's counters cover
  both intervals), or no baseline was taken yet (the energy is *unattributed*).
- **idle**: nothing counted and nothing running: idle energy, reported apart with the idle
  power; no ratio is made of it. Energy carried into an idle interval from *waiting* ones was
  spent on requests that ended uncounted (aborted): it is busy energy without tokens.

The run's energy is split exactly: ``energy_j = busy + idle + unattributed`` (the last also
takes the moments outside any interval: before the first window, between two).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

from carbonledger.errors import InputError, StateError
from carbonledger.integrations.serving.attribution import (
    Carbon,
    Energy,
    SpanFigures,
    attribute,
)
from carbonledger.integrations.serving.charges import Charge, Span, SpanBook
from carbonledger.integrations.serving.counters import Amounts, CounterDeltas, Delta
from carbonledger.integrations.serving.engines import (
    EngineSpec,
    HttpStatusError,
    KeptHttpGet,
    LineCache,
    check_metrics_url,
    engine_spec,
    http_get,
    parse_metrics,
)
from carbonledger.integrations.serving.intervals import (
    IntervalReport,
    State,
    window_energy,
    window_metrics,
)
from carbonledger.integrations.serving.totals import (
    ModelTotal,
    ServingTotals,
    Totals,
    measured_j,
)

if TYPE_CHECKING:
    from carbonledger.models import RunStatus, WindowSummary
    from carbonledger.run import Tracker

__all__ = [
    "IntervalReport",
    "ServingSidecar",
    "ServingTotals",
    "State",
    "window_energy",
]

#: the default rate window, in intervals: a request is charged at the pooled rates of the spans
#: that closed over about this many intervals (docs/serving.md, "The attribution rule")
_RATE_WINDOW_INTERVALS = 6
#: intervals before the sidecar's own CPU is counted (first calls import and warm up)
_WARMUP_INTERVALS = 2


class ServingSidecar:
    """Measure a live engine's energy per token, interval by interval (see the module doc).

    :param engine: ``"vllm"``, ``"tgi"``, ``"sglang"`` or an :class:`EngineSpec`
    :param metrics_url: the engine's Prometheus endpoint (``http://host:port/metrics``)
    :param tracker: a new (not started) :class:`~carbonledger.Tracker` measuring the devices
        the engine uses; the sidecar starts and stops it
    :param interval_s: seconds per interval (0.01 to 86400)
    :param scrape_timeout_s: the whole-call deadline of one scrape, in seconds (default half
        the interval, at most 2 s); at most the interval, so that intervals keep their time
    :param model: the model's name for an engine whose metrics name none (TGI)
    :param headers: HTTP headers sent with each scrape (an ``Authorization`` header...)
    :param clock: monotonic seconds, the tracker's clock (inject a fake one in tests)
    :param fetch: ``(url, timeout_s, headers) -> str``: how a scrape is made (default: an HTTP
        GET within the deadline); its exceptions are failed scrapes
    """

    def __init__(
        self,
        engine: str | EngineSpec,
        metrics_url: str,
        tracker: Tracker,
        *,
        interval_s: float = 10.0,
        scrape_timeout_s: float | None = None,
        rate_window_s: float | None = None,
        model: str = "",
        headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        fetch: Callable[[str, float, Mapping[str, str]], str] | None = None,
    ) -> None:
        from carbonledger.run.settings import check_interval_s

        self.spec = engine if isinstance(engine, EngineSpec) else engine_spec(engine)
        self.metrics_url = check_metrics_url(metrics_url)
        self.interval_s = check_interval_s(interval_s, "interval_s")
        if scrape_timeout_s is None:
            scrape_timeout_s = min(2.0, self.interval_s / 2)
        if not (math.isfinite(scrape_timeout_s) and 0 < scrape_timeout_s <= self.interval_s):
            raise InputError(
                f"the scrape timeout must be > 0 s and at most the interval "
                f"({self.interval_s:g} s), got {scrape_timeout_s!r}"
            )
        self.scrape_timeout_s = float(scrape_timeout_s)
        self._book = SpanBook(
            _RATE_WINDOW_INTERVALS * self.interval_s if rate_window_s is None else rate_window_s
        )
        self.model = model
        self._headers = dict(headers or {})
        self.tracker = tracker
        self.clock = clock
        self._kept = KeptHttpGet() if fetch is None else None
        self._fetch = fetch or self._kept or http_get
        self._counters = CounterDeltas()
        self._lines = LineCache()
        self._scrape_url = self.spec.scrape_url(self.metrics_url)
        self._lock = threading.Lock()
        self._state: Literal["new", "running", "closed"] = "new"
        self._index = 0
        self._window = ""
        self._window_started_s = 0.0
        self._carry = Energy()
        self._carry_start_s: float | None = None
        self._carry_duration_s = 0.0
        self._carry_waiting = False
        self._last_running = 0.0
        self._t = Totals()
        self._latest: IntervalReport | None = None
        self._latest_span: SpanFigures | None = None
        self._carbon = Carbon(1.0, 0.0)
        self._result: ServingTotals | None = None
        #: this process's CPU time and the monotonic time when the warm-up ended (seconds)
        self._cpu_mark: tuple[float, float] | None = None
        self._cpu_share: tuple[float, float] | None = None
        #: called with every interval's report (the CLI prints it; the exporter needs none)
        self.on_interval: Callable[[IntervalReport], None] | None = None

    @property
    def rate_window_s(self) -> float:
        """Seconds of recent spans pooled into the rates a request is charged at."""
        return self._book.window_s

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> ServingSidecar:
        """Start the tracker, take the baseline scrape, open the first interval."""
        if self._state != "new":
            raise StateError("this sidecar was started already; make a new one")
        self.tracker.start()
        self._carbon = Carbon(self.tracker.pue, self.tracker.intensity_g_per_kwh)
        self._state = "running"
        text, error = self._scrape()
        if text is not None:
            self._counters.update(self._parse(text))
        elif error:
            self.tracker.update_meta({"serving_start_note": f"baseline scrape failed: {error}"})
        self.tracker.update_meta(
            {
                "serving": {
                    "engine": self.spec.name,
                    "metrics_url": self.metrics_url,
                    "interval_s": self.interval_s,
                    "scrape_timeout_s": self.scrape_timeout_s,
                    "counted_at": self.spec.counted_at,
                    "model": self.model,
                }
            }
        )
        self._open_window()
        return self

    def _open_window(self) -> None:
        self._index += 1
        self._window = f"interval-{self._index}"
        self._window_started_s = self.clock()
        self.tracker.begin_window(self._window)

    def run(
        self,
        stop: threading.Event,
        duration_s: float | None = None,
    ) -> None:
        """Close an interval every ``interval_s`` seconds until ``stop`` is set or
        ``duration_s`` seconds have passed (one deadline for the whole loop). Boundaries
        keep to the schedule ``start + k * interval_s`` however long a scrape took; a
        boundary missed entirely (a machine suspended) is skipped, not made up."""
        if self._state != "running":
            raise StateError("run() needs a started sidecar; call start() first")
        t0 = time.monotonic()
        end_at = None if duration_s is None else t0 + duration_s
        k = 1
        while True:
            boundary = t0 + k * self.interval_s
            if end_at is not None and boundary > end_at:
                boundary = end_at
            if stop.wait(max(0.0, boundary - time.monotonic())):
                return
            if end_at is not None and time.monotonic() >= end_at:
                return
            self.step()
            now = time.monotonic()
            k = max(k + 1, math.floor((now - t0) / self.interval_s) + 1)

    def close(self, status: RunStatus = "completed") -> ServingTotals:
        """Close the last interval, stop the tracker (recording the run as ``status``) and
        return the totals. Idempotent."""
        if self._result is not None:
            return self._result
        if self._state == "new":
            raise StateError("close() called before start()")
        if self._cpu_mark is not None:  # its own cost, before the last interval's
            cpu0, wall0 = self._cpu_mark
            self._cpu_share = (time.process_time() - cpu0, time.monotonic() - wall0)
        self.step(final=True)
        if self._kept is not None:
            self._kept.close()
        summary = self.tracker.stop(status)
        with self._lock:
            self._state = "closed"
            if self._carry.energy_j > 0:  # the engine had not counted the last seconds' work
                self._t.unattributed += self._carry
                self._carry = Energy()
            # the moments outside every window (before the first, after the last)
            gap_j = max(0.0, summary.energy_j - self._sum_windows("energy"))
            self._t.unattributed += Energy(
                gap_j,
                max(0.0, summary.energy_low_j - self._sum_windows("low")),
                max(0.0, summary.energy_high_j - self._sum_windows("high")),
                min(gap_j, max(0.0, measured_j(summary) - self._sum_windows("measured"))),
            )
            self._result = ServingTotals(
                self.spec.name,
                self.metrics_url,
                summary,
                self._t.to_dict(
                    summary,
                    spec=self.spec,
                    metrics_url=self.metrics_url,
                    interval_s=self.interval_s,
                    carbon=self._carbon,
                    cpu_share=self._cpu_share,
                    warmup_intervals=_WARMUP_INTERVALS,
                ),
            )
        return self._result

    def _sum_windows(self, which: str) -> float:
        t = self._t
        parts = (t.busy, t.uncounted, t.idle, t.unattributed)
        if which == "energy":
            return sum(p.energy_j for p in parts)
        if which == "low":
            return sum(p.low_j for p in parts)
        if which == "high":
            return sum(p.high_j for p in parts)
        return sum(p.measured_j for p in parts)

    # --- one interval ------------------------------------------------------------------------

    def _scrape(self) -> tuple[str | None, str]:
        """The engine's page (only our samples where it can filter), or the reason why not."""
        url = self._scrape_url
        try:
            return self._fetch(url, self.scrape_timeout_s, self._headers), ""
        except HttpStatusError as exc:
            if 400 <= exc.status < 500 and url != self.metrics_url:
                self._scrape_url = self.metrics_url  # it refuses the filter: go without
                return self._scrape()
            return None, self._reason(exc, url)
        except Exception as exc:  # any failure of a scrape is a failed scrape, never fatal
            return None, self._reason(exc, url)

    def _reason(self, exc: Exception, url: str) -> str:
        """Why a scrape failed, naming the metrics URL (not its long filtered form)."""
        return f"{type(exc).__name__}: {str(exc).replace(url, self.metrics_url)}"[:500]

    def _parse(self, text: str) -> Any:
        return parse_metrics(text, self.spec, model=self.model, cache=self._lines)

    def step(self, *, final: bool = False) -> IntervalReport:
        """End the current interval now: scrape, record the window with what was counted,
        decide its state, and open the next interval (unless ``final``)."""
        if self._state != "running":
            raise StateError("step() needs a started sidecar; call start() first")
        t_scrape = time.monotonic()
        text, error = self._scrape()
        delta: Delta | None = None
        running: float | None = None
        if text is not None:
            try:
                reading = self._parse(text)
            except Exception as exc:  # a page we cannot parse is a failed scrape
                text, error = None, f"unparsable metrics: {type(exc).__name__}: {exc}"[:500]
            else:
                delta = self._counters.update(reading)
                running = sum(reading.running.values()) if reading.running else None
        scrape_s = time.monotonic() - t_scrape
        metrics = window_metrics(delta, running, error)
        index, name, started_s = self._index, self._window, self._window_started_s
        if final:
            window = self.tracker.end_window(name, metrics=metrics)
            end_s = self.clock()
        else:  # the next interval begins at the reading that ends this one: no gap
            self._index += 1
            self._window = f"interval-{self._index}"
            window = self.tracker.next_window(name, self._window, metrics=metrics)
            end_s = self._window_started_s = self.clock()
        with self._lock:
            report = self._decide(
                index, name, window, started_s, end_s, delta, running, error, scrape_s
            )
            self._latest = report
        if index == _WARMUP_INTERVALS:
            self._cpu_mark = (time.process_time(), time.monotonic())
        self._publish(report)
        return report

    def _decide(
        self,
        index: int,
        name: str,
        window: WindowSummary,
        started_s: float,
        end_s: float,
        delta: Delta | None,
        running: float | None,
        error: str,
        scrape_s: float,
    ) -> IntervalReport:
        t = self._t
        energy = window_energy(window)
        t.intervals += 1
        span: SpanFigures | None = None
        amounts = Amounts()
        models: dict[str, Amounts] = {}
        state: State
        if self._carry_start_s is None:
            self._carry_start_s = started_s
        if delta is None:
            t.scrapes_failed += 1
            state = "no-data"
            if self._counters.has_baseline:
                self._carry += energy
                self._carry_duration_s += window.duration_s
            else:
                t.unattributed += energy
                self._carry_start_s = None
        elif delta.baseline:
            state = "baseline"
            t.unattributed += energy + self._carry
            self._reset_carry()
        else:
            t.restarts += int(delta.restarted)
            t.resets += len(delta.resets)
            t.missing += len(delta.missing)
            amounts, models = delta.total(), delta.models
            busy_now = (running or 0.0) > 0 or self._last_running > 0
            if amounts.active:
                state = "busy"
                span_energy = self._carry + energy
                span_start = self._carry_start_s
                span_s = self._carry_duration_s + window.duration_s
                span = attribute(span_energy, span_s, models, self._carbon)
                self._count_busy(span, span_s)
                if span.rates is not None:
                    self._book.add(Span(span_start, end_s, span_energy, span.amounts, span.rates))
                self._latest_span = span
                self._reset_carry()
            elif busy_now:
                state = "waiting"
                self._carry += energy
                self._carry_duration_s += window.duration_s
                self._carry_waiting = True
            else:
                state = "idle"
                carried, carried_s = self._carry, self._carry_duration_s
                if self._carry_waiting:  # requests ran and ended uncounted (aborted)
                    t.uncounted += carried
                    t.idle += energy
                    t.idle_duration_s += window.duration_s
                else:  # failed scrapes before an idle one: nothing was counted over them all
                    t.idle += carried + energy
                    t.idle_duration_s += carried_s + window.duration_s
                self._reset_carry()
        if running is not None:
            self._last_running = running
        return IntervalReport(
            index=index,
            window=name,
            started_unix_s=window.started_unix_s,
            duration_s=window.duration_s,
            energy=energy,
            state=state,
            scrape_ok=delta is not None,
            scrape_error=error,
            scrape_s=scrape_s,
            amounts=amounts,
            models=dict(models),
            running_requests=running,
            restarted=bool(delta and delta.restarted),
            resets=tuple(delta.resets) if delta else (),
            missing=tuple(delta.missing) if delta else (),
            span=span,
        )

    def _reset_carry(self) -> None:
        self._carry, self._carry_start_s = Energy(), None
        self._carry_duration_s, self._carry_waiting = 0.0, False

    def _count_busy(self, span: SpanFigures, duration_s: float) -> None:
        t = self._t
        t.busy += span.energy
        t.busy_duration_s += duration_s
        t.amounts.merge(span.amounts)
        if span.prefill_energy is not None and span.decode_energy is not None:
            t.prefill += span.prefill_energy
            t.decode += span.decode_energy
            t.split_input_tokens += span.amounts.input_tokens
            t.split_output_tokens += span.amounts.output_tokens
        for name, m in span.models.items():
            mt = t.models.setdefault(name, ModelTotal())
            mt.input_tokens += m.input_tokens
            mt.output_tokens += m.output_tokens
            mt.requests += m.requests
            mt.energy += m.energy

    def _publish(self, report: IntervalReport) -> None:
        callback = self.on_interval
        if callback is not None:
            callback(report)

    # --- for the proxy and the exporter ------------------------------------------------------

    def charge(
        self, input_tokens: float, output_tokens: float, started_s: float, ended_s: float
    ) -> Charge | None:
        """The energy of a request of ``input_tokens`` and ``output_tokens`` that ran from
        ``started_s`` to ``ended_s`` (this sidecar's clock), at the pooled rates of the recent
        spans (:meth:`SpanBook.charge`). None before any span closed (nothing to charge at);
        the request is still counted."""
        with self._lock:
            t = self._t
            t.proxied_requests += 1
            t.proxied_input_tokens += input_tokens
            t.proxied_output_tokens += output_tokens
            charge = self._book.charge(
                input_tokens, output_tokens, started_s, ended_s, self._carbon, self.spec.name
            )
            if charge is None:
                t.proxied_uncharged += 1
            else:
                t.proxied_energy_j += charge.energy_j
            return charge

    def snapshot(self) -> tuple[IntervalReport | None, SpanFigures | None, dict[str, Any]]:
        """The latest interval, the latest span, and the running totals (for the exporter)."""
        with self._lock:
            return self._latest, self._latest_span, self._t.running(self._carry, self._carbon)
