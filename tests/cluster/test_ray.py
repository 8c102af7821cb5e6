"""A Ray job tracked across a real three-node cluster on this machine, each node with its own
fake sensors: one run, each device once, nothing lost when a node dies, loopback only."""

from __future__ import annotations

import contextlib
import ipaddress
import time
from typing import Any

import pytest

from carbonledger.models import SensorInfo
from carbonledger.sensors.base import Sensor

pytestmark = pytest.mark.slow

GPU_W, CPU_W, RAM_W = 300.0, 100.0, 20.0


def node_sensors(host: str, node_id: str) -> list[Sensor]:
    """Distinct sensors per node: a CPU package, RAM, and a GPU with a node-wide unique id;
    the power depends on the node (its id's first hex digit) so nodes differ."""
    from carbonledger.testing import FakeSensor

    k = 1 + int(node_id[0], 16) % 4
    return [
        FakeSensor(SensorInfo("cpu", "cpu:package-0", "rapl", True, host_wide=True),
                   CPU_W * k, time.monotonic),
        FakeSensor(SensorInfo("ram", "ram", "ram-model", False, host_wide=True),
                   RAM_W * k, time.monotonic),
        FakeSensor(SensorInfo("gpu", "gpu:0", "nvml", True, uid=f"GPU-{node_id}"),
                   GPU_W * k, time.monotonic),
    ]  # fmt: skip


def _device_totals(summary: Any) -> float:
    return sum(float(c["energy_j"]) for c in summary["components"])


@pytest.fixture(scope="module", autouse=True)
def _ship_this_module() -> None:
    """Ray workers cannot import the test modules: send ``node_sensors`` by value."""
    import sys

    from ray import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


def test_cluster_listens_on_loopback_only(ray_pids: set[int]) -> None:
    import psutil

    pids = ray_pids
    listening = [
        c for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.pid in pids
    ]  # fmt: skip
    assert listening, "no Ray listening socket found"
    for conn in listening:
        ip = ipaddress.ip_address(conn.laddr.ip)
        mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1
        assert (mapped or ip).is_loopback, f"Ray listens on {conn.laddr} (pid {conn.pid})"


def test_one_run_every_node_each_device_once(ray_cluster: Any, tmp_path: Any) -> None:
    import ray

    from carbonledger.integrations.ray import RayClusterTracker

    ledger = str(tmp_path / "driver.sqlite")
    job = RayClusterTracker(
        "ray-job", ledger=ledger, sensors=node_sensors, poll_s=0.5, interval_s=0.2,
        grid_g_per_kwh=100,
    )  # fmt: skip
    with job:
        time.sleep(1.5)
        job.collect()
    summary = job.summary()
    assert summary.status == "completed"
    assert len(job.node_summaries) == len(ray.nodes()) == 3
    assert len(set(summary.hosts)) == 3
    per_node = [_device_totals(s) for s in job.node_summaries.values()]
    assert all(total > 0 for total in per_node)
    assert summary.energy_j == pytest.approx(sum(per_node))
    # three distinct GPUs, three CPU packages (one per node): nothing counted twice
    assert sum(c.component == "gpu" for c in summary.components) >= 1
    assert not job.nodes_lost


def test_a_node_that_dies_keeps_what_was_recorded(ray_cluster: Any, tmp_path: Any) -> None:
    from carbonledger.integrations.ray import RayClusterTracker
    from carbonledger.ledger import open_ledger

    ledger = open_ledger(str(tmp_path / "driver.sqlite"))
    worker = next(n for n in ray_cluster.worker_nodes)
    job = RayClusterTracker(
        "ray-job", ledger=ledger, sensors=node_sensors, poll_s=60, interval_s=0.2,
        grid_g_per_kwh=100,
    )  # fmt: skip
    job.start()
    time.sleep(1.0)
    job.collect()
    before = ledger.summary(job.run_id).energy_j
    victim_host = next(h for nid, (h, _) in job._actors.items() if nid == worker.node_id)
    # a node lost for good: its raylet and every process on it (the tracker's worker too)
    import psutil

    raylet = worker.all_processes["raylet"][0].process.pid
    on_node = psutil.Process(raylet).children(recursive=True)
    ray_cluster.remove_node(worker, allow_graceful=False)
    for proc in on_node:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    time.sleep(0.5)
    job.collect()
    after_loss = ledger.summary(job.run_id)
    summary = job.stop()
    assert worker.node_id in job.nodes_lost
    assert after_loss.energy_j >= before
    assert summary.energy_j >= before
    lost = [c for c in summary.components if c.host == victim_host]
    assert lost and all(c.energy_j > 0 for c in lost)
    members = {m["host"]: m for m in summary.extra["members"]}
    assert members[victim_host]["status"] == "interrupted"
    assert all(m["status"] == "completed" for h, m in members.items() if h != victim_host)
    assert ledger.run_record(job.run_id).meta["ray_nodes_lost"] == [victim_host]
    ledger.close()


def test_train_workers_count_their_gpus_nodes_the_rest(ray_cluster: Any, tmp_path: Any) -> None:
    import ray

    from carbonledger.integrations.ray import RayClusterTracker

    ledger = str(tmp_path / "shared.sqlite")  # every node of this one-machine cluster reaches it
    job = RayClusterTracker(
        "ray-train", ledger=ledger, sensors=node_sensors, node_gpus=False, poll_s=0.5,
        interval_s=0.2, grid_g_per_kwh=100,
    )  # fmt: skip
    with job:

        @ray.remote(num_cpus=0, runtime_env=job.runtime_env())
        def train_loop_per_worker(path: str, k: int) -> float:
            from carbonledger.integrations.ray import train_worker_tracker

            sensors = node_sensors("worker", f"{k}" * 8)
            with train_worker_tracker(path, sensors=sensors, grid_g_per_kwh=100) as run:
                time.sleep(0.5)
            assert [s.component for s in run.sensors] == ["gpu"]
            return run.summary().energy_j

        worker_j = ray.get([train_loop_per_worker.remote(ledger, k) for k in (1, 2)])
    summary = job.summary()
    node_j = sum(_device_totals(s) for s in job.node_summaries.values())
    assert all(c["component"] != "gpu" for s in job.node_summaries.values()
               for c in s["components"])  # fmt: skip
    assert summary.energy_j == pytest.approx(node_j + sum(worker_j))
    assert summary.status == "completed"


def test_a_node_that_joins_mid_run_is_tracked(ray_cluster: Any, tmp_path: Any) -> None:
    from carbonledger.integrations.ray import RayClusterTracker

    job = RayClusterTracker(
        "ray-job", ledger=str(tmp_path / "driver.sqlite"), sensors=node_sensors, poll_s=0.3,
        interval_s=0.2, grid_g_per_kwh=100,
    )  # fmt: skip
    with job:
        before = set(job.tracked_hosts)
        node = ray_cluster.add_node(num_cpus=1, object_store_memory=80 * 1024**2)
        ray_cluster.wait_for_nodes()
        deadline = time.monotonic() + 60
        while len(job.tracked_hosts) == len(before) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    assert node.node_id in job.node_summaries  # its tracker was placed, ran and stopped
    summary = job.summary()
    new_host = next(h for h in summary.hosts if h.endswith(node.node_id[:8]))
    assert new_host not in before
    assert any(c.host == new_host and c.energy_j > 0 for c in summary.components)
