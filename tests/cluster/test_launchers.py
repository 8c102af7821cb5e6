"""Multi-node torchrun and sbatch/srun jobs, simulated by processes with distinct host names
and fake sensors: every rank runs the same two lines a user writes, the run id comes from the
launcher's environment, and each device is counted once across hosts and ranks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from carbonledger.ledger import open_ledger

# what each rank runs: the user's two lines (Tracker + with) around the training; the fake
# sensors and the host name stand in for each node's hardware
RANK_SCRIPT = textwrap.dedent(
    """
    import json, os, pathlib, sys, time
    import carbonledger as cl
    from carbonledger.models import SensorInfo
    from carbonledger.testing import FakeClock, FakeSensor

    host = os.environ["FAKE_HOST"]
    base_w = {"node01": 100.0, "node02": 200.0}[host]
    clock = FakeClock()
    sensors = [
        FakeSensor(SensorInfo("cpu", "cpu:package-0", "rapl", True, host_wide=True),
                   base_w, clock),
        FakeSensor(SensorInfo("ram", "ram", "ram-model", False, host_wide=True),
                   base_w / 10, clock),
        FakeSensor(SensorInfo("gpu", "gpu:0", "nvml", True, uid=host + "-GPU-0"),
                   base_w * 3, clock),
        FakeSensor(SensorInfo("gpu", "gpu:1", "nvml", True, uid=host + "-GPU-1"),
                   base_w * 5, clock),
    ]
    with cl.Tracker("llm", ledger=sys.argv[1], sensors=sensors, host=host,
                    grid_g_per_kwh=100, handle_signals=False) as run:
        clock.advance(10.0)  # "training": 10 s on every device
        barrier = pathlib.Path(sys.argv[2])
        (barrier / f"{host}-{os.getpid()}").write_text("up")
        deadline = time.monotonic() + 60
        while len(list(barrier.iterdir())) < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    print(json.dumps({"run_id": run.run_id, "source": run.run_id_source,
                      "kept": [s.device for s in run.sensors]}))
    """
)


def _torchrun_env(host: str, node_rank: int, local_rank: int) -> dict[str, str]:
    """What torchrun --nnodes=2 --nproc-per-node=2 --rdzv-id=job-7 sets for a rank."""
    return {
        "TORCHELASTIC_RUN_ID": "job-7",
        "RANK": str(node_rank * 2 + local_rank),
        "LOCAL_RANK": str(local_rank),
        "WORLD_SIZE": "4",
        "GROUP_RANK": str(node_rank),
    }


def _srun_env(host: str, node_rank: int, local_rank: int) -> dict[str, str]:
    """What srun (in an sbatch job, --nodes=2 --ntasks-per-node=2) sets for a task."""
    return {
        "SLURM_JOB_ID": "31337",
        "SLURM_STEP_ID": "0",
        "SLURM_PROCID": str(node_rank * 2 + local_rank),
        "SLURM_LOCALID": str(local_rank),
        "SLURM_NODEID": str(node_rank),
        "SLURMD_NODENAME": host,
        "SLURM_JOB_NODELIST": "node[01-02]",
        "SLURM_JOB_NUM_NODES": "2",
    }


@pytest.mark.parametrize(
    ("launcher", "expected_run_id", "source"),
    [
        (_torchrun_env, "torchrun-job-7", "TORCHELASTIC_RUN_ID"),
        (_srun_env, "slurm-31337.0", "SLURM_JOB_ID"),
    ],
)
def test_multi_node_job_is_one_run_each_device_once(
    tmp_path: Path, launcher: object, expected_run_id: str, source: str
) -> None:
    script = tmp_path / "train.py"
    script.write_text(RANK_SCRIPT)
    ledger_path = str(tmp_path / "shared.sqlite")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLURM", "TORCHELASTIC", "CARBONLEDGER_RUN_ID"))
        and k not in ("RANK", "LOCAL_RANK")
    }
    procs = []
    for node_rank, host in enumerate(("node01", "node02")):
        for local_rank in (0, 1):
            env = {**base, "FAKE_HOST": host, **launcher(host, node_rank, local_rank)}  # type: ignore[operator]
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(script), ledger_path, str(barrier)],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert {(r["run_id"], r["source"]) for r in results} == {(expected_run_id, source)}
    led = open_ledger(ledger_path, read_only=True)
    try:
        s = led.summary(expected_run_id)
    finally:
        led.close()
    # each host: cpu + ram + two GPUs, 10 s each = base_w * 10 * (1 + 0.1 + 3 + 5)
    assert s.energy_j == pytest.approx((100.0 + 200.0) * 10 * 9.1)
    assert sorted(s.hosts) == ["node01", "node02"]
    assert s.status == "completed"
    assert all(sum(d.startswith("gpu") for d in r["kept"]) == 1 for r in results)
    assert sum("cpu:package-0" in r["kept"] for r in results) == 2
