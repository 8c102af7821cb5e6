"""SLURM: a job's metadata and its share of a shared node.

:func:`job_meta` reads the job's identity and allocation from the environment SLURM gives
every task (``SLURM_JOB_ID``, ``SLURM_ARRAY_TASK_ID``, ``SLURM_JOB_PARTITION``...), to keep
on the run. :func:`allocation_share` tells what fraction of a shared node's host-wide devices
the job holds, from its cgroup (the CPU set, the memory limit) and the GPUs it was given, so
that a job on a quarter of a node is charged a quarter of the node's CPU and RAM energy.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from carbonledger.errors import InputError
from carbonledger.sensors.allocation import Allocation, allocation_share, parse_cpu_list

__all__ = ["Allocation", "allocation_share", "job_meta", "parse_cpu_list", "parse_tres"]


def _first(env: Mapping[str, str], *names: str) -> str:
    for name in names:
        value = env.get(name, "")
        if value:
            return value
    return ""


def _int(env: Mapping[str, str], *names: str) -> int | None:
    for name in names:
        value = env.get(name, "")
        if value:
            head = value.split("(")[0].split(",")[0]  # "4(x2)" (per node), "4,4"
            try:
                return int(head)
            except ValueError:
                raise InputError(f"{name} must be an integer, got {value!r}") from None
    return None


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
    count = _int(env, "SLURM_GPUS_ON_NODE")
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
        "node_count": _int(env, "SLURM_JOB_NUM_NODES", "SLURM_NNODES"),
        "cpus_on_node": _int(env, "SLURM_CPUS_ON_NODE", "SLURM_JOB_CPUS_PER_NODE"),
        "cpus_per_task": _int(env, "SLURM_CPUS_PER_TASK"),
        "tasks": _int(env, "SLURM_NTASKS", "SLURM_NPROCS"),
        "gpus_on_node": _gpu_count(env),
        "mem_per_node_mb": _int(env, "SLURM_MEM_PER_NODE"),
    }
    meta: dict[str, Any] = {k: v for k, v in text.items() if v}
    meta.update({k: v for k, v in numbers.items() if v is not None})
    return meta
