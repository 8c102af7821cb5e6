"""The Tracker: meter + carbon accounting + ledger, for a run of ML work.

::

    with carbonledger.Tracker(project="resnet", country="FR") as run:
        with run.window("epoch-1"):
            train_one_epoch()
    print(run.summary())

The tracker only composes: settings (:mod:`carbonledger.run.settings`), membership of a run
(:mod:`carbonledger.run.membership`), sensors (:mod:`carbonledger.sensors.discovery`), the meter
and its sampler (:mod:`carbonledger.meter`), the one accounting step
(:mod:`carbonledger.accounting`) and the writer that records into the ledger, or into a local
journal when the ledger fails (:mod:`carbonledger.run.recording`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from carbonledger.accounting import (
    CarbonContext,
    EmbodiedCarbon,
    HourlyIntensity,
    RunFacts,
    account,
    window_co2e_g,
)
from carbonledger.errors import CarbonLedgerError, StateError
from carbonledger.events import (
    DevicesClaimed,
    Event,
    MemberFinished,
    MetaUpdated,
    SamplesAdded,
    WindowEnded,
)
from carbonledger.meter import Meter, Sampler
from carbonledger.meter.core import WindowBlock
from carbonledger.models import ComponentEnergy, RunStatus, RunSummary, WindowSummary
from carbonledger.run import settings as settings_mod
from carbonledger.run._signals import SigtermAsExit
from carbonledger.run.membership import Membership, claim_devices, derive_run_id, lease_ttl_s
from carbonledger.run.progress import RunProgress

if TYPE_CHECKING:
    import logging
    from types import TracebackType

    from carbonledger.events import Signer
    from carbonledger.ledger.ledger import Ledger
    from carbonledger.models import SensorInfo
    from carbonledger.reduce.budget import BudgetStatus
    from carbonledger.run.recording import Recorder
    from carbonledger.sensors.base import Sensor

__all__ = ["Tracker", "derive_run_id"]

#: the longest stop() waits for the ledger to take the run's last writes (then: the journal)
STOP_WAIT_S = 10.0


class Tracker:
    """Track the energy and carbon of a run.

    Arguments override the environment (``CARBONLEDGER_*``), which overrides the project
    and user config files. Energy is in joules, power in watts, intervals in seconds,
    intensities in gCO2e/kWh.

    :param project: project name (default ``"default"``)
    :param experiment: experiment name (default ``"default"``)
    :param run_id: join this run (several processes); default derived from the environment
    :param country: ISO country code or name ("FR", "France")
    :param region: a sub-national zone ("US-CA") or a cloud region ("aws:eu-west-3")
    :param grid_g_per_kwh: grid intensity to use instead of the tables
    :param pue: data-centre PUE (>= 1); default the cloud's cited figure, else 1.0 (assumed)
    :param market_g_per_kwh: a contractual (market-based) factor, reported beside the grid one
    :param scope: ``"process"`` (this process tree) or ``"machine"`` (the whole host)
    :param interval_s: sampler interval in seconds, 0.01 to 86400
    :param ledger: a Ledger, a path or ``postgresql://`` URL, None for the default ledger,
        or False for no ledger (in memory only). A ledger that cannot be used never stops the
        run: measurements go to a local journal that ``carbonledger sync`` replays.
    :param sensors: sensors to use instead of discovering them (tests, custom hardware)
    :param cpu_watts: the CPU's full-load power in watts (scaled by utilisation), instead of
        a model; a readable RAPL counter still wins (CodeCarbon's ``force_cpu_power``)
    :param ram_watts: the power of the whole installed memory in watts (constant), instead of
        the RAM model (CodeCarbon's ``force_ram_power``)
    :param expected_epochs: forecast the whole run after each top-level window
    :param intensity_provider: an hourly intensity provider (see ``carbonledger.carbon``)
    :param budget_kg: a carbon budget in kg CO2e, checked after each top-level window against
        the whole-run forecast (``expected_epochs``) or else the CO2e so far
    :param on_budget: ``"warn"`` (warn once) or ``"stop"`` (warn, set ``budget_exceeded``
        for framework callbacks, raise ``carbonledger.reduce.BudgetExceeded`` from that
        window's end); see ``carbonledger.reduce.budget``
    :param on_budget_exceeded: called once with the ``BudgetStatus`` when first exceeded
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
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._env = os.environ if env is None else env
        given = dict(locals())  # the arguments, as the settings know them (None: not given)
        path_arg = ledger if isinstance(ledger, (str, os.PathLike)) else None
        given["ledger"] = None if path_arg is None else os.fspath(path_arg)
        self._settings = settings_mod.resolve(
            given, env=self._env, run_id=run_id, tags=tags, expected_epochs=expected_epochs,
            pid=pid,
        )  # fmt: skip
        run = self._settings.run
        self.project, self.experiment = run.project, run.experiment
        self.scope = self._settings.sampling.scope
        self.interval_s = self._settings.sampling.interval_s
        self.expected_epochs = run.expected_epochs
        self._ledger_arg: Ledger | bool | None = (
            None if isinstance(ledger, (str, os.PathLike)) else ledger
        )
        self._sensors_arg = list(sensors) if sensors is not None else None
        self._intensity_provider = intensity_provider
        self._embodied = embodied
        self._command = list(command) if command else None
        self._clock, self._wall_clock = clock, wall_clock
        self._member = Membership.create(
            run.run_id, self._env, host or os.uname().nodename, self._settings.sampling.pid
        )
        self.run_id, self.run_id_source = self._member.run_id, self._member.run_id_source
        self.member_id = self._member.member_id
        self._use_carbon(CarbonContext("unknown", "default", 0.0, ""))
        self._state = "new"
        self._status: RunStatus = "running"
        self._lock = threading.Lock()
        self._meter: Meter | None = None
        self._sampler: Sampler | None = None
        self._recorder: Recorder | None = None
        #: the run's and this member's opening events (sent with the devices at start)
        self._opening: tuple[Event, ...] = ()
        #: where the run is recorded (None without a durable ledger)
        self.ledger_location: str | None = None
        self._notes: list[str] = []
        #: every sensor examined at start, available or not, with reasons
        self.candidates: tuple[SensorInfo, ...] = ()
        self._stopped_s: float | None = None
        self._summary: RunSummary | None = None
        self._final: tuple[HourlyIntensity | None, EmbodiedCarbon | None] | None = None
        self._sigterm = SigtermAsExit(enabled=handle_signals)
        self._cloud: tuple[str | None, str | None] = (None, None)
        self._country_name = ""
        self._cpu_model = ""
        #: what the models assume (watts, sources), kept in the run's metadata
        self._assumptions: dict[str, Any] = {}
        budget = None
        if budget_kg is not None:  # carbonledger.reduce.budget
            from carbonledger.reduce.budget import BudgetWatch

            budget = BudgetWatch(budget_kg, on_budget, on_budget_exceeded)
        self._progress = RunProgress(self.run_id, self.expected_epochs, budget, self._error)

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
            from carbonledger.run.context import resolve_carbon

            resolved = resolve_carbon(self._settings.location, self._env)
            self._use_carbon(resolved[0])
            self._cloud, self._country_name = resolved[1], resolved[2]
            self._notes.extend(resolved[3])
            sensors = self._discover()
            sensors = self._join(sensors)
        except BaseException:
            self._state = "new"
            if self._recorder is not None:
                self._recorder.close(0.0)
            raise
        from carbonledger.run.recording import START_WAIT_S

        recorder = self._recorder
        assert recorder is not None
        meter = self._meter = Meter(
            sensors, clock=self._clock, wall_clock=self._wall_clock, host=self._member.host
        )
        base = meter.start()
        # one batch opens the run: the run, this member, its devices, the series' 0 J
        first = meter.sample(meter.started_unix_s, base)
        recorder.emit([*self._opening, DevicesClaimed(tuple(s.info for s in sensors)),
                       SamplesAdded(tuple(first))])  # fmt: skip
        self._opening = ()
        # the run is in the ledger when start() returns (a kill right after keeps it), unless
        # the ledger is slow: then the wait is bounded and the writer goes on in the background
        recorder.flush(START_WAIT_S)
        self._progress.attach(recorder)
        self._sampler = Sampler(meter, self.interval_s, recorder.emit, wall_clock=self._wall_clock)
        self._sampler.start()
        self._sigterm.install()
        self._state = "running"
        return self

    def _join(self, sensors: list[Sensor]) -> list[Sensor]:
        """Open the recorder, ask the ledger (at most half a second) whether the run exists
        and which devices this member counts, and prepare the batch that opens the run."""
        from carbonledger.events import MemberChain
        from carbonledger.run.hostinfo import run_meta
        from carbonledger.run.membership import (
            adopt,
            lease_keys,
            own_devices,
            run_events,
            start_answers,
        )
        from carbonledger.run.recording import START_WAIT_S, open_recorder

        ttl_s = lease_ttl_s(self.interval_s)
        chain = MemberChain(self.run_id, self.member_id, self._signer(), clock=self._wall_clock)
        self._recorder, self.ledger_location = open_recorder(
            self._ledger_arg, self._settings.run.ledger, chain, self._env, lease_ttl_s=ttl_s
        )
        recorder = self._recorder
        recorder.start()
        sensors = own_devices(sensors, self._member, self._notes)
        keys = lease_keys(self._member, sensors)
        answers = None
        if self._ledger_arg is not False:
            member = self._member
            answers = recorder.ask(lambda led: start_answers(led, member, keys, ttl_s))
            if answers is None:
                recorder.journal_now(
                    recorder.problem or f"the ledger did not answer within {START_WAIT_S:g} s"
                )
                self._notes.append("device claims not checked: the ledger is not in use")
            else:
                recorder.ask(_settle_quietly, wait_s=0.0)  # other runs whose members stopped
        stored, leases = answers if answers is not None else (None, None)
        meta = run_meta(
            self._settings, self._member, self._carbon, cpu_model=self._cpu_model,
            gpu_models=[s.info.model for s in sensors if s.info.component == "gpu"],
            cloud=self._cloud, country_name=self._country_name, command=self._command,
            env=self._env,
        )  # fmt: skip
        meta.update(self._assumptions)
        names = (self.scope, self.project, self.experiment)
        started = self._wall_clock()
        self._opening = run_events(
            self._member, names, self._carbon, tags=self._settings.run.tags, meta=meta,
            started_unix_s=started, lease_ttl_s=ttl_s,
        )  # fmt: skip
        self.project, self.experiment, context = adopt(stored, self._member, names, self._carbon)
        self._use_carbon(context)
        return claim_devices(sensors, self._member, leases, self._notes)

    def _signer(self) -> Signer | None:
        """The user's signing key, for this member's batches (None: they go unsigned)."""
        if self._ledger_arg is False:
            return None
        from carbonledger.ledger.keys import load_or_create_signing_key

        try:
            return load_or_create_signing_key(self._env.get("CARBONLEDGER_SIGNING_KEY"))
        except CarbonLedgerError as exc:
            message = f"the run's records are not signed: {exc}"
            self._notes.append(message)
            _log().warning("carbonledger: %s", message)
            return None

    def stop(self, status: RunStatus = "completed") -> RunSummary:
        """Stop sampling, record everything, and return this process's summary."""
        with self._lock:
            if self._state == "new":
                raise StateError("stop() called before start(); call start() first (or use `with`)")
            if self._state == "stopped":
                assert self._summary is not None
                return self._summary
            self._state = "stopping"
        meter, sampler, recorder = self._meter, self._sampler, self._recorder
        assert meter is not None and sampler is not None and recorder is not None
        sampler.stop()
        for name in reversed(meter.open_windows):
            self._notes.append(f"window {name!r} was still open at stop and was closed then")
            with contextlib.suppress(CarbonLedgerError):  # a budget's stop: we are stopping
                self._end_window(name)
        sampler.tick()  # the final sample: the ledger holds everything
        self._stopped_s = meter.elapsed_s
        self._sigterm.restore()
        self._status = status
        components = meter.since_start(meter.last_tick, self._stopped_s)
        self._final = hourly, embodied = self._extras(components, self._stopped_s)
        meta: dict[str, Any] = {}
        if hourly is not None:
            meta["hourly"] = hourly.to_dict()
        meta.update(self._progress.final_meta())  # the budget and what happened
        if embodied is not None:
            meta["embodied"] = embodied.to_dict()
        events: list[Event] = [MetaUpdated(meta)] if meta else []
        end_s = meter.started_unix_s + self._stopped_s
        events.append(MemberFinished(status, components, end_s, meter.errors))
        recorder.emit(events)
        recorder.close(STOP_WAIT_S)
        self._summary = self._build_summary(components)
        meter.close()
        self._state = "stopped"
        return self._summary

    def flush(self) -> None:
        """Take a sample now and wait (boundedly) until the ledger has it."""
        if self._state != "running" or self._sampler is None or self._recorder is None:
            raise StateError("flush() needs a running tracker; call start() first")
        self._sampler.tick()
        self._recorder.flush(STOP_WAIT_S)

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

    # --- windows -----------------------------------------------------------------------------

    def begin_window(self, name: str) -> None:
        """Begin the named window (an epoch, a step, a request). Windows may nest."""
        if self._meter is None or self._state != "running":
            raise StateError(f"begin_window({name!r}) needs a running tracker; call start() first")
        self._meter.begin_window(name)

    def end_window(self, name: str, *, metrics: Mapping[str, float] | None = None) -> WindowSummary:
        """End the named window and return its energy and CO2e. ``metrics`` are the window's
        own figures (tokens, requests, samples: finite numbers), recorded with it."""
        if self._meter is None or self._state not in ("running", "stopping"):
            raise StateError(f"end_window({name!r}) needs a running tracker")
        checked = _window_metrics(name, metrics) if metrics else {}
        return self._end_window(name, checked)

    def window(self, name: str) -> WindowBlock:
        """``with run.window("epoch-1"): ...`` measures the block (ended also when it raises,
        unless ``stop()`` ended it first)."""

        def end() -> None:
            if self._meter is not None and name in self._meter.open_windows:
                self.end_window(name)

        return WindowBlock(lambda: self.begin_window(name), end)

    def _end_window(self, name: str, metrics: dict[str, float] | None = None) -> WindowSummary:
        assert self._meter is not None and self._recorder is not None
        raw = self._meter.end_window(name)
        window = WindowSummary(  # made directly: this is every step's cost in a training loop
            raw.name,
            raw.path,
            raw.started_unix_s,
            raw.duration_s,
            raw.components,
            window_co2e_g(raw.energy_j, self._carbon),
            dict(metrics) if metrics else {},
        )
        self._recorder.emit([WindowEnded(window)])
        self._progress.window_ended(window, self._carbon)  # forecast, budget
        return window

    def check_budget(self, expected_duration_s: float | None = None) -> BudgetStatus | None:
        """Check ``budget_kg`` now, for work without windows (``carbonledger run``): against
        the whole-run forecast if there is one, else the CO2e so far extrapolated to
        ``expected_duration_s`` (seconds, when given), else the CO2e so far. Returns the
        status the first time it is exceeded (warned, recorded; the caller stops the work
        when ``status.action == "stop"``), else None. Never raises ``BudgetExceeded``."""
        if self._meter is None or self._state != "running":
            return None
        elapsed_s = self._meter.elapsed_s
        return self._progress.check_budget(
            self.energy_j(), elapsed_s, self._carbon, expected_duration_s
        )

    @property
    def budget_exceeded(self) -> bool:
        """True once the run's forecast (or CO2e so far) exceeded ``budget_kg`` with
        ``on_budget="stop"``: framework callbacks poll it to set their stop flag."""
        return self._progress.budget_stop

    @property
    def forecast(self) -> dict[str, Any] | None:
        """The latest whole-run forecast (see ``expected_epochs``), or None."""
        return self._progress.forecast

    def update_meta(self, meta: Mapping[str, Any]) -> None:
        """Keep more facts with the run in the ledger's metadata (JSON-able values; a later
        value of a key replaces an earlier one). Keys carbonledger writes itself are refused."""
        self._need_running("update_meta()")
        self._progress.update_meta(meta)

    def log_metric(self, name: str, value: float) -> None:
        """Keep a metric of the run's own (accuracy, loss, tokens...) beside its footprint,
        so that comparisons can weigh CO2e against quality. The latest value of a name wins;
        metrics are in the summary's ``extra["metrics"]`` and the ledger's run metadata."""
        self._need_running(f"log_metric({name!r})")
        self._progress.log_metric(name, value)

    def _need_running(self, what: str) -> None:
        if self._recorder is None or self._state not in ("running", "stopping"):
            raise StateError(f"{what} needs a running tracker; call start() first")

    def _error(self, message: str) -> None:
        if self._meter is not None:
            self._meter.record_error(message)

    def energy_j(self) -> float:
        """IT energy of every device in use since :meth:`start`, in joules, read now (for
        accounting of one's own, e.g. per request: differences of two calls)."""
        if self._meter is None or self._state != "running":
            raise StateError("energy_j() needs a running tracker; call start() first")
        return sum(c.energy_j for c in self._meter.since_start())

    # --- results -----------------------------------------------------------------------------

    def summary(self) -> RunSummary:
        """This process's footprint: final after stop(), so far while running."""
        if self._summary is not None:
            return self._summary
        if self._meter is None:
            raise StateError("summary() needs a started tracker; call start() first")
        return self._build_summary(self._meter.since_start())

    @property
    def sensors(self) -> tuple[SensorInfo, ...]:
        """The sensors in use (after start)."""
        return self._meter.infos if self._meter is not None else ()

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(self._notes)

    @property
    def spool_path(self) -> str | None:
        """The local journal the run's writes went to when the ledger failed, else None."""
        recorder = self._recorder
        return recorder.spool_path if recorder is not None and recorder.spooling else None

    # --- internals ---------------------------------------------------------------------------

    def _discover(self) -> list[Sensor]:
        from carbonledger.sensors.discovery import discover_for_run

        sampling = self._settings.sampling
        found = discover_for_run(
            self._sensors_arg, scope=sampling.scope, pid=sampling.pid, gpu=sampling.gpu,
            env=self._env, clock=self._clock, cpu_watts=sampling.cpu_watts,
            ram_watts=sampling.ram_watts,
        )  # fmt: skip
        self.candidates, self._cpu_model = found.candidates, found.cpu_model
        self._notes.extend(found.notes)
        self._assumptions = found.meta()
        return list(found.sensors)

    def _build_summary(self, components: tuple[ComponentEnergy, ...]) -> RunSummary:
        meter = self._meter
        assert meter is not None
        duration_s = self._stopped_s if self._stopped_s is not None else meter.elapsed_s
        # decided once at stop(), else as things stand now
        hourly, embodied = self._final or self._extras(components, duration_s)
        errors = list(meter.errors)
        extra: dict[str, Any] = {"notes": list(self._notes), "member_id": self.member_id}
        recorder = self._recorder
        if recorder is not None and recorder.spooling and self._ledger_arg is not False:
            errors.append(f"ledger: {recorder.problem}; journalled to {recorder.spool_path}")
            extra["spool"] = recorder.spool_path
        if self._progress.forecast is not None:
            extra["forecast"] = self._progress.forecast
        if self._progress.metrics:
            extra["metrics"] = dict(self._progress.metrics)
        if self._progress.windows_total:
            extra["window_stats"] = self._progress.window_stats()
            extra["windows_total"] = self._progress.windows_total
        if self.ledger_location:
            extra["ledger"] = self.ledger_location
        facts = RunFacts(
            self.run_id, self.project, self.experiment, self._status, meter.started_unix_s,
            duration_s, self.scope, (self._member.host,),
        )  # fmt: skip
        return account(
            facts, components, self._carbon, hourly=hourly, embodied=embodied,
            windows=self._progress.windows, errors=errors, extra=extra,
        )  # fmt: skip

    def _extras(
        self, components: tuple[ComponentEnergy, ...], duration_s: float
    ) -> tuple[HourlyIntensity | None, EmbodiedCarbon | None]:
        """The hourly intensity of the hours used and the embodied carbon (``context``)."""
        from carbonledger.run.context import embodied_carbon, hourly_intensity

        meter, energy_j = self._meter, sum(c.energy_j for c in components)
        assert meter is not None
        hourly = None
        if self._intensity_provider is not None and energy_j > 0:
            hourly = hourly_intensity(meter.hour_energy_j, self._carbon, self._intensity_provider)
        if not self._embodied:
            return hourly, None
        return hourly, embodied_carbon(meter.infos, self.scope, duration_s, self._notes)


def _log() -> logging.Logger:
    import logging

    return logging.getLogger("carbonledger")


def _window_metrics(window: str, metrics: Mapping[str, float]) -> dict[str, float]:
    """A window's metrics checked: names as for a run's metrics, finite numbers."""
    import math

    from carbonledger.errors import InputError
    from carbonledger.run.settings import check_name

    out = {}
    for name, value in metrics.items():
        check_name("metric name", name)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"window {window!r}: metric {name!r} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise InputError(f"window {window!r}: metric {name!r} must be finite, got {value!r}")
        out[name] = float(value)
    return out


def _settle_quietly(ledger: Ledger) -> None:
    """Settle other runs whose members all stopped (a tracker's start): never raises."""
    try:
        ledger.settle()
    except CarbonLedgerError as exc:
        _log().info("carbonledger: dead runs not settled: %s", exc)
