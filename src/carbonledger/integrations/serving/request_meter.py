"""Energy per request and per token for inference and serving.

::

    tracker = carbonledger.Tracker(project="chat").start()
    meter = RequestMeter(tracker)
    with meter.request(input_tokens=len(prompt_ids)) as req:   # from any thread
        req.phase("prefill")
        first = model.prefill(prompt_ids)
        req.phase("decode")
        out = model.decode(first)
        req.output_tokens = len(out)
    stats = meter.stats()        # J/request, J/output token, p50 / p90, prefill vs decode
    meter.log_to_tracker()       # into the run's metrics (summary and ledger metadata)

The rule for requests that run at the same time (documented in docs/integrations.md):

1. The tracker's cumulative energy (:meth:`~carbonledger.Tracker.energy_j`, every device in
   use) is read at every *event*: a request begins, changes phase, or ends. Between two
   consecutive events the set of active *segments* is constant; that interval's energy
   ``dE`` is split among them. With no segment active it is *idle* energy, attributed to
   no request (reported separately, and in the "including idle" figure).
2. A segment is one phase of one request: ``prefill`` carries the request's input tokens,
   ``decode`` its output tokens; a request that marks no phase is one segment carrying
   input + output tokens; time before a request's first mark carries no tokens.
3. A segment is assumed to process its tokens at a steady rate over its duration, so in an
   interval of length ``dt`` segment ``i`` processes ``w_i = tokens_i * dt / duration_i``
   tokens. Its share of ``dE`` is ``w_i / sum(w)``. If no active segment has tokens, ``dE``
   is split equally among them.

Shares are settled when every request in an interval has ended (token counts are often
known only then). The sum over requests plus the idle energy is exactly the tracker's
energy between the first and the last event. Energy in joules, durations in seconds.
"""

from __future__ import annotations

import itertools
import math
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from carbonledger.errors import InputError, StateError

if TYPE_CHECKING:
    from carbonledger.run import Tracker

__all__ = ["Distribution", "Request", "RequestMeter", "RequestRecord", "RequestStats"]

PHASES = ("prefill", "decode")


@dataclass
class _Segment:
    request: Request
    phase: str | None  # None: the whole request (no phase marked) or time before a mark
    start_s: float
    end_s: float | None = None
    energy_j: float = 0.0

    def tokens(self) -> int:
        r = self.request
        if self.phase == "prefill":
            return r.input_tokens
        if self.phase == "decode":
            return r.output_tokens
        return 0 if r.phased else r.input_tokens + r.output_tokens


@dataclass(frozen=True)
class _Interval:
    energy_j: float
    duration_s: float
    segments: tuple[_Segment, ...]


@dataclass(frozen=True)
class RequestRecord:
    """One finished request: its energy (J) in total and per phase, tokens and duration."""

    request_id: str
    energy_j: float
    duration_s: float
    input_tokens: int
    output_tokens: int
    prefill_energy_j: float | None
    decode_energy_j: float | None

    @property
    def energy_per_output_token_j(self) -> float | None:
        return self.energy_j / self.output_tokens if self.output_tokens else None


@dataclass(frozen=True)
class Distribution:
    """Mean, median and 90th percentile (linear interpolation between order statistics,
    as ``numpy.percentile``'s default) of per-request values; ``count`` values."""

    count: int
    mean: float
    p50: float
    p90: float

    @staticmethod
    def of(values: Sequence[float]) -> Distribution | None:
        if not values:
            return None
        if len(values) == 1:
            v = float(values[0])
            return Distribution(1, v, v, v)
        cuts = statistics.quantiles(values, n=10, method="inclusive")
        return Distribution(
            len(values), statistics.fmean(values), statistics.median(values), cuts[8]
        )

    def to_dict(self) -> dict[str, float]:
        return {"count": self.count, "mean": self.mean, "p50": self.p50, "p90": self.p90}


@dataclass(frozen=True)
class RequestStats:
    """Energy per request and per token over the finished (and settled) requests.

    ``energy_per_output_token_j`` is the aggregate (energy of all requests / their output
    tokens); ``per_output_token_j`` the distribution of each request's own ratio.
    ``idle_energy_j`` is energy while no request was active (not in any request's share).
    """

    requests: int
    energy_j: float
    idle_energy_j: float
    input_tokens: int
    output_tokens: int
    per_request_j: Distribution | None
    per_output_token_j: Distribution | None
    energy_per_output_token_j: float | None
    energy_per_request_with_idle_j: float | None
    prefill_energy_per_input_token_j: float | None
    decode_energy_per_output_token_j: float | None
    #: how the figures were obtained
    method: str = field(
        default="device energy (as measured or estimated by the run's sensors) shared among "
        "concurrent requests by overlap time weighted by token rate; idle energy apart"
    )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            out[key] = value.to_dict() if isinstance(value, Distribution) else value
        return out

    def metrics(self) -> dict[str, float]:
        """Flat numeric metrics (``requests/energy_per_request_j_p50`` ...)."""
        flat: dict[str, float] = {
            "requests/count": float(self.requests),
            "requests/energy_j": self.energy_j,
            "requests/idle_energy_j": self.idle_energy_j,
            "requests/output_tokens": float(self.output_tokens),
        }
        for name, dist in (
            ("energy_per_request_j", self.per_request_j),
            ("energy_per_output_token_j", self.per_output_token_j),
        ):
            if dist is not None:
                flat[f"requests/{name}_p50"] = dist.p50
                flat[f"requests/{name}_p90"] = dist.p90
                flat[f"requests/{name}_mean"] = dist.mean
        for name in (
            "energy_per_output_token_j",
            "energy_per_request_with_idle_j",
            "prefill_energy_per_input_token_j",
            "decode_energy_per_output_token_j",
        ):
            value = getattr(self, name)
            if value is not None:
                flat[f"requests/{name}"] = value
        return flat


class Request:
    """A request in flight (made by :meth:`RequestMeter.begin` / :meth:`RequestMeter.request`).

    Set :attr:`input_tokens` / :attr:`output_tokens` any time before it ends."""

    def __init__(self, meter: RequestMeter, request_id: str, input_tokens: int) -> None:
        self._meter = meter
        self.request_id = request_id
        self.input_tokens = input_tokens
        self.output_tokens = 0
        self.phased = False
        self.segments: list[_Segment] = []
        self.start_s = 0.0
        self.end_s: float | None = None

    def phase(self, name: str) -> None:
        """From now on the request is in phase ``name`` (``"prefill"`` or ``"decode"``)."""
        self._meter.mark(self, name)

    def end(self, output_tokens: int | None = None) -> None:
        self._meter.end(self, output_tokens)


class RequestMeter:
    """Account a tracker's energy to requests, thread-safely, by the rule in the module doc.

    :param tracker: a running :class:`~carbonledger.Tracker` (its ``energy_j()`` is read at
        each event), or any ``() -> joules`` callable giving cumulative energy
    :param clock: monotonic seconds (inject a fake one in tests)
    """

    def __init__(
        self,
        tracker: Tracker | Callable[[], float],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tracker: Tracker | None = None
        self._energy: Callable[[], float]
        if callable(tracker):
            self._energy = tracker
        else:
            self._tracker, self._energy = tracker, tracker.energy_j
        self._clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._active: list[_Segment] = []
        self._pending: list[_Interval] = []
        self._last: tuple[float, float] | None = None  # (time_s, energy_j) at the last event
        self._idle_j = 0.0
        self._done: list[RequestRecord] = []
        self._unsettled: list[Request] = []

    # --- events --------------------------------------------------------------------------

    def _event(self) -> float:
        """Close the interval since the last event (caller holds the lock); returns now."""
        now_s, energy_j = self._clock(), float(self._energy())
        if self._last is not None:
            d_energy_j = max(0.0, energy_j - self._last[1])
            duration_s = max(0.0, now_s - self._last[0])
            if self._active:
                self._pending.append(_Interval(d_energy_j, duration_s, tuple(self._active)))
            else:
                self._idle_j += d_energy_j
        self._last = (now_s, energy_j)
        return now_s

    def begin(
        self, input_tokens: int = 0, *, request_id: str | None = None, phase: str | None = None
    ) -> Request:
        """A request begins now (optionally in ``phase``)."""
        _check_tokens("input_tokens", input_tokens)
        if phase is not None and phase not in PHASES:
            raise InputError(f"phase must be 'prefill' or 'decode', got {phase!r}")
        request = Request(self, request_id or f"req-{next(self._ids)}", input_tokens)
        request.phased = phase is not None
        with self._lock:
            now_s = self._event()
            request.start_s = now_s
            self._open_segment(request, phase, now_s)
        return request

    def _open_segment(self, request: Request, phase: str | None, now_s: float) -> None:
        segment = _Segment(request, phase, now_s)
        request.segments.append(segment)
        self._active.append(segment)

    def _close_segment(self, request: Request, now_s: float) -> None:
        segment = request.segments[-1]
        segment.end_s = now_s
        self._active.remove(segment)

    def mark(self, request: Request, phase: str) -> None:
        """``request`` enters ``phase`` (``"prefill"`` or ``"decode"``) now."""
        if phase not in PHASES:
            raise InputError(f"phase must be 'prefill' or 'decode', got {phase!r}")
        with self._lock:
            if request.end_s is not None:
                raise StateError(f"request {request.request_id} has ended")
            if request.segments[-1].phase == phase:
                return
            now_s = self._event()
            request.phased = True
            self._close_segment(request, now_s)
            self._open_segment(request, phase, now_s)

    def end(self, request: Request, output_tokens: int | None = None) -> None:
        """``request`` ends now; ``output_tokens`` (if given) sets its output token count."""
        if output_tokens is not None:
            _check_tokens("output_tokens", output_tokens)
            request.output_tokens = output_tokens
        with self._lock:
            if request.end_s is not None:
                raise StateError(f"request {request.request_id} has already ended")
            _check_tokens("input_tokens", request.input_tokens)
            _check_tokens("output_tokens", request.output_tokens)
            now_s = self._event()
            request.end_s = now_s
            self._close_segment(request, now_s)
            self._unsettled.append(request)
            self._settle()

    @contextmanager
    def request(
        self, input_tokens: int = 0, *, request_id: str | None = None, phase: str | None = None
    ) -> Iterator[Request]:
        """``with meter.request(input_tokens=n) as req: ...`` (ended also on error)."""
        req = self.begin(input_tokens, request_id=request_id, phase=phase)
        try:
            yield req
        finally:
            if req.end_s is None:
                self.end(req)

    # --- settling ------------------------------------------------------------------------

    def _settle(self) -> None:
        keep: list[_Interval] = []
        for interval in self._pending:
            if any(s.request.end_s is None for s in interval.segments):
                keep.append(interval)
                continue
            weights = [_weight(s, interval.duration_s) for s in interval.segments]
            total = sum(weights)
            for segment, weight in zip(interval.segments, weights, strict=True):
                share = weight / total if total > 0 else 1.0 / len(interval.segments)
                segment.energy_j += interval.energy_j * share
        self._pending = keep
        waiting = {id(s.request) for i in keep for s in i.segments}
        still: list[Request] = []
        for request in self._unsettled:
            if id(request) in waiting:
                still.append(request)
            else:
                self._done.append(_record(request))
        self._unsettled = still

    # --- results -------------------------------------------------------------------------

    @property
    def records(self) -> tuple[RequestRecord, ...]:
        """Every settled request, in the order they were settled."""
        with self._lock:
            return tuple(self._done)

    def stats(self) -> RequestStats:
        """Energy per request and per token over the settled requests."""
        with self._lock:
            done, idle_j = list(self._done), self._idle_j
        return _stats(done, idle_j)

    def log_to_tracker(self, tracker: Tracker | None = None) -> RequestStats:
        """Put :meth:`stats` into the run: its flat numbers as metrics
        (``Tracker.log_metric``: the summary and the ledger) and the whole of it, with the
        sharing rule's name, under the run metadata key ``requests``."""
        target = tracker or self._tracker
        if target is None:
            raise StateError("log_to_tracker needs a Tracker (this meter reads a callable)")
        stats = self.stats()
        for name, value in stats.metrics().items():
            if math.isfinite(value):
                target.log_metric(name, value)
        target.update_meta({"requests": stats.to_dict()})
        return stats


def _check_tokens(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{name} must be a whole number >= 0, got {value!r}")


def _weight(segment: _Segment, interval_s: float) -> float:
    assert segment.end_s is not None
    duration_s = segment.end_s - segment.start_s
    if duration_s <= 0:
        return 0.0
    return segment.tokens() * interval_s / duration_s


def _record(request: Request) -> RequestRecord:
    assert request.end_s is not None

    def phase_j(phase: str) -> float | None:
        if not request.phased:
            return None
        return sum(s.energy_j for s in request.segments if s.phase == phase)

    return RequestRecord(
        request_id=request.request_id,
        energy_j=sum(s.energy_j for s in request.segments),
        duration_s=request.end_s - request.start_s,
        input_tokens=request.input_tokens,
        output_tokens=request.output_tokens,
        prefill_energy_j=phase_j("prefill"),
        decode_energy_j=phase_j("decode"),
    )


def _ratio(energy_j: float, tokens: int) -> float | None:
    return energy_j / tokens if tokens > 0 else None


def _stats(done: Sequence[RequestRecord], idle_j: float) -> RequestStats:
    energy_j = sum(r.energy_j for r in done)
    output_tokens = sum(r.output_tokens for r in done)
    input_tokens = sum(r.input_tokens for r in done)
    phased = [r for r in done if r.prefill_energy_j is not None]
    per_token = [v for r in done if (v := r.energy_per_output_token_j) is not None]
    return RequestStats(
        requests=len(done),
        energy_j=energy_j,
        idle_energy_j=idle_j,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        per_request_j=Distribution.of([r.energy_j for r in done]),
        per_output_token_j=Distribution.of(per_token),
        energy_per_output_token_j=_ratio(energy_j, output_tokens),
        energy_per_request_with_idle_j=(energy_j + idle_j) / len(done) if done else None,
        prefill_energy_per_input_token_j=_ratio(
            sum(r.prefill_energy_j or 0.0 for r in phased), sum(r.input_tokens for r in phased)
        ),
        decode_energy_per_output_token_j=_ratio(
            sum(r.decode_energy_j or 0.0 for r in phased), sum(r.output_tokens for r in phased)
        ),
    )
