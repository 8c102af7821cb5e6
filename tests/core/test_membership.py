"""Which run a process joins: from the launcher's environment, with no extra configuration."""

from __future__ import annotations

import os

from carbonledger.run.membership import derive_run_id


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
