"""SLURM: a job's metadata and its share of a shared node.

:func:`job_meta` reads the job's identity and allocation from the environment SLURM gives
every task (``SLURM_JOB_ID``, ``SLURM_ARRAY_TASK_ID``, ``SLURM_JOB_PARTITION``...), to keep
on the run. :func:`allocation_share` tells what fraction of a shared node's host-wide devices
the job holds, from its cgroup (the CPU set, the memory limit) and the GPUs it was given, so
that a job on a quarter of a node is charged a quarter of the node's CPU and RAM energy.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carbonledger.errors import InputError
from carbonledger.models import ComponentEnergy, RunStatus
from carbonledger.run.membership import new_id
from carbonledger.sensors.allocation import (
    Allocation,
    allocation_share,
    parse_cpu_list,
    slurm_int,
)
from carbonledger.sensors.allocation import (
    first_set as _first,
)

if TYPE_CHECKING:
    from carbonledger.accounting import CarbonContext

__all__ = [
    "SACCT_COMMAND",
    "SACCT_FIELDS",
    "SACCT_MAX_BYTES",
    "Allocation",
    "Imported",
    "SacctJob",
    "allocation_share",
    "estimate_components",
    "import_jobs",
    "job_meta",
    "job_status",
    "jobs_over",
    "parse_cpu_list",
    "parse_sacct",
    "parse_tres",
]


def parse_tres(text: str) -> dict[str, str]:
    """``cpu=8,mem=32G,node=2,billing=8,gres/gpu=4`` as a dict (``gres/gpu:a100=4`` keeps
    its full key). Empty text gives an empty dict."""
    out: dict[str, str] = {}
    for part in text.split(","):
        if "=" in part:
            key, _, value = part.partition("=")
            out[key.strip()] = value.strip()
    return out


def _gpu_count(env: Mapping[str, str]) -> int | None:
    """GPUs allocated to the job: ``SLURM_GPUS_ON_NODE`` (per node), else ``SLURM_GPUS``,
    else ``SLURM_JOB_GPUS`` / ``SLURM_STEP_GPUS`` (a list of indexes), else the TRES string."""
    count = slurm_int(env, "SLURM_GPUS_ON_NODE")
    if count is not None:
        return count
    gpus = env.get("SLURM_GPUS", "")
    if gpus:
        try:
            return int(gpus.rsplit(":", 1)[-1])
        except ValueError:
            raise InputError(f"SLURM_GPUS must end in a count (a100:4), got {gpus!r}") from None
    listed = _first(env, "SLURM_STEP_GPUS", "SLURM_JOB_GPUS")
    if listed:
        return len([g for g in listed.split(",") if g])
    tres = parse_tres(env.get("SLURM_TRES_PER_NODE", "") or env.get("SLURM_TRES_PER_TASK", ""))
    for key, value in tres.items():
        if key.startswith("gres/gpu") or key == "gpu":
            try:
                return int(value.rsplit(":", 1)[-1])
            except ValueError:
                return None
    return None


def job_meta(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The SLURM job this process belongs to, for the run's metadata; ``{}`` outside SLURM.

    Keys (each only when SLURM set it): ``job_id``, ``array_job_id``, ``array_task_id``,
    ``step_id``, ``job_name``, ``partition``, ``account``, ``qos``, ``cluster``,
    ``nodes`` (the node list as SLURM writes it), ``node_count``, ``cpus_on_node``
    (CPUs allocated on this node), ``cpus_per_task``, ``tasks``, ``gpus_on_node``
    (GPUs allocated on this node), ``mem_per_node_mb``.
    """
    env = os.environ if env is None else env
    job_id = env.get("SLURM_JOB_ID") or env.get("SLURM_JOBID")
    if not job_id:
        return {}
    text = {
        "job_id": job_id,
        "array_job_id": env.get("SLURM_ARRAY_JOB_ID", ""),
        "array_task_id": env.get("SLURM_ARRAY_TASK_ID", ""),
        "step_id": env.get("SLURM_STEP_ID", ""),
        "job_name": env.get("SLURM_JOB_NAME", ""),
        "partition": _first(env, "SLURM_JOB_PARTITION", "SLURM_PARTITION"),
        "account": _first(env, "SLURM_JOB_ACCOUNT", "SLURM_ACCOUNT"),
        "qos": _first(env, "SLURM_JOB_QOS", "SLURM_QOS"),
        "cluster": env.get("SLURM_CLUSTER_NAME", ""),
        "nodes": _first(env, "SLURM_JOB_NODELIST", "SLURM_NODELIST"),
    }
    numbers = {
        "node_count": slurm_int(env, "SLURM_JOB_NUM_NODES", "SLURM_NNODES"),
        "cpus_on_node": slurm_int(env, "SLURM_CPUS_ON_NODE", "SLURM_JOB_CPUS_PER_NODE"),
        "cpus_per_task": slurm_int(env, "SLURM_CPUS_PER_TASK"),
        "tasks": slurm_int(env, "SLURM_NTASKS", "SLURM_NPROCS"),
        "gpus_on_node": _gpu_count(env),
        "mem_per_node_mb": slurm_int(env, "SLURM_MEM_PER_NODE"),
    }
    meta: dict[str, Any] = {k: v for k, v in text.items() if v}
    meta.update({k: v for k, v in numbers.items() if v is not None})
    return meta


# --- after the fact: sacct accounting into estimated runs -----------------------------------

#: the sacct fields ``carbonledger import slurm`` reads (with ``--parsable2``, header kept)
SACCT_FIELDS = (
    "JobID,JobName,Partition,Account,User,State,Start,End,ElapsedRaw,NNodes,NCPUS,"
    "AllocTRES,TotalCPU,NodeList"
)
SACCT_COMMAND = ("sacct", "--allusers", "--allocations", "--parsable2", f"--format={SACCT_FIELDS}")
_NOT_OVER = ("RUNNING", "PENDING", "REQUEUED", "SUSPENDED")
#: what each job needs, and the fields sites keep that give it (the first one present wins)
_NEEDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the job id", ("JobID",)),
    ("the start time", ("Start",)),
    ("the elapsed time", ("ElapsedRaw", "Elapsed")),
    ("the CPU count", ("NCPUS", "AllocCPUS")),
    ("the allocated resources", ("AllocTRES",)),
)
#: the largest sacct output read (bytes)
SACCT_MAX_BYTES = 256 << 20
#: a job's largest CPU and GPU counts, and memory (bytes), taken as real
MAX_JOB_CPUS = 10_000_000
MAX_JOB_GPUS = 1_000_000
MAX_JOB_MEM_BYTES = 1e18
#: share of a GPU's TDP assumed drawn when only GPU-hours are known, with its range
GPU_TDP_SHARE, GPU_TDP_SHARE_LOW, GPU_TDP_SHARE_HIGH = 0.7, 0.4, 1.0


@dataclass(frozen=True)
class SacctJob:
    """One job (allocation) of ``sacct`` output."""

    job_id: str
    started_unix_s: float
    duration_s: float
    cpus: int
    gpus: int
    gpu_model: str
    mem_bytes: float
    #: 0..1 from TotalCPU / (NCPUS x elapsed), None when sacct gave no TotalCPU
    cpu_utilisation: float | None
    fields: dict[str, str]


def _sacct_time_s(text: str) -> float:
    """``[DD-][HH:]MM:SS[.mmm]`` (sacct's Elapsed and TotalCPU) in seconds; ValueError for
    anything else."""
    from carbonledger._inputs import MAX_DURATION_S

    days, _, rest = text.strip().rpartition("-")
    parts = rest.split(":")
    if not 1 <= len(parts) <= 3 or (days and len(parts) != 3):
        raise ValueError(f"{text!r:.40} is not a sacct time ([DD-]HH:MM:SS)")
    values = [float(p) for p in parts]
    while len(values) < 3:
        values.insert(0, 0.0)
    seconds = (int(days) if days else 0) * 86400 + values[0] * 3600 + values[1] * 60 + values[2]
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_DURATION_S * 1000):
        raise ValueError(f"{text!r:.40} is not a sacct time ([DD-]HH:MM:SS)")
    return seconds


def _mem_bytes(text: str) -> float:
    units = {"K": 1024.0, "M": 1024.0**2, "G": 1024.0**3, "T": 1024.0**4, "P": 1024.0**5}
    if text and text[-1].upper() in units:
        value = float(text[:-1]) * units[text[-1].upper()]
    else:
        value = float(text) * 1024.0**2 if text else 0.0  # sacct's default unit is MB
    if not (math.isfinite(value) and 0 <= value <= MAX_JOB_MEM_BYTES):
        raise ValueError(f"memory {text!r:.40} is not a size up to 1 EB")
    return value


def _count(text: str, what: str, high: int) -> int:
    value = int(text.strip())
    if not 0 <= value <= high:
        raise ValueError(f"{what} {text!r:.40} is not a count from 0 to {high:,}")
    return value


def _field(row: dict[str, str], names: tuple[str, ...]) -> tuple[str, str]:
    """(the name, the value) of the first of ``names`` the output has."""
    for name in names:
        if name in row:
            return name, row[name] or ""
    return names[0], ""


def _elapsed_s(row: dict[str, str]) -> float:
    from carbonledger._inputs import MAX_DURATION_S

    name, text = _field(row, ("ElapsedRaw", "Elapsed"))
    value = float(text) if name == "ElapsedRaw" else _sacct_time_s(text)
    if not (math.isfinite(value) and 0 <= value <= MAX_DURATION_S):
        raise ValueError(f"{name} {text!r:.40} is not a time from 0 to ten years")
    return value


def _job(row: dict[str, str], line_no: int) -> SacctJob | None:
    from datetime import datetime, timezone

    from carbonledger._inputs import MAX_UNIX_S

    if not _ran(row):
        return None  # a step (the allocation line carries the job), or a job never started
    try:
        start = datetime.fromisoformat(row["Start"]).replace(tzinfo=timezone.utc).timestamp()
        duration_s = _elapsed_s(row)
        if not 0 <= start <= MAX_UNIX_S - duration_s:
            raise ValueError(f"Start {row['Start']!r:.40} is not a time from 1970 to 9999")
        cpus = _count(_field(row, ("NCPUS", "AllocCPUS"))[1], "the CPU count", MAX_JOB_CPUS)
        tres = parse_tres(row["AllocTRES"])
        gpus, gpu_model = 0, ""
        for key, value in tres.items():
            if key == "gres/gpu":
                gpus = max(gpus, _count(value, "the GPU count", MAX_JOB_GPUS))
            elif key.startswith("gres/gpu:"):
                count = _count(value, "the GPU count", MAX_JOB_GPUS)
                gpus, gpu_model = max(gpus, count), key.split(":", 1)[1][:100]
        mem = _mem_bytes(tres.get("mem", ""))
        total_cpu = row.get("TotalCPU", "")
        util = None
        if total_cpu and cpus and duration_s > 0:
            util = min(1.0, _sacct_time_s(total_cpu) / (cpus * duration_s))
    except (ValueError, KeyError, OverflowError, OSError) as exc:
        raise InputError(
            f"sacct line {line_no}: cannot read job {row.get('JobID', '?')!r:.40} ({exc}); "
            f"expected sacct --parsable2 --format={SACCT_FIELDS}"
        ) from None
    return SacctJob(row["JobID"], start, duration_s, cpus, gpus, gpu_model, mem, util, row)


def _ran(row: dict[str, str]) -> bool:
    """Whether ``row`` is a job's allocation that started (not a step, not pending)."""
    job_id, start = row.get("JobID", ""), row.get("Start", "")
    return bool(job_id) and "." not in job_id and start not in ("", "Unknown", "None")


def _header(first: list[str]) -> list[str] | None:
    """The field names when ``first`` is sacct's header line, else None."""
    names = [f.strip() for f in first]
    known = {n for _, fields in _NEEDS for n in fields}
    return names if known & set(names) else None


def parse_sacct(text: str) -> list[SacctJob]:
    """The jobs of ``sacct --parsable2`` (or ``--parsable``: a ``|`` ends each line) output,
    ``|``-separated, with its header line, or without one in the order of
    :data:`SACCT_FIELDS`. The fields sites keep are taken: ``NCPUS`` or ``AllocCPUS``,
    ``ElapsedRaw`` or ``Elapsed``, ``TotalCPU`` (the CPU time used; without it full load is
    assumed, as with ``CPUTimeRAW``, which is the time allocated). A missing field is an
    :class:`InputError` naming it. Steps (``123.batch``) and jobs that never started are
    skipped. Times are read as UTC (run sacct with ``TZ=UTC``)."""
    import csv

    lines = [line for line in text.splitlines() if line.strip()]
    try:
        rows = list(csv.reader(lines, delimiter="|", quoting=csv.QUOTE_NONE))
    except csv.Error as exc:
        raise InputError(f"sacct output is not '|'-separated text sacct writes ({exc})") from None
    if not rows:
        raise InputError(
            f"the sacct output is empty: run 'TZ=UTC sacct --parsable2 --format={SACCT_FIELDS}'"
        )
    names = _header(rows[0])
    first_line = 2 if names is not None else 1
    body = rows[1:] if names is not None else rows
    if names is None:
        names = SACCT_FIELDS.split(",")
        width = len(rows[0]) - (1 if rows[0] and rows[0][-1] == "" else 0)
        if width != len(names):
            raise InputError(
                f"sacct output without a header line must have the fields {SACCT_FIELDS} "
                f"(line 1 has {width}); keep the header line sacct prints"
            )
    if names and names[-1] == "":  # --parsable: a '|' ends every line
        names = names[:-1]
    missing = [
        f"{need} ({' or '.join(fields)})"
        for need, fields in _NEEDS
        if not any(f in names for f in fields)
    ]
    if missing:
        raise InputError(
            f"sacct output lacks {', '.join(missing)}: run "
            f"'TZ=UTC sacct --parsable2 --format={SACCT_FIELDS}' (header line kept)"
        )
    jobs = []
    for line_no, values in enumerate(body, start=first_line):
        if values and values[-1] == "" and len(values) == len(names) + 1:
            values = values[:-1]
        row = {n: values[i] if i < len(values) else "" for i, n in enumerate(names)}
        if len(values) != len(names) and _ran(row):
            raise InputError(
                f"sacct line {line_no}: {len(values)} fields where the header has "
                f"{len(names)}; a '|' inside a value (a job name?) cannot be read: save "
                "the output with --parsable2"
            )
        job = _job(row, line_no)
        if job is not None:
            jobs.append(job)
    return jobs


def estimate_components(
    job: SacctJob, *, gpu_watts: float | None = None
) -> tuple[list[ComponentEnergy], list[str]]:
    """A job's estimated energy per component in joules, with the notes on each model: CPU
    cores x per-vCPU power (idle..full by TotalCPU), GPU-hours x TDP x 0.7 (0.4..1.0), memory
    allocated x W/GB. Everything is labelled estimated, with its range."""
    from carbonledger.predict import accelerator
    from carbonledger.sensors.cpu.vcpu import vcpu_power
    from carbonledger.sensors.memory import W_PER_GB, W_PER_GB_HIGH, W_PER_GB_LOW

    t, notes, out = job.duration_s, [], []
    row = vcpu_power(None)
    util = 1.0 if job.cpu_utilisation is None else job.cpu_utilisation
    if job.cpu_utilisation is None:
        notes.append("cpu: no TotalCPU in the sacct output: full load assumed")
    per_core_w = row.min_w + (row.max_w - row.min_w) * util
    low_w = row.min_low_w + (row.max_low_w - row.min_low_w) * util
    high_w = row.min_high_w + (row.max_high_w - row.min_high_w) * util
    n = job.cpus
    out.append(ComponentEnergy("cpu", "cpu", f"sacct cpu-hours x per-vCPU model ({row.source})",
                               False, n * per_core_w * t, t, n * low_w * t, n * high_w * t))  # fmt: skip
    if job.gpus:
        if gpu_watts is not None:
            from carbonledger._inputs import watts

            tdp_w, how = watts(gpu_watts, "--gpu-watts"), "given"
        else:
            try:
                acc = accelerator(job.gpu_model) if job.gpu_model else None
            except InputError:
                acc = None
            if acc is None:
                raise InputError(
                    f"job {job.job_id}: GPU model {job.gpu_model or 'not named'} is unknown; "
                    "pass --gpu-watts (the GPU's TDP in watts)"
                )
            tdp_w, how = acc.tdp_w, f"{acc.name} TDP"
        e = job.gpus * tdp_w * t
        out.append(ComponentEnergy("gpu", "gpu", f"sacct gpu-hours x {how} {tdp_w:g} W x "
                                   f"{GPU_TDP_SHARE:g}", False, e * GPU_TDP_SHARE, t,
                                   e * GPU_TDP_SHARE_LOW, e * GPU_TDP_SHARE_HIGH))  # fmt: skip
    gb = job.mem_bytes / 1e9
    out.append(ComponentEnergy("ram", "ram", f"sacct memory allocated x {W_PER_GB} W/GB", False,
                               gb * W_PER_GB * t, t, gb * W_PER_GB_LOW * t, gb * W_PER_GB_HIGH * t))  # fmt: skip
    return out, notes


def jobs_over(jobs: list[SacctJob]) -> list[SacctJob]:
    """The jobs that ended (running, pending, requeued and suspended ones are imported once
    they are over)."""
    return [j for j in jobs if not j.fields.get("State", "").startswith(_NOT_OVER)]


def job_status(state: str) -> RunStatus:
    """A run status for sacct's State: COMPLETED -> completed; CANCELLED, TIMEOUT, PREEMPTED
    -> interrupted; anything else (FAILED, OUT_OF_MEMORY, NODE_FAIL...) -> failed."""
    word = state.split()[0] if state else "COMPLETED"
    if word == "COMPLETED":
        return "completed"
    if word in ("CANCELLED", "TIMEOUT", "PREEMPTED", "DEADLINE"):
        return "interrupted"
    return "failed"


@dataclass(frozen=True)
class Imported:
    """What an import did: the runs written, and those skipped (already in the ledger)."""

    run_ids: tuple[str, ...]
    skipped: tuple[str, ...]


def import_jobs(
    jobs: list[SacctJob],
    target: str | None,
    context: CarbonContext,
    *,
    project: str = "slurm",
    gpu_watts: float | None = None,
) -> Imported:
    """Write each job as a finished, estimated run ``slurm-<job id>`` into the ledger
    ``target`` (the default ledger when None), with its start and end times and the job's
    sacct fields in the metadata. A job already in the ledger (tracked live as
    ``slurm-<id>`` or ``slurm-<id>.<step>``, or imported before) is skipped: importing twice
    changes nothing."""
    from carbonledger.events import MemberFinished, MemberJoined, RunOpened
    from carbonledger.ledger import open_ledger
    from carbonledger.models import MemberRecord, RunRecord

    over = jobs_over(jobs)
    skipped = [f"slurm-{j.job_id}" for j in jobs if j not in over]  # import them once over
    estimates = [(job, *estimate_components(job, gpu_watts=gpu_watts)) for job in over]
    now_s = [0.0]  # the ledger's clock: the job's own times, not the import's
    ledger = open_ledger(target, clock=lambda: now_s[0])
    done: list[str] = []
    try:
        known = {
            r[len("slurm-") :].split(".")[0]
            for r in ledger.iter_run_ids()
            if r.startswith("slurm-")
        }
        for job, components, notes in estimates:
            run_id = f"slurm-{job.job_id}"
            if job.job_id in known:  # tracked live (any step) or imported before
                skipped.append(run_id)
                continue
            meta = {"estimated": True, "source": "sacct", "slurm": dict(job.fields),
                    "notes": notes, "run_id_source": "sacct"}  # fmt: skip
            record = RunRecord(
                run_id, project, job.fields.get("JobName") or "default", job.started_unix_s,
                "slurm-job", context.location, context.location_source,
                context.intensity_g_per_kwh, context.intensity_source, context.pue,
                context.pue_source, tags={"imported": "sacct"}, meta=meta,
            )  # fmt: skip
            member = MemberRecord(new_id(), run_id, job.fields.get("NodeList", ""), 0,
                                  job.started_unix_s)  # fmt: skip
            end_s = job.started_unix_s + job.duration_s
            now_s[0] = end_s
            status = job_status(job.fields.get("State", ""))
            ledger.record(
                run_id,
                [RunOpened(record), MemberJoined(member, 60.0),
                 MemberFinished(status, tuple(components), end_s)],
                member_id=member.member_id,
                time_unix_s=end_s,
            )  # fmt: skip
            done.append(run_id)
    finally:
        ledger.close()
    return Imported(tuple(done), tuple(skipped))
