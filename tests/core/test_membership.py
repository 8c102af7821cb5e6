"""Which run a process joins: from the launcher's environment, with no extra configuration."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from carbonledger.run.membership import (
    Membership,
    claim_devices,
    derive_run_id,
    lease_keys,
    own_devices,
)

sys.path.insert(0, str(Path(__file__).parent))
from fakes import StepSensor


def test_explicit_and_launcher_ids() -> None:
    assert derive_run_id({"CARBONLEDGER_RUN_ID": "mine", "SLURM_JOB_ID": "7"}) == (
        "mine",
        "CARBONLEDGER_RUN_ID",
    )
    assert derive_run_id({"TORCHELASTIC_RUN_ID": "job-42"}) == (
        "torchrun-job-42",
        "TORCHELASTIC_RUN_ID",
    )
    assert derive_run_id({"SLURM_JOB_ID": "7", "SLURM_STEP_ID": "0"}) == (
        "slurm-7.0",
        "SLURM_JOB_ID",
    )
    assert derive_run_id({}) == (None, "new")


def test_torchrun_default_id_on_one_node_is_the_agents() -> None:
    """`torchrun --nproc_per_node=N` sets TORCHELASTIC_RUN_ID=none: the ranks are children of
    one agent, so they share a run named by the host and the agent's pid."""
    env = {"TORCHELASTIC_RUN_ID": "none", "WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "4"}
    run_id, source = derive_run_id(env)
    assert run_id == f"torchrun-{os.uname().nodename}-{os.getppid()}"
    assert source == "torchrun agent (one node)"


def test_torchrun_default_id_across_nodes_needs_an_id() -> None:
    env = {"TORCHELASTIC_RUN_ID": "none", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4"}
    assert derive_run_id(env) == (None, "new")


def _sensors() -> list[StepSensor]:
    return [
        StepSensor("cpu", "cpu:package-0", 1.0, host_wide=True),
        StepSensor("ram", "ram", 1.0, host_wide=True, measured=False),
        StepSensor("gpu", "gpu:0", 1.0, uid="GPU-0"),
        StepSensor("gpu", "gpu:1", 1.0, uid="GPU-1"),
    ]


def _member(local_rank: int | None) -> Membership:
    env = {"CARBONLEDGER_RUN_ID": "job"}
    if local_rank is not None:
        env["LOCAL_RANK"] = str(local_rank)
    return Membership.create(None, env, "node01", 100 + (local_rank or 0))


def test_without_the_ledger_local_rank_zero_counts_the_host_wide_devices() -> None:
    """When the ledger does not answer in time, the host's devices are still counted once:
    by local rank 0; each rank keeps its own GPU."""
    counted = []
    for local_rank in (0, 1):
        notes: list[str] = []
        member = _member(local_rank)
        kept = own_devices(list(_sensors()), member, notes)
        kept = claim_devices(kept, member, None, notes)
        counted.append(sorted(s.info.device for s in kept))
    assert counted == [["cpu:package-0", "gpu:0", "ram"], ["gpu:1"]]


def test_leases_decide_and_keys_are_asked_only_for_own_devices() -> None:
    member = _member(1)
    notes: list[str] = []
    kept = own_devices(list(_sensors()), member, notes)
    keys = lease_keys(member, kept)
    assert keys == ["host:node01:cpu:package-0", "host:node01:ram", "gpu:GPU-1"]
    granted = {"host:node01:cpu:package-0": False, "host:node01:ram": True, "gpu:GPU-1": True}
    assert [s.info.device for s in claim_devices(kept, member, granted, notes)] == ["ram", "gpu:1"]
    assert any("counted by another process" in n for n in notes)
