"""The Tracker: meter + carbon accounting + ledger, for a run of ML work.

::

    with carbonledger.Tracker(project="resnet", country="FR") as run:
        with run.window("epoch-1"):
            train_one_epoch()
    print(run.summary())

Processes that share a run id (``CARBONLEDGER_RUN_ID``, torchrun's ``TORCHELASTIC_RUN_ID``,
SLURM's job and step ids) join ONE run in the ledger; host-wide devices (CPU packages and RAM
in machine scope) are counted by one process per host, each GPU by the rank that owns it.
"""

from __future__ import annotations

import _thread
import os
import sys
import time

# What every start() and stop() use, loaded with the class so that they are the work of
# measuring and recording rather than imports: the sensors and their discovery, the grid
# tables' code, the SQLite ledger (sqlite3, json), its seals and the embodied-carbon table.
# ``import carbonledger`` alone still loads none of it (see docs/performance.md).
import carbonledger.carbon.embodied
import carbonledger.carbon.location
import carbonledger.carbon.pue
import carbonledger.ledger._ed25519
import carbonledger.ledger.sqlite
import carbonledger.sensors.cpu_model
import carbonledger.sensors.discovery
import carbonledger.sensors.memory
import carbonledger.sensors.rapl  # noqa: F401
from carbonledger.config import load_settings
from carbonledger.errors import InputError, StateError
from carbonledger.ledger.base import MemberRecord, RunRecord
from carbonledger.meter import Meter, Sampler
from carbonledger.meter.core import WindowBlock
from carbonledger.models import ComponentEnergy, Reading, RunSummary, Sample, WindowSummary
from carbonledger.units import bytes_to_gb, co2e_g, j_to_kwh

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: see carbonledger._lite
if TYPE_CHECKING:
    import logging
    from collections.abc import Callable, Mapping, Sequence
    from types import FrameType, TracebackType
    from typing import Any, ParamSpec, TypeVar

    from carbonledger.ledger.base import Ledger
    from carbonledger.models import Component, RunStatus, SensorInfo
    from carbonledger.sensors.base import Sensor

    P = ParamSpec("P")
    R = TypeVar("R")

__all__ = ["Tracker", "derive_run_id", "track"]


def _new_id() -> str:
    """A random 128-bit id as 32 hex digits (the same form as a uuid4's hex)."""
    return os.urandom(16).hex()


def _log() -> logging.Logger:
    """The "carbonledger" logger (logging is imported only when something is logged)."""
    import logging

    return logging.getLogger("carbonledger")


DEFAULT_INTERVAL_S = 1.0
SCOPES = ("process", "machine")


def derive_run_id(env: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The run id shared by the processes of one distributed job, and where it came from.

    ``CARBONLEDGER_RUN_ID`` > torchrun's ``TORCHELASTIC_RUN_ID`` (unless "none") > SLURM's
    ``SLURM_JOB_ID`` (+ ``SLURM_STEP_ID``). (None, "new") when none is set.
    """
    env = os.environ if env is None else env
    if env.get("CARBONLEDGER_RUN_ID"):
        return env["CARBONLEDGER_RUN_ID"], "CARBONLEDGER_RUN_ID"
    torch_id = env.get("TORCHELASTIC_RUN_ID", "")
    if torch_id and torch_id.lower() != "none":
        return f"torchrun-{torch_id}", "TORCHELASTIC_RUN_ID"
    job = env.get("SLURM_JOB_ID")
    if job:
        step = env.get("SLURM_STEP_ID")
        return (f"slurm-{job}.{step}" if step else f"slurm-{job}"), "SLURM_JOB_ID"
    return None, "new"


def _delta(begin: float | None, end: float | None) -> float | None:
    """Cumulative bound since the member joined, None when the sensor gives no bound."""
    if begin is None or end is None:
        return None
    return max(0.0, end - begin)


def _int_env(env: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = env.get(name)
        if value not in (None, ""):
            try:
                return int(value)
            except ValueError:
                raise InputError(
                    f"environment variable {name} must be an integer, got {value!r}"
                ) from None
    return None


def _cloud_hint(dmi: str = "/sys/class/dmi/id") -> bool:
    """True when the DMI strings suggest a cloud VM (so the metadata probe is worth its time)."""
    words = ("amazon", "ec2", "google", "microsoft", "azure", "openstack", "alibaba", "oracle")
    for name in ("sys_vendor", "bios_vendor", "product_name", "chassis_asset_tag", "board_vendor"):
        try:
            with open(os.path.join(dmi, name), errors="replace") as fh:
                text = fh.read().lower()
        except OSError:
            continue
        if any(w in text for w in words):
            return True
    return False


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
    :param interval_s: sampler interval in seconds
    :param ledger: a Ledger, a path or ``postgresql://`` URL, None for the default ledger,
        or False for no ledger (in memory only)
    :param sensors: sensors to use instead of discovering them (tests, custom hardware)
    :param expected_epochs: forecast the whole run after each top-level window
    :param intensity_provider: an hourly intensity provider (see ``carbonledger.carbon``)
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
        tags: Mapping[str, str] | None = None,
        expected_epochs: int | None = None,
        intensity_provider: Any | None = None,
        embodied: bool = True,
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
        settings = load_settings(
            {
                "project": project,
                "experiment": experiment,
                "country": country,
                "region": region,
                "grid_g_per_kwh": grid_g_per_kwh,
                "pue": pue,
                "market_g_per_kwh": market_g_per_kwh,
                "scope": scope,
                "interval_s": interval_s,
                "ledger": ledger if isinstance(ledger, (str, os.PathLike)) else None,
                "gpu": gpu,
                "probe_cloud": probe_cloud,
                "ip_geolocation": ip_geolocation,
            },
            env=self._env,
        )
        self._settings = settings
        self._explicit_location = (country, region)
        self._file_settings = load_settings(None, env=self._env, include_env=False)
        self.project: str = settings.get("project", "default")
        self.experiment: str = settings.get("experiment", "default")
        self.scope: str = settings.get("scope", "process")
        if self.scope not in SCOPES:
            raise InputError(f"unknown scope {self.scope!r}; use 'process' or 'machine'")
        self.interval_s: float = settings.get("interval_s", DEFAULT_INTERVAL_S)
        if not self.interval_s > 0:
            raise InputError(f"interval_s must be > 0 seconds, got {self.interval_s!r}")
        grid = settings.get("grid_g_per_kwh")
        if grid is not None and not 0 <= grid <= 2000:
            raise InputError(f"grid_g_per_kwh must be between 0 and 2000 g/kWh, got {grid!r}")
        market = settings.get("market_g_per_kwh")
        if market is not None and not 0 <= market <= 2000:
            raise InputError(f"market_g_per_kwh must be between 0 and 2000 g/kWh, got {market!r}")
        if expected_epochs is not None and expected_epochs < 1:
            raise InputError(f"expected_epochs must be >= 1, got {expected_epochs!r}")
        self.expected_epochs = expected_epochs
        self._ledger_arg = ledger if not isinstance(ledger, (str, os.PathLike)) else None
        self._sensors_arg = list(sensors) if sensors is not None else None
        self._pid = os.getpid() if pid is None else pid
        self._tags = dict(tags or {})
        self._intensity_provider = intensity_provider
        self._embodied = embodied
        self._handle_signals = handle_signals
        self._command = list(command) if command else None
        self._host = host or os.uname().nodename
        self._clock = clock
        self._wall_clock = wall_clock
        explicit_run_id = run_id
        derived, self.run_id_source = derive_run_id(self._env)
        if explicit_run_id:
            self.run_id_source = "argument"
        self.run_id: str = explicit_run_id or derived or _new_id()
        self._joined = bool(explicit_run_id or derived)
        self.member_id = _new_id()
        self._state = "new"
        self._status: RunStatus = "running"
        self._lock = _thread.allocate_lock()
        self._meter: Meter | None = None
        self._sampler: Sampler | None = None
        self._ledger: Ledger | None = None
        self._owns_ledger = False
        self._base: dict[str, Reading] = {}
        self._last_tick: dict[str, Reading] = {}
        #: (device, component) of each sensor, in order: set on the first sample
        self._tick_devices: tuple[tuple[str, Component], ...] | None = None
        self._hour_energy_j: dict[int, float] = {}
        self._windows: list[WindowSummary] = []
        self._notes: list[str] = []
        self._candidates: tuple[SensorInfo, ...] = ()
        self._started_wall_s = 0.0
        self._started_s = 0.0
        self._stopped_s = 0.0
        self._summary: RunSummary | None = None
        self._forecast: dict[str, Any] | None = None
        self._hourly: dict[str, Any] | None = None
        self._final_embodied: tuple[float | None] | None = None
        self._prev_sigterm: Any = None
        self.location = "unknown"
        self.location_source = "default"
        self.intensity_g_per_kwh = 0.0
        self.intensity_source = ""
        self.pue = 1.0
        self.pue_source = ""
        self._cloud: tuple[str | None, str | None] = (None, None)
        self._country_name = ""
        self._cpu_model = ""
        self._in_use: list[Sensor] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Tracker:
        """Discover sensors, resolve location and intensity, open the ledger, start sampling."""
        with self._lock:
            if self._state != "new":
                raise StateError(
                    f"tracker already {self._state}; create a new Tracker for a new run"
                )
            self._state = "starting"
        try:
            self._resolve_carbon()
            sensors = self._discover()
            self._open_ledger()
            sensors = self._claim_devices(sensors)
        except BaseException:
            self._state = "new"
            self._close_ledger()
            raise
        self._meter = Meter(
            sensors, clock=self._clock, wall_clock=self._wall_clock, host=self._host
        )
        self._started_wall_s = self._wall_clock()
        self._started_s = self._clock()
        self._base = self._meter.read_all()
        self._last_tick = dict(self._base)
        self._tick_devices = None
        # The first sample, 0 J at the start: the time series begins at zero, and the
        # one-off work of a first tick (preparing the INSERT, first instances) is done here
        # rather than in the sampler thread beside the user's code.
        try:
            self._on_sample(self._started_wall_s, self._base)
        except Exception as exc:
            self._meter.record_error(f"sampler: {type(exc).__name__}: {exc}")
        self._sampler = Sampler(
            self._meter, self.interval_s, self._on_sample, wall_clock=self._wall_clock
        )
        self._sampler.start()
        self._install_signal_handler()
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
        meter = self._meter
        assert meter is not None and self._sampler is not None
        self._sampler.stop()
        for name in reversed(meter.open_windows):
            self._notes.append(f"window {name!r} was still open at stop and was closed then")
            self._end_window(name)
        self._sampler.tick()  # final sample: the ledger holds everything
        self._stopped_s = self._clock()
        self._restore_signal_handler()
        self._status = status
        components = self._components()
        errors = meter.errors
        embodied_g = self._embodied_g(self._stopped_s - self._started_s) if self._embodied else None
        self._final_embodied = (embodied_g,)
        self._hourly = self._hourly_intensity(sum(c.energy_j for c in components))
        if self._ledger is not None:
            try:
                if embodied_g is not None:
                    self._ledger.update_meta(self.run_id, {"embodied_co2e_g": embodied_g})
                if self._hourly is not None:
                    self._ledger.update_meta(self.run_id, {"hourly": self._hourly})
                self._ledger.finish_member(self.run_id, self.member_id, components, status, errors)
            except Exception as exc:
                meter.record_error(f"ledger: could not record the run's end: {exc}")
        self._summary = self._build_summary(components, meter.errors)
        meter.close()
        self._close_ledger()
        self._state = "stopped"
        return self._summary

    def flush(self) -> None:
        """Take a sample now and write it to the ledger."""
        if self._state != "running" or self._sampler is None:
            raise StateError("flush() needs a running tracker; call start() first")
        self._sampler.tick()

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
        elif issubclass(exc_type, (KeyboardInterrupt, SystemExit)):
            status = "interrupted"
        else:
            status = "failed"
        self.stop(status)

    # ------------------------------------------------------------------ windows

    def begin_window(self, name: str) -> None:
        """Begin the named window (an epoch, a step, a request). Windows may nest."""
        if self._meter is None or self._state != "running":
            raise StateError(f"begin_window({name!r}) needs a running tracker; call start() first")
        self._meter.begin_window(name)

    def end_window(self, name: str) -> WindowSummary:
        """End the named window and return its energy and CO2e."""
        if self._meter is None or self._state not in ("running", "stopping"):
            raise StateError(f"end_window({name!r}) needs a running tracker")
        return self._end_window(name)

    def window(self, name: str) -> WindowBlock:
        """``with run.window("epoch-1"): ...`` measures the block (ended also when it raises,
        unless ``stop()`` ended it first)."""

        def end() -> None:
            if self._meter is not None and name in self._meter.open_windows:
                self.end_window(name)

        return WindowBlock(lambda: self.begin_window(name), end)

    def _end_window(self, name: str) -> WindowSummary:
        assert self._meter is not None
        raw = self._meter.end_window(name)
        window = WindowSummary(
            name=raw.name,
            path=raw.path,
            started_unix_s=raw.started_unix_s,
            duration_s=raw.duration_s,
            components=raw.components,
            co2e_g=co2e_g(raw.energy_j, self.intensity_g_per_kwh, self.pue),
        )
        self._windows.append(window)
        if self._ledger is not None:
            try:
                self._ledger.add_window(self.run_id, self.member_id, window)
            except Exception as exc:
                self._meter.record_error(f"ledger: window {name!r} not recorded: {exc}")
        if self.expected_epochs is not None and "/" not in window.path:
            self._update_forecast()
        return window

    def _update_forecast(self) -> None:
        from carbonledger.predict import forecast

        top = [w for w in self._windows if "/" not in w.path]
        try:
            result = forecast(
                [w.energy_j for w in top],
                [w.duration_s for w in top],
                max(self.expected_epochs or 0, len(top)),
                intensity_g_per_kwh=self.intensity_g_per_kwh,
                pue=self.pue,
            )
        except Exception as exc:  # a forecast must never break training
            if self._meter is not None:
                self._meter.record_error(f"forecast: {exc}")
            return
        self._forecast = result.to_dict()
        _log().info(
            "carbonledger forecast after %d/%d windows: %.4g kWh (%.4g-%.4g), %.4g kgCO2e",
            len(top),
            self.expected_epochs,
            j_to_kwh(result.energy_j),
            j_to_kwh(result.energy_low_j),
            j_to_kwh(result.energy_high_j),
            result.co2e_g / 1e3,
        )
        if self._ledger is not None:
            try:
                self._ledger.update_meta(self.run_id, {"forecast": self._forecast})
            except Exception as exc:
                if self._meter is not None:
                    self._meter.record_error(f"ledger: forecast not recorded: {exc}")

    @property
    def forecast(self) -> dict[str, Any] | None:
        """The latest whole-run forecast (see ``expected_epochs``), or None."""
        return self._forecast

    # ------------------------------------------------------------------ results

    def summary(self) -> RunSummary:
        """This process's footprint: final after stop(), so far while running."""
        if self._summary is not None:
            return self._summary
        if self._meter is None:
            raise StateError("summary() needs a started tracker; call start() first")
        return self._build_summary(self._components(), self._meter.errors)

    @property
    def sensors(self) -> tuple[SensorInfo, ...]:
        """The sensors in use (after start)."""
        return self._meter.infos if self._meter is not None else ()

    @property
    def candidates(self) -> tuple[SensorInfo, ...]:
        """Every sensor examined at start, available or not, with reasons."""
        return self._candidates

    @property
    def notes(self) -> tuple[str, ...]:
        return tuple(self._notes)

    @property
    def ledger_location(self) -> str | None:
        return getattr(self._ledger, "location", None) if self._ledger is not None else None

    # ------------------------------------------------------------------ internals

    def _resolve_carbon(self) -> None:
        from carbonledger.carbon import resolve_location, resolve_pue

        s = self._settings
        probe = s.get("probe_cloud")
        if probe is None:
            probe = self._env.get("CARBONLEDGER_NO_CLOUD_PROBE") != "1" and _cloud_hint()
        country, region = self._explicit_location
        loc = resolve_location(
            country=country,
            region=region,
            env=self._env,
            config=self._file_settings,
            probe_cloud=bool(probe),
            ip_geolocation=bool(s.get("ip_geolocation", False)),
        )
        zone = loc.zone
        self.location = zone.code
        self.location_source = loc.source
        self._cloud = (loc.cloud_provider, loc.cloud_region)
        self._country_name = zone.name
        grid = s.get("grid_g_per_kwh")
        if grid is not None:
            self.intensity_g_per_kwh = float(grid)
            self.intensity_source = "argument (grid_g_per_kwh)"
        else:
            self.intensity_g_per_kwh = zone.intensity_g_per_kwh
            self.intensity_source = f"{zone.source}, {zone.year} ({zone.code}, {zone.basis})"
        if loc.source == "default" and grid is None:
            msg = (
                "location unknown: the world-average grid intensity is used. Set it with "
                "country=/region=, CARBONLEDGER_COUNTRY or CARBONLEDGER_REGION, or carbonledger.toml"
            )
            self._notes.append(msg)
            _log().warning("carbonledger: %s", msg)
        self.pue, self.pue_source = resolve_pue(s.get("pue"), loc)

    def _discover(self) -> list[Sensor]:
        if self._sensors_arg is not None:
            self._candidates = tuple(s.info for s in self._sensors_arg)
            self._notes.append("sensors given by the caller")
            self._in_use = list(self._sensors_arg)
            return list(self._sensors_arg)
        from carbonledger.sensors.discovery import discover

        found = discover(
            scope=self.scope,
            pid=self._pid,
            gpu=bool(self._settings.get("gpu", True)),
            env=self._env,
            clock=self._clock,
        )
        self._candidates = found.candidates
        self._notes.extend(found.notes)
        self._cpu_model = found.cpu_model
        self._in_use = list(found.sensors)
        return list(found.sensors)

    def _open_ledger(self) -> None:
        arg = self._ledger_arg
        if arg is False:
            return
        if arg is None or arg is True:
            from carbonledger.ledger import open_ledger

            self._ledger = open_ledger(self._settings.get("ledger"))
            self._owns_ledger = True
        else:
            self._ledger = arg
        ledger = self._ledger
        assert ledger is not None
        record = RunRecord(
            run_id=self.run_id,
            project=self.project,
            experiment=self.experiment,
            started_unix_s=self._wall_clock(),
            scope=self.scope,
            location=self.location,
            location_source=self.location_source,
            intensity_g_per_kwh=self.intensity_g_per_kwh,
            intensity_source=self.intensity_source,
            pue=self.pue,
            pue_source=self.pue_source,
            tags=self._tags,
            meta=self._meta(),
        )
        stored = ledger.open_run(record)
        if stored.run_id == self.run_id and self._joined:
            # Another rank may have created the run: use its accounting so totals agree.
            self.project, self.experiment = stored.project, stored.experiment
            self.location, self.location_source = stored.location, stored.location_source
            self.intensity_g_per_kwh = stored.intensity_g_per_kwh
            self.intensity_source = stored.intensity_source
            self.pue, self.pue_source = stored.pue, stored.pue_source
        env = self._env
        member = MemberRecord(
            member_id=self.member_id,
            run_id=self.run_id,
            host=self._host,
            pid=self._pid,
            started_unix_s=self._wall_clock(),
            rank=_int_env(env, "RANK", "SLURM_PROCID"),
            local_rank=_int_env(env, "LOCAL_RANK", "SLURM_LOCALID"),
        )
        ledger.join(member, self._lease_ttl_s)

    @property
    def _lease_ttl_s(self) -> float:
        """How long this member counts as live after its last sign of life (a sample or a
        heartbeat), in seconds; the ledger renews the heartbeat row every third of it."""
        return max(15.0, 3.0 * self.interval_s)

    def _claim_devices(self, sensors: list[Sensor]) -> list[Sensor]:
        """Keep each device counted exactly once across the members of a run."""
        local_rank = _int_env(self._env, "LOCAL_RANK", "SLURM_LOCALID")
        gpus = [s for s in sensors if s.info.component == "gpu"]
        if local_rank is not None and len(gpus) > 1:
            own = gpus[local_rank] if local_rank < len(gpus) else None
            for g in gpus:
                if g is not own:
                    sensors.remove(g)
                    g.close()
            self._notes.append(
                f"gpu: LOCAL_RANK={local_rank}: this rank counts "
                f"{own.info.device if own else 'no GPU'} of {len(gpus)} visible"
            )
        if self._ledger is None:
            return sensors
        kept: list[Sensor] = []
        for sensor in sensors:
            info = sensor.info
            if info.host_wide:
                key = f"host:{self._host}:{info.device}"
            elif info.component == "gpu":
                key = f"gpu:{info.uid}" if info.uid else f"host:{self._host}:{info.device}"
            else:
                kept.append(sensor)
                continue
            if self._ledger.acquire_lease(self.run_id, key, self.member_id, self._lease_ttl_s):
                kept.append(sensor)
            else:
                self._notes.append(f"{info.device}: counted by another process of this run")
                sensor.close()
        register = getattr(self._ledger, "register_devices", None)
        if register is not None:
            register(self.run_id, self.member_id, [s.info for s in kept])
        return kept

    def _on_sample(self, wall_s: float, readings: dict[str, Reading]) -> None:
        # Runs every sampler tick: kept to few lookups and calls (docs/performance.md).
        devices = self._tick_devices
        if devices is None:
            meter = self._meter
            assert meter is not None
            devices = self._tick_devices = tuple((i.device, i.component) for i in meter.infos)
        base_all = self._base
        prev_all = self._last_tick
        host = self._host
        samples: list[Sample] = []
        delta_j = 0.0
        for device, component in devices:
            reading = readings.get(device)
            base = base_all.get(device)
            if reading is None or base is None:
                continue
            energy_j = reading.energy_j
            step_j = energy_j - prev_all.get(device, base).energy_j
            if step_j > 0.0:
                delta_j += step_j
            samples.append(
                Sample(
                    wall_s,
                    component,
                    device,
                    max(0.0, energy_j - base.energy_j),
                    reading.power_w,
                    host,
                    _delta(base.low_j, reading.low_j),
                    _delta(base.high_j, reading.high_j),
                )
            )
        self._last_tick = readings
        hour = int(wall_s // 3600) * 3600
        self._hour_energy_j[hour] = self._hour_energy_j.get(hour, 0.0) + delta_j
        if self._ledger is not None:
            # add_samples also renews this member's liveness and leases
            self._ledger.add_samples(self.run_id, self.member_id, samples)

    def _components(self) -> tuple[ComponentEnergy, ...]:
        meter = self._meter
        assert meter is not None
        end_s = self._stopped_s if self._state in ("stopping", "stopped") else self._clock()
        current = self._last_tick if self._state in ("stopping", "stopped") else meter.read_all()
        return meter.difference(self._base, current, max(0.0, end_s - self._started_s))

    def _build_summary(
        self, components: tuple[ComponentEnergy, ...], errors: tuple[str, ...]
    ) -> RunSummary:
        duration_s = max(0.0, (self._stopped_s or self._clock()) - self._started_s)
        intensity = self.intensity_g_per_kwh
        source = self.intensity_source
        extra: dict[str, Any] = {"notes": list(self._notes), "member_id": self.member_id}
        energy_j = sum(c.energy_j for c in components)
        hourly = self._hourly if self._hourly is not None else self._hourly_intensity(energy_j)
        if hourly is not None:
            intensity = hourly["intensity_g_per_kwh"]
            source = hourly["source"]
            extra["hourly_fallback"] = hourly["fallback"]
        market = self._settings.get("market_g_per_kwh")
        market_g = co2e_g(energy_j, float(market), self.pue) if market is not None else None
        if self._final_embodied is not None:  # computed once at stop()
            embodied_g = self._final_embodied[0]
        else:
            embodied_g = self._embodied_g(duration_s) if self._embodied else None
        if self._forecast is not None:
            extra["forecast"] = self._forecast
        if self.ledger_location:
            extra["ledger"] = self.ledger_location
        return RunSummary(
            run_id=self.run_id,
            project=self.project,
            experiment=self.experiment,
            status=self._status,
            started_unix_s=self._started_wall_s,
            duration_s=duration_s,
            components=components,
            intensity_g_per_kwh=intensity,
            intensity_source=source,
            location=self.location,
            location_source=self.location_source,
            pue=self.pue,
            pue_source=self.pue_source,
            windows=tuple(self._windows),
            errors=errors,
            embodied_co2e_g=embodied_g,
            market_co2e_g=market_g,
            scope=self.scope,
            hosts=(self._host,),
            extra=extra,
        )

    def _hourly_intensity(self, energy_j: float) -> dict[str, Any] | None:
        """The energy-weighted intensity of the hours this member used (None without an
        hourly provider); provider failures fall back to the yearly figure, recorded."""
        if self._intensity_provider is None or energy_j <= 0:
            return None
        from carbonledger.carbon import hourly_co2e
        from carbonledger.carbon import intensity as zone_lookup

        try:
            result = hourly_co2e(
                dict(self._hour_energy_j),
                zone=zone_lookup(self.location),
                pue=self.pue,
                provider=self._intensity_provider,
            )
        except Exception as exc:
            return {
                "intensity_g_per_kwh": self.intensity_g_per_kwh,
                "source": self.intensity_source,
                "fallback": f"hourly intensity unavailable ({exc}); yearly figure used",
            }
        return {
            "intensity_g_per_kwh": result.effective_intensity_g_per_kwh,
            "source": f"hourly: {result.source}",
            "fallback": result.fallback_reason if result.fallback_used else None,
        }

    def _embodied_g(self, duration_s: float) -> float | None:
        if duration_s <= 0 or self._meter is None:
            return None
        from carbonledger.carbon import embodied_co2e_g

        devices: list[tuple[str, str]] = []
        for info in self._meter.infos:
            if info.component == "gpu":
                devices.append(("gpu", info.model))
        if self.scope == "machine":
            devices.append(("server", ""))
        try:
            result = embodied_co2e_g(devices, duration_s=duration_s) if devices else None
        except Exception as exc:
            self._notes.append(f"embodied carbon not computed: {exc}")
            return None
        return None if result is None else float(result.co2e_g)

    def _meta(self) -> dict[str, Any]:
        from carbonledger import __version__
        from carbonledger.sensors.memory import installed_ram_bytes

        ram_total_gb = bytes_to_gb(installed_ram_bytes())
        sensors = self._in_use
        gpu_models = sorted({s.info.model for s in sensors if s.info.component == "gpu"})
        provider, region = self._cloud
        return {
            "os": _platform(),
            "python_version": sys.version.split()[0],
            "carbonledger_version": __version__,
            "cpu_model": self._cpu_model,
            "cpu_count": os.cpu_count(),
            "gpu_model": ", ".join(gpu_models),
            "gpu_count": len(gpu_models),
            "ram_total_gb": ram_total_gb,
            "cloud_provider": provider or "",
            "cloud_region": region or "",
            "country_name": self._country_name,
            "country_iso_code": self.location.split("-")[0] if ":" not in self.location else "",
            "region": self.location if "-" in self.location or ":" in self.location else "",
            "command": self._command or sys.argv,
            "expected_epochs": self.expected_epochs,
            "market_g_per_kwh": self._settings.get("market_g_per_kwh"),
            "run_id_source": self.run_id_source,
        }

    def _install_signal_handler(self) -> None:
        if not self._handle_signals:
            return
        signal = _signal_module()

        try:
            current = signal.getsignal(signal.SIGTERM)
        except ValueError:  # pragma: no cover
            return
        if current not in (signal.SIG_DFL, None):
            return

        def _on_sigterm(signum: int, frame: FrameType | None) -> None:
            raise SystemExit(128 + signum)

        try:
            signal.signal(signal.SIGTERM, _on_sigterm)
        except ValueError:  # not the main thread (of the main interpreter): leave it be
            return
        self._prev_sigterm = current

    def _restore_signal_handler(self) -> None:
        if self._prev_sigterm is None:
            return
        signal = _signal_module()
        previous, self._prev_sigterm = self._prev_sigterm, None
        try:
            signal.signal(signal.SIGTERM, previous)
        except ValueError:  # stopped from another thread: only the main thread may restore it
            return

    def _close_ledger(self) -> None:
        if self._ledger is not None and self._owns_ledger:
            try:
                self._ledger.close()
            except Exception as exc:  # pragma: no cover
                _log().warning("carbonledger: closing the ledger failed: %s", exc)
        if self._owns_ledger:
            self._ledger = None
            self._owns_ledger = False


def _signal_module() -> Any:
    """:mod:`signal`'s C core: the same ``signal``/``getsignal`` with plain-int constants, where
    :mod:`signal` itself imports :mod:`enum` to wrap them (~3 ms on a tracker's start())."""
    try:
        import _signal  # type: ignore[import-not-found]  # no stub: signal's own C core

        return _signal
    except ImportError:  # pragma: no cover - CPython always has it
        import signal

        return signal


def _platform() -> str:
    """The OS as ``platform.platform()`` writes it on Linux (``Linux-6.1.0-x86_64-with-glibc2.36``),
    from ``os.uname()``: ``platform.platform()`` runs ``uname -p`` in a subprocess."""
    u = os.uname()
    text = f"{u.sysname}-{u.release}-{u.machine}"
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.36"
    except (ValueError, OSError, AttributeError):
        libc = None
    if libc:
        text += "-with-" + libc.replace(" ", "")
    return text


def track(
    project: str | None = None, experiment: str | None = None, **options: Any
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: track every call of the function as a run.

    ``@carbonledger.track(project="svm")`` — options are :class:`Tracker`'s. The summary of
    the latest call is attached to the wrapper as ``wrapper.last_summary``.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        import functools  # here: the decorator is rarely used and functools costs ~3 ms

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with Tracker(project, experiment, **options) as run:
                result = fn(*args, **kwargs)
            wrapper.last_summary = run.summary()  # type: ignore[attr-defined]
            return result

        return wrapper

    return decorate
