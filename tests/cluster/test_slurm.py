"""SLURM: job metadata from the environment, and a shared node's host-wide devices charged
by the job's allocation (fake cgroup v2 trees in tmp_path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from carbonledger.errors import InputError
from carbonledger.models import SensorInfo
from carbonledger.run.slurm import allocation_share, job_meta, parse_cpu_list, parse_tres
from carbonledger.sensors.allocation import AllocatedShareSensor, apply_allocation
from carbonledger.testing import FakeClock, FakeSensor

GiB = 1024**3

SBATCH_ENV = {
    "SLURM_JOB_ID": "4242",
    "SLURM_ARRAY_JOB_ID": "4240",
    "SLURM_ARRAY_TASK_ID": "2",
    "SLURM_JOB_NAME": "train",
    "SLURM_JOB_PARTITION": "gpu",
    "SLURM_JOB_NODELIST": "node[01-04]",
    "SLURM_JOB_NUM_NODES": "4",
    "SLURM_CPUS_ON_NODE": "16",
    "SLURM_NTASKS": "16",
    "SLURM_JOB_GPUS": "0,1",
    "SLURM_MEM_PER_NODE": "65536",
}


def test_job_meta_reads_the_allocation() -> None:
    meta = job_meta(SBATCH_ENV)
    assert meta == {
        "job_id": "4242",
        "array_job_id": "4240",
        "array_task_id": "2",
        "job_name": "train",
        "partition": "gpu",
        "nodes": "node[01-04]",
        "node_count": 4,
        "cpus_on_node": 16,
        "tasks": 16,
        "gpus_on_node": 2,
        "mem_per_node_mb": 65536,
    }


def test_job_meta_outside_slurm_is_empty_and_gpu_forms() -> None:
    assert job_meta({}) == {}
    assert job_meta({"SLURM_JOB_ID": "1", "SLURM_GPUS_ON_NODE": "4"})["gpus_on_node"] == 4
    assert job_meta({"SLURM_JOB_ID": "1", "SLURM_GPUS": "a100:8"})["gpus_on_node"] == 8
    tres = {"SLURM_JOB_ID": "1", "SLURM_TRES_PER_NODE": "gres/gpu:h100=3"}
    assert job_meta(tres)["gpus_on_node"] == 3
    assert job_meta({"SLURM_JOB_ID": "1", "SLURM_JOB_CPUS_PER_NODE": "8(x2)"})["cpus_on_node"] == 8


def test_bad_numbers_say_which_variable() -> None:
    with pytest.raises(InputError, match="SLURM_JOB_NUM_NODES"):
        job_meta({"SLURM_JOB_ID": "1", "SLURM_JOB_NUM_NODES": "four"})
    with pytest.raises(InputError, match="CPU list"):
        parse_cpu_list("0-x")


def test_parsers() -> None:
    assert parse_cpu_list("0-3,8,10-11\n") == {0, 1, 2, 3, 8, 10, 11}
    assert parse_tres("cpu=8,mem=32G,gres/gpu=4") == {"cpu": "8", "mem": "32G", "gres/gpu": "4"}


def _cgroup(tmp_path: Path, cpus: str, mem_bytes: int | str) -> tuple[str, str]:
    root = tmp_path / "cgroup"
    job = root / "system.slice" / "slurmstepd.scope" / "job_4242"
    step = job / "step_0" / "user" / "task_0"
    step.mkdir(parents=True)
    (job / "cpuset.cpus.effective").write_text(cpus + "\n")
    (job / "memory.max").write_text(f"{mem_bytes}\n")
    (step / "memory.max").write_text("max\n")  # the task itself has no lower limit
    proc = tmp_path / "proc-self-cgroup"
    proc.write_text("0::/system.slice/slurmstepd.scope/job_4242/step_0/user/task_0\n")
    return str(root), str(proc)


def test_share_from_the_cgroup(tmp_path: Path) -> None:
    root, proc = _cgroup(tmp_path, "0-7,32-39", 64 * GiB)
    share = allocation_share(
        node_cpus=64,
        node_ram_bytes=256 * GiB,
        env=SBATCH_ENV,
        cgroup_root=root,
        proc_cgroup_path=proc,
    )
    assert share is not None
    assert share.cpu_fraction == pytest.approx(16 / 64)
    assert share.ram_fraction == pytest.approx(0.25)
    assert share.gpu_indexes == (0, 1)
    assert "cgroup cpuset 0-7,32-39" in share.how


def test_share_falls_back_to_slurm_env_and_whole_node_is_none(tmp_path: Path) -> None:
    missing = str(tmp_path / "nothing")
    share = allocation_share(
        node_cpus=32,
        node_ram_bytes=128 * GiB,
        env=SBATCH_ENV,
        cgroup_root=missing,
        proc_cgroup_path=missing,
    )
    assert share is not None
    assert (share.cpu_fraction, share.ram_fraction) == (0.5, 0.5)
    assert "SLURM_CPUS_ON_NODE=16" in share.how
    whole = {"SLURM_JOB_ID": "1", "SLURM_CPUS_ON_NODE": "32"}
    assert allocation_share(node_cpus=32, node_ram_bytes=GiB, env=whole) is None
    assert allocation_share(node_cpus=32, node_ram_bytes=GiB, env={}) is None


def test_host_wide_sensors_charged_by_the_share_and_the_method_says_so(tmp_path: Path) -> None:
    root, proc = _cgroup(tmp_path, "0-15", 64 * GiB)
    share = allocation_share(
        node_cpus=64, node_ram_bytes=128 * GiB, env=SBATCH_ENV, cgroup_root=root,
        proc_cgroup_path=proc,
    )  # fmt: skip
    clock = FakeClock()
    cpu = FakeSensor(SensorInfo("cpu", "cpu:package-0", "rapl", True, host_wide=True), 200, clock)
    ram = FakeSensor(SensorInfo("ram", "ram", "ram-model", False, host_wide=True), 40, clock)
    gpu = FakeSensor(SensorInfo("gpu", "gpu:0", "nvml", True, uid="GPU-0"), 300, clock)
    notes: list[str] = []
    charged = apply_allocation([cpu, ram, gpu], share, notes)
    clock.advance(10)
    energies = {s.info.device: s.read().energy_j for s in charged}
    assert energies == pytest.approx({"cpu:package-0": 500.0, "ram": 200.0, "gpu:0": 3000.0})
    assert isinstance(charged[0], AllocatedShareSensor)
    assert charged[0].info.method == "rapl x allocation 0.25"
    assert "charged by the job's allocation" in charged[1].info.reason
    assert charged[2] is gpu
    assert "shared node" in notes[0]
    with pytest.raises(InputError):
        AllocatedShareSensor(cpu, 0.0, "nothing")


def test_discovery_charges_the_allocation(tmp_path: Path) -> None:
    from carbonledger.sensors.discovery import discover
    from carbonledger.testing import FakePowercap

    root, proc = _cgroup(tmp_path, "0-1", 1 * GiB)
    fake = FakePowercap(tmp_path / "powercap")
    fake.add_package(0)
    found = discover(
        scope="machine",
        gpu=False,
        env={**SBATCH_ENV, "CARBONLEDGER_POWERCAP_ROOT": str(fake.root)},
        powercap_root=fake.root,
        cpu_count=8,
        cgroup_root=root,
        proc_cgroup_path=proc,
    )
    cpu = [s for s in found.sensors if s.info.component == "cpu"]
    assert cpu and cpu[0].info.method.endswith("x allocation 0.25")
    assert any("shared node" in n for n in found.notes)


def test_one_slurm_integer_parser_for_the_metadata_and_the_share(tmp_path: Path) -> None:
    from carbonledger.sensors.allocation import slurm_int

    env = {"A": "", "B": "8(x2)", "C": "4,8", "BAD": "lots"}
    assert slurm_int(env, "A", "B") == 8  # an empty variable counts as unset
    assert slurm_int(env, "C") == 4  # this node's count comes first
    assert slurm_int(env, "MISSING") is None
    with pytest.raises(InputError, match=r"BAD must be an integer, got 'lots'"):
        slurm_int(env, "BAD")
    missing = str(tmp_path / "nothing")
    per_node = {"SLURM_JOB_ID": "1", "SLURM_CPUS_ON_NODE": "8(x2)", "SLURM_MEM_PER_NODE": "x"}
    with pytest.raises(InputError, match="SLURM_MEM_PER_NODE must be an integer"):
        allocation_share(
            node_cpus=32,
            node_ram_bytes=GiB,
            env=per_node,
            cgroup_root=missing,
            proc_cgroup_path=missing,
        )
    with pytest.raises(InputError, match="SLURM_MEM_PER_NODE must be an integer"):
        job_meta(per_node)
