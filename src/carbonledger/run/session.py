"""A started run's machinery: what :class:`~carbonledger.run.tracker.Tracker` starts and stops.

:func:`start_session` resolves the carbon context, discovers the sensors, opens the recorder
(the ledger, or the journal when the ledger does not answer within half a second), asks the
ledger whether the run exists and which shared devices this member counts, emits the batch
that opens the run and starts the sampler. :meth:`Session.finish` takes the last sample, emits
the member's end and closes the recorder; :meth:`Session.summary` turns the meter's energy into
this member's :class:`~carbonledger.models.RunSummary` through the one accounting step.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from carbonledger.accounting import (
    CarbonContext,
    EmbodiedCarbon,
    HourlyIntensity,
    RunFacts,
    account,
)
from carbonledger.errors import CarbonLedgerError, InputError
from carbonledger.events import DevicesClaimed, Event, MemberFinished, MetaUpdated, SamplesAdded
from carbonledger.meter import Meter, Sampler
from carbonledger.models import ComponentEnergy, RunStatus, RunSummary, SensorInfo
from carbonledger.run.membership import Membership, claim_devices, lease_ttl_s
from carbonledger.run.settings import TrackerSettings as Settings

if TYPE_CHECKING:
    from carbonledger.events import Signer
    from carbonledger.ledger import Ledger
    from carbonledger.run.progress import RunProgress
    from carbonledger.run.recording import Recorder
    from carbonledger.sensors import Sensor

__all__ = ["STOP_WAIT_S", "Options", "Session", "start_session", "window_metrics"]

log = logging.getLogger("carbonledger")

#: the longest stop() waits for the ledger to take the run's last writes (then: the journal)
STOP_WAIT_S = 10.0


@dataclass(frozen=True)
class Options:
    """The Tracker's arguments that are objects rather than settings (grouped once)."""

    ledger: Ledger | bool | None = None
    sensors: tuple[Sensor, ...] | None = None
    intensity_provider: Any = None
    embodied: bool = True
    command: tuple[str, ...] | None = None
    env: Mapping[str, str] = field(default_factory=lambda: os.environ)
    clock: Callable[[], float] = time.monotonic
    wall_clock: Callable[[], float] = time.time


@dataclass
class Session:
    """What a started tracker holds."""

    settings: Settings
    options: Options
    member: Membership
    carbon: CarbonContext
    meter: Meter
    sampler: Sampler
    recorder: Recorder
    ledger_location: str | None
    candidates: tuple[SensorInfo, ...]
    notes: list[str]
    project: str
    experiment: str
    status: RunStatus = "running"
    stopped_s: float | None = None
    final: tuple[HourlyIntensity | None, EmbodiedCarbon | None] | None = None

    def finish(self, status: RunStatus, progress: RunProgress) -> tuple[ComponentEnergy, ...]:
        """The last sample, the member's end (with the hourly intensity, the embodied carbon
        and the budget's outcome), the recorder closed; this member's energy per device."""
        meter, recorder = self.meter, self.recorder
        self.sampler.tick()  # the final sample: the ledger holds everything
        self.stopped_s = meter.elapsed_s
        self.status = status
        components = meter.since_start(meter.last_tick, self.stopped_s)
        self.final = hourly, embodied = self.extras(components, self.stopped_s)
        meta: dict[str, Any] = {}
        if hourly is not None:
            meta["hourly"] = hourly.to_dict()
        from carbonledger.accounting import window_co2e_g

        co2e_g = window_co2e_g(sum(c.energy_j for c in components), self.carbon)
        meta.update(progress.final_meta(co2e_g))  # the budget and what happened
        if embodied is not None:
            meta["embodied"] = embodied.to_dict()
        events: list[Event] = [MetaUpdated(meta)] if meta else []
        end_s = meter.started_unix_s + self.stopped_s
        events.append(MemberFinished(status, components, end_s, meter.errors))
        recorder.emit(events)
        recorder.close(STOP_WAIT_S)
        return components

    def summary(self, components: tuple[ComponentEnergy, ...], progress: RunProgress) -> RunSummary:
        """This member's footprint from ``components`` (the one accounting step)."""
        meter, recorder = self.meter, self.recorder
        duration_s = self.stopped_s if self.stopped_s is not None else meter.elapsed_s
        # decided once at stop(), else as things stand now
        hourly, embodied = self.final or self.extras(components, duration_s)
        errors = list(meter.errors)
        extra: dict[str, Any] = {"notes": list(self.notes), "member_id": self.member.member_id}
        if recorder.spooling and self.options.ledger is not False:
            errors.append(f"ledger: {recorder.problem}; journalled to {recorder.spool_path}")
            extra["spool"] = recorder.spool_path
        extra.update(progress.summary_extra())
        if self.ledger_location:
            extra["ledger"] = self.ledger_location
        facts = RunFacts(
            self.member.run_id, self.project, self.experiment, self.status,
            meter.started_unix_s, duration_s, self.settings.sampling.scope, (self.member.host,),
        )  # fmt: skip
        return account(
            facts, components, self.carbon, hourly=hourly, embodied=embodied,
            windows=progress.windows, errors=errors, extra=extra,
        )  # fmt: skip

    def extras(
        self, components: tuple[ComponentEnergy, ...], duration_s: float
    ) -> tuple[HourlyIntensity | None, EmbodiedCarbon | None]:
        """The hourly intensity of the hours used and the embodied carbon (``context``)."""
        from carbonledger.run.context import embodied_carbon, hourly_intensity

        energy_j = sum(c.energy_j for c in components)
        provider = self.options.intensity_provider
        hourly = None
        if provider is not None and energy_j > 0:
            hourly = hourly_intensity(self.meter.hour_energy_j, self.carbon, provider)
        if not self.options.embodied:
            return hourly, None
        scope = self.settings.sampling.scope
        return hourly, embodied_carbon(self.meter.infos, scope, duration_s, self.notes)


def start_session(
    settings: Settings,
    options: Options,
    member: Membership,
    on_problem: list[str],
    on_tick: Callable[[], None] | None = None,
) -> Session:
    """Everything a tracker's start does (see the module); ``on_problem`` collects notes."""
    from carbonledger.run.context import resolve_carbon
    from carbonledger.run.recording import START_WAIT_S

    notes = on_problem
    # the writer thread opens the ledger while this thread finds the location and sensors
    recorder, location = _open_recorder(settings, options, member, notes)
    try:
        carbon, cloud, country_name, more = resolve_carbon(settings.location, options.env)
        notes.extend(more)
        found = _discover(settings, options)
    except BaseException:
        recorder.close(0.0)
        raise
    notes.extend(found.notes)
    sensors = list(found.sensors)
    opening, sensors, names, carbon = _join(
        settings, options, member, recorder, carbon, sensors, notes,
        _meta_inputs(cloud, country_name, found.cpu_model, found.meta()),
    )  # fmt: skip
    meter = Meter(sensors, clock=options.clock, wall_clock=options.wall_clock, host=member.host)
    try:
        base = meter.start()
        # one batch opens the run: the run, this member, its devices, the series' 0 J
        first = meter.sample(meter.started_unix_s, base)
        recorder.emit([*opening, DevicesClaimed(tuple(s.info for s in sensors)),
                       SamplesAdded(tuple(first))])  # fmt: skip
        # the run is in the ledger when start() returns (a kill right after keeps it), unless
        # the ledger is slow: then the wait is bounded and the writer goes on in the background
        recorder.flush(START_WAIT_S)
        # then, in the background, other runs whose members all stopped are settled
        recorder.ask(_settle_quietly, wait_s=0.0)
        interval_s = settings.sampling.interval_s

        def sink(events: Sequence[Event]) -> None:
            recorder.emit(events)
            if on_tick is not None:
                on_tick()

        def loop_sink(events: Sequence[Event]) -> None:  # on the sampler's own thread
            recorder.record_tick(events)
            if on_tick is not None:
                on_tick()

        sampler = Sampler(
            meter, interval_s, sink, wall_clock=options.wall_clock, loop_sink=loop_sink
        )
    except BaseException:
        recorder.close(0.0)
        raise
    return Session(
        settings, options, member, carbon, meter, sampler, recorder, location,
        found.candidates, notes, names[1], names[2],
    )  # fmt: skip


def _meta_inputs(
    cloud: tuple[str | None, str | None], country: str, cpu_model: str, assumed: dict[str, Any]
) -> dict[str, Any]:
    return {"cloud": cloud, "country_name": country, "cpu_model": cpu_model, "assumed": assumed}


def _discover(settings: Settings, options: Options) -> Any:
    from carbonledger.sensors import discover_for_run

    s = settings.sampling
    given = list(options.sensors) if options.sensors is not None else None
    return discover_for_run(
        given, scope=s.scope, pid=s.pid, gpu=s.gpu, env=options.env, clock=options.clock,
        cpu_watts=s.cpu_watts, ram_watts=s.ram_watts,
    )  # fmt: skip


def _open_recorder(
    settings: Settings, options: Options, member: Membership, notes: list[str]
) -> tuple[Recorder, str | None]:
    """Load the signing key, open the recorder and start its writer thread (which opens the
    ledger in the background)."""
    from carbonledger.events import MemberChain
    from carbonledger.run.destination import open_recorder

    ttl_s = lease_ttl_s(settings.sampling.interval_s)
    signer = _signer(options, notes)
    chain = MemberChain(member.run_id, member.member_id, signer, clock=options.wall_clock)
    recorder, location = open_recorder(
        options.ledger, settings.run.ledger, chain, options.env, lease_ttl_s=ttl_s
    )
    recorder.start()
    return recorder, location


def _join(
    settings: Settings,
    options: Options,
    member: Membership,
    recorder: Recorder,
    carbon: CarbonContext,
    sensors: list[Sensor],
    notes: list[str],
    inputs: dict[str, Any],
) -> tuple[tuple[Event, ...], list[Sensor], tuple[str, str, str], CarbonContext]:
    """Ask the ledger (at most half a second) whether the run exists and which devices this
    member counts, and make the events that open the run."""
    from carbonledger.run.hostinfo import run_meta
    from carbonledger.run.membership import (
        adopt,
        lease_keys,
        own_devices,
        run_events,
        start_answers,
    )
    from carbonledger.run.recording import START_WAIT_S

    run = settings.run
    ttl_s = lease_ttl_s(settings.sampling.interval_s)
    try:
        sensors = own_devices(sensors, member, notes)
        keys = lease_keys(member, sensors)
        answers = None
        if options.ledger is not False:
            answers = recorder.ask(lambda led: start_answers(led, member, keys, ttl_s))
            if answers is None:
                problem = recorder.problem or f"the ledger did not answer within {START_WAIT_S:g} s"
                recorder.journal_now(problem)
                notes.append("device claims not checked: the ledger is not in use")
        stored, leases = answers if answers is not None else (None, None)
        meta = run_meta(
            settings, member, carbon, cpu_model=inputs["cpu_model"],
            gpu_models=[s.info.model for s in sensors if s.info.component == "gpu"],
            cloud=inputs["cloud"], country_name=inputs["country_name"],
            command=list(options.command) if options.command else None, env=options.env,
        )  # fmt: skip
        meta.update(inputs["assumed"])
        names = (settings.sampling.scope, run.project, run.experiment)
        opening = run_events(
            member, names, carbon, tags=run.tags, meta=meta,
            started_unix_s=options.wall_clock(), lease_ttl_s=ttl_s,
        )  # fmt: skip
        project, experiment, carbon = adopt(stored, member, names, carbon)
        kept = claim_devices(sensors, member, leases, notes)
    except BaseException:
        recorder.close(0.0)
        raise
    return opening, kept, (names[0], project, experiment), carbon


def _signer(options: Options, notes: list[str]) -> Signer | None:
    """The user's signing key, for this member's batches (None: they go unsigned)."""
    if options.ledger is False:
        return None
    from carbonledger.ledger.keys import load_or_create_signing_key

    try:
        return load_or_create_signing_key(options.env.get("CARBONLEDGER_SIGNING_KEY"))
    except CarbonLedgerError as exc:
        message = f"the run's records are not signed: {exc}"
        notes.append(message)
        log.warning("carbonledger: %s", message)
        return None


def _settle_quietly(ledger: Ledger) -> None:
    """Settle other runs whose members all stopped (a tracker's start): never raises."""
    try:
        ledger.settle()
    except CarbonLedgerError as exc:
        log.info("carbonledger: dead runs not settled: %s", exc)


def window_metrics(window: str, metrics: Mapping[str, float]) -> dict[str, float]:
    """A window's metrics checked: names as for a run's metrics, finite numbers."""
    import math

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
