"""The Tracker: the public face of a run of ML work — start, windows, metrics, stop.

::

    with carbonledger.Tracker(project="resnet", country="FR") as run:
        with run.window("epoch-1"):
            train_one_epoch()
    print(run.summary())

The tracker only composes: its arguments become settings (:mod:`carbonledger.run.settings`)
and options (:class:`carbonledger.run.session.Options`); starting opens a session
(:mod:`carbonledger.run.session`: sensors, meter and sampler, the recorder of the run's signed
events); what follows from each window (forecast, budget, metrics) is
:mod:`carbonledger.run.progress`.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from carbonledger.accounting import CarbonContext, window_co2e_g
from carbonledger.errors import CarbonLedgerError, InputError, StateError
from carbonledger.events import WindowEnded
from carbonledger.meter import WindowBlock
from carbonledger.models import RunStatus, RunSummary, SensorInfo, WindowSummary
from carbonledger.run import settings as settings_mod
from carbonledger.run._signals import SigtermAsExit
from carbonledger.run.membership import Membership, derive_run_id
from carbonledger.run.progress import ProgressMethods, RunProgress
from carbonledger.run.session import STOP_WAIT_S, Options, Session, start_session, window_metrics

if TYPE_CHECKING:
    from types import TracebackType

    from carbonledger.ledger import Ledger
    from carbonledger.reduce.budget import BudgetStatus
    from carbonledger.sensors import Sensor

__all__ = ["STOP_WAIT_S", "Tracker", "derive_run_id"]


class Tracker(ProgressMethods):
    """Track the energy and carbon of a run.

    Arguments override the environment (``CARBONLEDGER_*``), which overrides the project
    and user config files. Energy is in joules, power in watts, intervals in seconds,
    intensities in gCO2e/kWh. See docs/measurement.md for each argument; in short:

    * the run: ``project``, ``experiment``, ``run_id`` (join a run of several processes),
      ``tags``, ``expected_epochs`` (forecast the whole run after each top-level window),
      ``budget_kg`` / ``on_budget`` ("warn" or "stop") / ``on_budget_exceeded``;
    * where: ``country``, ``region`` (a zone or a cloud region, "aws:eu-west-3"),
      ``grid_g_per_kwh``, ``pue``, ``market_g_per_kwh``, ``intensity_provider`` (hourly),
      ``embodied``, ``probe_cloud``, ``ip_geolocation``; water and money: ``wue_l_per_kwh``
      (litres per kWh of IT energy), ``price_per_kwh`` and ``currency`` (or ``prices``, a
      price per zone code);
    * what is measured: ``scope`` ("process" or "machine"), ``pid``, ``interval_s`` (0.01 to
      86400), ``sensors``, ``gpu``, ``cpu_watts`` / ``ram_watts`` (a given full-load power
      instead of a model), ``progress_s`` (a progress line through the "carbonledger" logger
      every so many seconds; 0: none);
    * where it is recorded: ``ledger`` (a Ledger, a path or a ``postgresql://`` URL, None for
      the default ledger, False for none). A ledger that cannot be used never stops or
      delays the run: measurements go to a local journal that ``carbonledger sync`` replays.
    """

    def __init__(
        self,
        project: str | None = None,
        experiment: str | None = None,
        *,
        run_id: str | None = None,
        country: str | None = None,
        region: str | None = None,
        grid_g_per_kwh: float | None = None,
        pue: float | None = None,
        market_g_per_kwh: float | None = None,
        wue_l_per_kwh: float | None = None,
        price_per_kwh: float | None = None,
        currency: str | None = None,
        prices: Mapping[str, float] | None = None,
        scope: str | None = None,
        pid: int | None = None,
        interval_s: float | None = None,
        ledger: Ledger | str | os.PathLike[str] | bool | None = None,
        sensors: Sequence[Sensor] | None = None,
        gpu: bool | None = None,
        cpu_watts: float | None = None,
        ram_watts: float | None = None,
        tags: Mapping[str, str] | None = None,
        expected_epochs: int | None = None,
        intensity_provider: Any | None = None,
        embodied: bool = True,
        budget_kg: float | None = None,
        on_budget: str = "warn",
        on_budget_exceeded: Callable[[BudgetStatus], None] | None = None,
        probe_cloud: bool | None = None,
        ip_geolocation: bool | None = None,
        handle_signals: bool = True,
        command: Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        host: str | None = None,
        progress_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        env = os.environ if env is None else env
        given = dict(locals())  # the arguments, as the settings know them (None: not given)
        if not (
            ledger is None
            or isinstance(ledger, (bool, str, os.PathLike))
            or callable(getattr(ledger, "append", None))  # a Ledger (opened by the caller)
        ):
            raise InputError(
                "ledger must be a file path, a postgresql:// URL, a Ledger, None (the default "
                f"ledger) or False (none), got {type(ledger).__name__} {ledger!r:.60}"
            )
        path_arg = ledger if isinstance(ledger, (str, os.PathLike)) else None
        given["ledger"] = None if path_arg is None else os.fspath(path_arg)
        self._settings = s = settings_mod.resolve(
            given, env=env, run_id=run_id, tags=tags, expected_epochs=expected_epochs, pid=pid
        )
        self._options = Options(
            None if isinstance(ledger, (str, os.PathLike)) else ledger,
            tuple(sensors) if sensors is not None else None,
            intensity_provider, embodied, tuple(command) if command else None, env, clock,
            wall_clock,
        )  # fmt: skip
        self.project, self.experiment = s.run.project, s.run.experiment
        self.scope, self.interval_s = s.sampling.scope, s.sampling.interval_s
        self.expected_epochs = s.run.expected_epochs
        self._member = Membership.create(
            s.run.run_id, env, host or os.uname().nodename, s.sampling.pid
        )
        self.run_id, self.run_id_source = self._member.run_id, self._member.run_id_source
        self.member_id = self._member.member_id
        self._use_carbon(CarbonContext("unknown", "default", 0.0, ""))
        self._state = "new"
        self._lock = threading.Lock()
        self._s: Session | None = None
        #: where the run is recorded (None without a durable ledger)
        self.ledger_location: str | None = None
        self._notes: list[str] = []
        #: every sensor examined at start, available or not, with reasons
        self.candidates: tuple[SensorInfo, ...] = ()
        self._summary: RunSummary | None = None
        self._sigterm = SigtermAsExit(enabled=handle_signals)
        budget = None
        if budget_kg is not None:  # carbonledger.reduce.budget
            from carbonledger.reduce.budget import BudgetWatch

            budget = BudgetWatch(budget_kg, on_budget, on_budget_exceeded)
        self._progress = RunProgress(self.run_id, self.expected_epochs, budget, self._error)
        self._progress.progress_every(  # the summary so far, for the progress log
            s.sampling.progress_s, lambda: self.summary() if self._state == "running" else None
        )

    def _use_carbon(self, context: CarbonContext) -> None:
        """Take ``context`` as the run's; its figures are the tracker's public attributes."""
        self._carbon = c = context
        self.location, self.location_source = c.location, c.location_source
        self.intensity_g_per_kwh, self.intensity_source = c.intensity_g_per_kwh, c.intensity_source
        self.pue, self.pue_source = c.pue, c.pue_source

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Tracker:
        """Discover sensors, resolve location and intensity, open the ledger, start sampling.

        A ledger that cannot be opened, or does not answer within half a second, does not
        stop or delay the start: see ``ledger``."""
        with self._lock:
            if self._state != "new":
                raise StateError(
                    f"tracker already {self._state}; create a new Tracker for a new run"
                )
            self._state = "starting"
        try:
            s = self._s = start_session(
                self._settings, self._options, self._member, self._notes, self._progress.tick
            )
        except BaseException:
            self._state = "new"
            raise
        self._use_carbon(s.carbon)
        self.project, self.experiment = s.project, s.experiment
        self.ledger_location, self.candidates = s.ledger_location, s.candidates
        self._progress.attach(s.recorder)
        s.sampler.start()
        s.recorder.expect_ticks(s.sampler.interval_s)
        self._sigterm.install()
        self._state = "running"
        return self

    def stop(self, status: RunStatus = "completed") -> RunSummary:
        """Stop sampling, record everything, and return this process's summary."""
        with self._lock:
            if self._state == "new":
                raise StateError("stop() called before start(); call start() first (or use `with`)")
            if self._state == "stopped":
                assert self._summary is not None
                return self._summary
            self._state = "stopping"
        s = self._s
        assert s is not None
        s.sampler.stop()
        s.recorder.expect_ticks(0.0)  # no tick comes now: window ends go to the writer
        for name in reversed(s.meter.open_windows):
            self._notes.append(f"window {name!r} was still open at stop and was closed then")
            with contextlib.suppress(CarbonLedgerError):  # a budget's stop: we are stopping
                self._end_window(name)
        self._sigterm.restore()
        if status == "completed" and self._progress.budget_stop:
            status = "interrupted"  # the budget stopped it, whoever caught the exception
        components = s.finish(status, self._progress)
        self._summary = s.summary(components, self._progress)
        self._progress.finished(self._summary)
        s.meter.close()
        self._state = "stopped"
        return self._summary

    def flush(self) -> None:
        """Take a sample now and wait (boundedly) until the ledger has it."""
        if self._state != "running" or self._s is None:
            raise StateError("flush() needs a running tracker; call start() first")
        self._s.sampler.tick()
        self._s.recorder.flush(STOP_WAIT_S)

    def __enter__(self) -> Tracker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._state != "running":
            return
        if exc_type is None:
            status: RunStatus = "completed"
        elif issubclass(exc_type, (KeyboardInterrupt, SystemExit)) or self._progress.budget_stop:
            status = "interrupted"
        else:
            status = "failed"
        self.stop(status)

    # --- windows, budget, metrics -------------------------------------------------------------

    def begin_window(self, name: str) -> None:
        """Begin the named window (an epoch, a step, a request). Windows may nest."""
        if self._s is None or self._state != "running":
            raise StateError(f"begin_window({name!r}) needs a running tracker; call start() first")
        self._s.meter.begin_window(name)

    def end_window(self, name: str, *, metrics: Mapping[str, float] | None = None) -> WindowSummary:
        """End the named window and return its energy and CO2e. ``metrics`` are the window's
        own figures (tokens, requests, samples: finite numbers), recorded with it."""
        if self._s is None or self._state not in ("running", "stopping"):
            raise StateError(f"end_window({name!r}) needs a running tracker")
        return self._end_window(name, window_metrics(name, metrics) if metrics else None)

    def next_window(
        self, name: str, next_name: str, *, metrics: Mapping[str, float] | None = None
    ) -> WindowSummary:
        """End the window ``name`` and begin ``next_name`` at one sensor reading: back-to-back
        intervals (a serving interval, a stretch of steps) with no energy between them.
        Returns the ended window, as :meth:`end_window` does."""
        if self._s is None or self._state != "running":
            raise StateError(f"next_window({name!r}) needs a running tracker")
        figures = window_metrics(name, metrics) if metrics else None
        return self._record_window(self._s.meter.next_window(name, next_name), figures)

    def window(self, name: str) -> WindowBlock:
        """``with run.window("epoch-1"): ...`` measures the block (ended also when it raises,
        unless ``stop()`` ended it first)."""

        def end() -> None:
            if self._s is not None and name in self._s.meter.open_windows:
                self.end_window(name)

        return WindowBlock(lambda: self.begin_window(name), end)

    def _end_window(self, name: str, metrics: dict[str, float] | None = None) -> WindowSummary:
        assert self._s is not None
        return self._record_window(self._s.meter.end_window(name), metrics)

    def _record_window(self, raw: WindowSummary, metrics: dict[str, float] | None) -> WindowSummary:
        assert self._s is not None
        window = WindowSummary(  # made directly: this is every step's cost in a training loop
            raw.name, raw.path, raw.started_unix_s, raw.duration_s, raw.components,
            window_co2e_g(raw.energy_j, self._carbon), metrics or {},
        )  # fmt: skip
        self._s.recorder.emit([WindowEnded(window)])
        self._progress.window_ended(window, self._carbon)  # forecast, budget
        return window

    def energy_j(self) -> float:
        """IT energy of every device in use since :meth:`start`, in joules, read now (for
        accounting of one's own, e.g. per request: differences of two calls)."""
        if self._s is None or self._state != "running":
            raise StateError("energy_j() needs a running tracker; call start() first")
        return sum(c.energy_j for c in self._s.meter.since_start())

    # --- results -----------------------------------------------------------------------------

    def summary(self) -> RunSummary:
        """This process's footprint: final after stop(), so far while running."""
        if self._summary is not None:
            return self._summary
        if self._s is None:
            raise StateError("summary() needs a started tracker; call start() first")
        return self._s.summary(self._s.meter.since_start(), self._progress)

    @property
    def sensors(self) -> tuple[SensorInfo, ...]:
        """The sensors in use (after start)."""
        return self._s.meter.infos if self._s is not None else ()

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(self._notes)

    @property
    def spool_path(self) -> str | None:
        """The local journal the run's writes went to when the ledger failed, else None."""
        recorder = self._s.recorder if self._s is not None else None
        return recorder.spool_path if recorder is not None and recorder.spooling else None
