"""Membership of a run: which run this process joins, as which member, and which devices it
counts.

Processes that share a run id (``CARBONLEDGER_RUN_ID``, torchrun's ``TORCHELASTIC_RUN_ID``,
SLURM's job and step ids) join ONE run; host-wide devices (CPU packages, RAM in machine scope)
are counted by one process per host and each GPU by the rank that owns it, through leases in
the ledger.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carbonledger.errors import InputError
from carbonledger.events import MemberJoined, RunOpened
from carbonledger.models import MemberRecord, RunRecord

if TYPE_CHECKING:
    from carbonledger.accounting import CarbonContext
    from carbonledger.ledger import Ledger
    from carbonledger.sensors import Sensor

__all__ = [
    "Membership",
    "adopt",
    "claim_devices",
    "derive_run_id",
    "int_env",
    "lease_keys",
    "lease_ttl_s",
    "new_id",
    "own_devices",
    "run_events",
    "start_answers",
]


def new_id() -> str:
    """A random 128-bit id as 32 hex digits (the form of a uuid4's hex)."""
    return os.urandom(16).hex()


def derive_run_id(env: Mapping[str, str] | None = None) -> tuple[str | None, str]:
    """The run id shared by the processes of one distributed job, and where it came from.

    ``CARBONLEDGER_RUN_ID`` > torchrun's ``TORCHELASTIC_RUN_ID`` (its default "none" on one
    node: the torchrun agent's host and pid, which all its ranks share) > SLURM's
    ``SLURM_JOB_ID`` (+ ``SLURM_STEP_ID``). (None, "new") when none is set. Several nodes
    with torchrun's default id need ``--rdzv-id`` (or ``CARBONLEDGER_RUN_ID``) to share one
    run.
    """
    env = os.environ if env is None else env
    if env.get("CARBONLEDGER_RUN_ID"):
        return env["CARBONLEDGER_RUN_ID"], "CARBONLEDGER_RUN_ID"
    torch_id = env.get("TORCHELASTIC_RUN_ID", "")
    if torch_id and torch_id.lower() != "none":
        return f"torchrun-{torch_id}", "TORCHELASTIC_RUN_ID"
    if torch_id.lower() == "none" and _one_torchrun_node(env):
        # torchrun's default rendezvous id is "none": on one node, the ranks of one job are
        # the children of one agent process, which names the job while it lives
        return f"torchrun-{os.uname().nodename}-{os.getppid()}", "torchrun agent (one node)"
    job = env.get("SLURM_JOB_ID")
    if job:
        step = env.get("SLURM_STEP_ID")
        return (f"slurm-{job}.{step}" if step else f"slurm-{job}"), "SLURM_JOB_ID"
    return None, "new"


def _one_torchrun_node(env: Mapping[str, str]) -> bool:
    """Whether torchrun started this process with every rank on this node."""
    world, local = env.get("WORLD_SIZE", ""), env.get("LOCAL_WORLD_SIZE", "")
    return bool(world) and world == local


def int_env(env: Mapping[str, str], *names: str) -> int | None:
    """The first of ``names`` set in ``env``, as an int (InputError when it is not one)."""
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


def lease_ttl_s(interval_s: float) -> float:
    """How long a member counts as live after its last sign of life (a sample or a
    heartbeat), in seconds; the ledger renews it every third of this, and a member's samples
    are committed at least that often (:data:`carbonledger.run.writeahead.COMMIT_EVERY_S`)."""
    return max(90.0, 3.0 * interval_s)


@dataclass(frozen=True)
class Membership:
    """This process's place in a run."""

    run_id: str
    #: where the run id came from: "argument", an environment variable's name, or "new"
    run_id_source: str
    #: True when the id was given or derived (other processes may share the run)
    joined: bool
    member_id: str
    host: str
    pid: int
    rank: int | None
    local_rank: int | None

    @classmethod
    def create(cls, run_id: str | None, env: Mapping[str, str], host: str, pid: int) -> Membership:
        derived, source = derive_run_id(env)
        if run_id:
            source = "argument"
        return cls(
            run_id=run_id or derived or new_id(),
            run_id_source=source,
            joined=bool(run_id or derived),
            member_id=new_id(),
            host=host,
            pid=pid,
            rank=int_env(env, "RANK", "SLURM_PROCID"),
            local_rank=int_env(env, "LOCAL_RANK", "SLURM_LOCALID"),
        )


def _lease_key(member: Membership, sensor: Sensor) -> str | None:
    info = sensor.info
    if info.host_wide:
        return f"host:{member.host}:{info.device}"
    if info.component == "gpu":
        return f"gpu:{info.uid}" if info.uid else f"host:{member.host}:{info.device}"
    return None


def lease_keys(member: Membership, sensors: Sequence[Sensor]) -> list[str]:
    """The leases this member asks for: one per shared device (host-wide ones, GPUs)."""
    return [k for k in (_lease_key(member, s) for s in sensors) if k is not None]


def start_answers(
    ledger: Ledger, member: Membership, keys: Sequence[str], ttl_s: float
) -> tuple[RunRecord | None, dict[str, bool]]:
    """What a member asks the ledger at its start: the run as stored when it joins one that
    may exist already (its names and carbon context are then the run's), and which of
    ``keys`` it holds."""
    stored = None
    if member.joined:
        try:
            stored = ledger.run_record(member.run_id)
        except InputError:  # not opened yet: this member opens it
            stored = None
    leases = {k: ledger.acquire_lease(member.run_id, k, member.member_id, ttl_s) for k in keys}
    return stored, leases


def own_devices(sensors: list[Sensor], member: Membership, notes: list[str]) -> list[Sensor]:
    """The sensors of this member's own: with ``LOCAL_RANK`` set and several GPUs visible, a
    rank counts its own GPU only (the others are closed)."""
    kept = list(sensors)
    gpus = [s for s in kept if s.info.component == "gpu"]
    if member.local_rank is not None and len(gpus) > 1:
        own = gpus[member.local_rank] if member.local_rank < len(gpus) else None
        for gpu in gpus:
            if gpu is not own:
                kept.remove(gpu)
                gpu.close()
        notes.append(
            f"gpu: LOCAL_RANK={member.local_rank}: this rank counts "
            f"{own.info.device if own else 'no GPU'} of {len(gpus)} visible"
        )
    return kept


def claim_devices(
    sensors: list[Sensor],
    member: Membership,
    leases: Mapping[str, bool] | None,
    notes: list[str],
) -> list[Sensor]:
    """The sensors this member counts, each device once across the members of the run: a
    shared device is counted when this member holds its lease (``leases``, the ledger's
    answers for :func:`lease_keys` of these sensors). When the ledger did not answer
    (``leases`` None), a member that knows its local rank leaves the host-wide devices to
    local rank 0 of its host (no ledger needed to count them once); one that does not keeps
    every device (and a note says the claims were not checked). Sensors given up are closed."""
    if leases is None:
        if member.local_rank is None or member.local_rank == 0:
            return list(sensors)
        kept = []
        for sensor in sensors:
            if sensor.info.host_wide:
                notes.append(f"{sensor.info.device}: counted by local rank 0 of this host")
                sensor.close()
            else:
                kept.append(sensor)
        return kept
    out: list[Sensor] = []
    for sensor in sensors:
        key = _lease_key(member, sensor)
        if key is None or leases.get(key, False):
            out.append(sensor)
        else:
            notes.append(f"{sensor.info.device}: counted by another process of this run")
            sensor.close()
    return out


def run_events(
    member: Membership,
    names: tuple[str, str, str],
    context: CarbonContext,
    *,
    tags: Mapping[str, str],
    meta: dict[str, Any],
    started_unix_s: float,
    lease_ttl_s: float,
) -> tuple[RunOpened, MemberJoined]:
    """The events that open the run (as this member sees it) and join this member to it.
    ``names`` is (scope, project, experiment)."""
    scope, project, experiment = names
    record = RunRecord(
        run_id=member.run_id,
        project=project,
        experiment=experiment,
        started_unix_s=started_unix_s,
        scope=scope,
        location=context.location,
        location_source=context.location_source,
        intensity_g_per_kwh=context.intensity_g_per_kwh,
        intensity_source=context.intensity_source,
        pue=context.pue,
        pue_source=context.pue_source,
        tags=dict(tags),
        meta=meta,
    )
    joined = MemberRecord(
        member_id=member.member_id,
        run_id=member.run_id,
        host=member.host,
        pid=member.pid,
        started_unix_s=started_unix_s,
        rank=member.rank,
        local_rank=member.local_rank,
    )
    return RunOpened(record), MemberJoined(joined, lease_ttl_s)


def adopt(
    stored: RunRecord | None,
    member: Membership,
    names: tuple[str, str, str],
    context: CarbonContext,
) -> tuple[str, str, CarbonContext]:
    """The project, experiment and carbon context this member uses: the stored run's when it
    joined one another member opened first (so that every member's totals agree)."""
    from carbonledger.accounting import CarbonContext, ElectricityPrice, WaterFactor

    _, project, experiment = names
    if stored is None or not member.joined or stored.run_id != member.run_id:
        return project, experiment, context
    return (
        stored.project,
        stored.experiment,
        CarbonContext(
            stored.location,
            stored.location_source,
            stored.intensity_g_per_kwh,
            stored.intensity_source,
            stored.pue,
            stored.pue_source,
            context.market_g_per_kwh,
            # the run's water and price records, as its first member stored them
            WaterFactor.from_dict(stored.meta.get("water")),
            ElectricityPrice.from_dict(stored.meta.get("electricity_price")),
        ),
    )
