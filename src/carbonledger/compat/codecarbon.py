"""CodeCarbon's API, measured and recorded by carbonledger: change only the import line.

::

    # from codecarbon import EmissionsTracker
    from carbonledger.compat.codecarbon import EmissionsTracker

    tracker = EmissionsTracker(project_name="svm", output_dir="out")
    tracker.start()
    train()
    emissions_kg = tracker.stop()      # kg CO2e, a float, as CodeCarbon returns

What behaves as CodeCarbon 3.3.2 documents: the arguments (see ``_cc_options``),
``start()``/``stop()``/``flush()`` returning kg CO2e, ``final_emissions_data`` (an
:class:`EmissionsData`), ``start_task(name)``/``stop_task()`` (each a window of the run),
the ``with`` block, :func:`track_emissions`, ``emissions.csv`` with CodeCarbon's columns and
its task file, the logger, HTTP endpoint and Prometheus outputs, and misuse tolerated with a
logged warning (``stop()`` before ``start()`` returns None). Any failure inside is logged
(logger ``carbonledger.compat``), never raised into the user's code.

What differs (see docs/migrating.md): energy comes from hardware counters where there are
some (RAPL, NVML), else from models that say so; the default scope is CodeCarbon's
(``machine``); the location comes from the arguments or carbonledger's settings, never from an
IP lookup unless enabled; nothing is sent to CodeCarbon's hosted service; every run is also
in the carbonledger ledger.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

from carbonledger.compat._base import (
    HTTP_DEADLINE_S,
    LOG,
    UsageMark,
    guard,
    host_facts,
    model_counts,
    place_of,
    start_tracker,
    stop_tracker,
    usage_mark,
    usage_since,
)
from carbonledger.compat._cc_data import (
    EmissionsData,
    RunContext,
    TaskEmissionsData,
    build_emissions,
    task_record,
)
from carbonledger.compat._cc_options import CodeCarbonOptions, OutputMethod, parse_options
from carbonledger.compat._cc_outputs import BaseOutput, CsvFileOutput, HTTPOutput, LoggerOutput
from carbonledger.errors import CarbonLedgerError

if TYPE_CHECKING:
    from types import TracebackType

    from carbonledger.models import RunStatus, RunSummary
    from carbonledger.run import Tracker

__all__ = [
    "BaseOutput",
    "EmissionsData",
    "EmissionsTracker",
    "LoggerOutput",
    "OfflineEmissionsTracker",
    "OutputMethod",
    "TaskEmissionsData",
    "track_emissions",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class _Task:
    window: str
    active: bool = True
    data: EmissionsData | None = None
    usage: UsageMark | None = None


class EmissionsTracker:
    """CodeCarbon's ``EmissionsTracker``: takes its keyword arguments (plus ``ledger=``, a
    carbonledger ledger path or False for none) and measures with carbonledger.Tracker."""

    def __init__(
        self, project_name: str | None = None, measure_power_secs: float | None = None, **kw: Any
    ) -> None:
        kw.update(project_name=project_name, measure_power_secs=measure_power_secs)
        self._opts: CodeCarbonOptions = parse_options(kw)
        self._outputs: list[Any] = []
        if self._opts.save_to_file:
            self._outputs.append(
                CsvFileOutput(
                    self._opts.output_file, self._opts.output_dir, self._opts.on_csv_write
                )
            )
        if self._opts.logging_logger is not None:
            self._outputs.append(self._opts.logging_logger)
        if self._opts.emissions_endpoint:
            self._outputs.append(HTTPOutput(self._opts.emissions_endpoint))
        self._outputs.extend(self._opts.output_handlers)
        self._tracker: Tracker | None = None
        self._ctx: RunContext | None = None
        self._previous: EmissionsData | None = None
        self._usage: UsageMark | None = None
        self._tasks: dict[str, _Task] = {}
        self._active_task: str | None = None
        self.run_id: str | None = None
        self.final_emissions_data: EmissionsData | None = None
        self.final_emissions: float | None = None

    # --- the run -----------------------------------------------------------------------------

    @guard("start()")
    def start(self) -> None:
        """Start measuring (a second call logs a warning and does nothing)."""
        if self._tracker is not None:
            LOG.warning("Already started tracking")
            return
        tracker = start_tracker(self._opts.tracker)
        if tracker is None:
            return
        self._tracker, self.run_id = tracker, tracker.run_id
        self._ctx = self._context(tracker)
        self._previous = None
        self._usage = usage_mark()

    @guard("flush()")
    def flush(self) -> float | None:
        """Write the outputs now and go on measuring; returns the kg CO2e so far."""
        tracker = self._tracker
        if tracker is None:
            LOG.error("You first need to start the tracker.")
            return None
        tracker.flush()
        summary = tracker.summary()
        total = self._record(summary)
        self._persist(total, summary)
        return total.emissions

    @guard("stop()")
    def stop(self) -> float | None:
        """Stop measuring, write the outputs and return the run's kg CO2e (None, with a
        warning, when the tracker was not started)."""
        return self._stop("completed")

    def _stop(self, status: RunStatus) -> float | None:
        tracker = self._tracker
        if tracker is None:
            LOG.warning("Tracker already stopped or never started.")
            return self.final_emissions
        for name, task in list(self._tasks.items()):
            if task.active:
                self.stop_task(name)
        self._tracker = None
        summary = stop_tracker(tracker, status)
        if summary is None:
            return None
        total = self._record(summary)
        self._persist(total, summary)
        self.final_emissions_data, self.final_emissions = total, total.emissions
        for output in self._outputs:
            _call(output, "exit")
        return total.emissions

    def __enter__(self) -> EmissionsTracker:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        status: RunStatus = "completed"
        if exc_type is not None:
            interrupted = issubclass(exc_type, (KeyboardInterrupt, SystemExit))
            status = "interrupted" if interrupted else "failed"
        guard("stop()")(self._stop)(status)

    # --- tasks -------------------------------------------------------------------------------

    @guard("start_task()")
    def start_task(self, task_name: str | None = None) -> None:
        """Begin measuring a task (a window of the run; the run starts if it has not)."""
        if self._tracker is None:
            self.start()
        if self._tracker is None:
            return
        if self._active_task is not None:
            LOG.warning("A task is already under measure")
            return
        name = task_name or str(uuid.uuid4())
        if name in self._tasks:
            name += "_" + str(uuid.uuid4())
        window = name.replace("/", "_")
        self._tracker.begin_window(window)
        self._tasks[name] = _Task(window, usage=usage_mark())
        self._active_task = name

    @guard("stop_task()")
    def stop_task(self, task_name: str | None = None) -> EmissionsData | None:
        """End the task (default: the active one) and return its record (None, with a
        warning, when there is no such active task)."""
        name = task_name or self._active_task
        task = self._tasks.get(name) if name else None
        if task is None or not task.active or self._tracker is None or self._ctx is None:
            LOG.warning("stop_task : No active task to stop.")
            return None
        window = self._tracker.end_window(task.window)
        co2e_kg = (window.co2e_g or 0.0) / 1e3
        usage = usage_since(usage_mark(task.usage) if task.usage is not None else None)
        task.data = build_emissions(
            self._ctx, window.duration_s, window.components, co2e_kg, usage=usage
        )
        task.active = False
        if self._active_task == name:
            self._active_task = None
        return task.data

    # --- internals ---------------------------------------------------------------------------

    def _context(self, tracker: Tracker) -> RunContext:
        infos = tracker.sensors
        gpus = [i.model for i in infos if i.component == "gpu"]
        return RunContext(
            project_name=tracker.project,
            run_id=tracker.run_id,
            experiment_id=self._opts.experiment_id or tracker.experiment,
            tracking_mode=tracker.scope,
            pue=tracker.pue,
            wue=self._opts.wue,
            place=place_of(tracker.location),
            host=host_facts(),
            cpu_model=next((i.model for i in infos if i.component == "cpu" and i.model), ""),
            gpu_count=len(gpus),
            gpu_model=model_counts(gpus),
        )

    def _record(self, summary: RunSummary) -> EmissionsData:
        assert self._ctx is not None
        if self._usage is not None:  # one more memory reading, kept for the later rows
            self._usage = usage_mark(self._usage)
        return build_emissions(
            self._ctx,
            summary.duration_s,
            summary.components,
            summary.co2e_kg,
            usage=usage_since(self._usage),
        )

    def _persist(self, total: EmissionsData, summary: RunSummary) -> None:
        delta = dataclasses.replace(total)
        if self._previous is not None:
            delta.compute_delta_emission(self._previous)
        self._previous = total
        tasks = [task_record(n, t.data) for n, t in self._tasks.items() if t.data is not None]
        for output in self._outputs:
            _call(output, "out", total, delta)
            if tasks:
                _call(output, "task_out", tasks, self._opts.experiment_name)
        if self._opts.prometheus_url:
            self._push(summary)

    def _push(self, summary: RunSummary) -> None:
        from carbonledger.report.prometheus import push_to_gateway

        url = self._opts.prometheus_url or ""
        if "://" not in url:
            url = "http://" + url
        job = re.sub(r"[^a-zA-Z0-9_-]", "_", f"{summary.project}_{self._opts.experiment_name}")
        try:  # the push's whole call ends within HTTP_DEADLINE_S
            push_to_gateway(url, job, summary, timeout_s=HTTP_DEADLINE_S)
        except CarbonLedgerError as exc:
            LOG.error("could not push to the Prometheus Pushgateway at %s: %s", url, exc)


def _call(output: Any, method: str, *args: Any) -> None:
    """Call an output's method; a failing output is logged and the others still run."""
    fn = getattr(output, method, None)
    if fn is None:
        return
    try:
        fn(*args)
    except Exception as exc:
        LOG.error("output %s.%s failed: %s", type(output).__name__, method, exc)


class OfflineEmissionsTracker(EmissionsTracker):
    """CodeCarbon's ``OfflineEmissionsTracker``: as :class:`EmissionsTracker`, with the place
    given by ``country_iso_code`` (alpha-3, e.g. ``"FRA"``) and ``region`` (e.g.
    ``"california"``), or ``cloud_provider`` and ``cloud_region``."""

    def __init__(
        self, project_name: str | None = None, measure_power_secs: float | None = None, **kw: Any
    ) -> None:
        if not (kw.get("country_iso_code") or kw.get("cloud_provider")):
            LOG.warning(
                "OfflineEmissionsTracker without country_iso_code or cloud_provider: the "
                "location comes from carbonledger's settings, else the world average (said so)"
            )
        super().__init__(project_name, measure_power_secs, **kw)


@overload
def track_emissions(fn: F, **kw: Any) -> F: ...
@overload
def track_emissions(fn: None = None, **kw: Any) -> Callable[[F], F]: ...
def track_emissions(fn: F | None = None, **kw: Any) -> F | Callable[[F], F]:
    """CodeCarbon's decorator: each call of the function is a run (``offline=True`` needs
    ``country_iso_code`` or ``cloud_provider``, as in CodeCarbon)."""
    offline = bool(kw.pop("offline", False))

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if offline and not (kw.get("country_iso_code") or kw.get("cloud_provider")):
                raise ValueError("Needs ISO Code of the Country for Offline mode")
            cls = OfflineEmissionsTracker if offline else EmissionsTracker
            with cls(**kw):
                return func(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    if fn is not None:
        return decorate(fn)
    return decorate
