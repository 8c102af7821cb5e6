"""A real multi-node Ray cluster on this machine, kept on the loopback address.

``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` must be set before ``import ray`` (by default Ray binds
to the machine's external interface). One cluster per test module; Ray's processes, and the
agents a killed driver leaves behind, are stopped by their process ids at teardown.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib.util import find_spec
from typing import Any

import pytest

os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

OBJECT_STORE_B = 80 * 1024**2


def ray_processes(cluster: Any) -> set[int]:
    """The process ids of every Ray process of ``cluster`` and their children."""
    import psutil

    pids: set[int] = set()
    for node in cluster.list_all_nodes():
        for infos in node.all_processes.values():
            for info in infos:
                pids.add(info.process.pid)
    for pid in list(pids):
        try:
            pids.update(c.pid for c in psutil.Process(pid).children(recursive=True))
        except psutil.NoSuchProcess:
            continue
    return pids


def _stop_pids(pids: set[int]) -> None:
    import psutil

    alive = []
    for pid in pids:
        try:
            alive.append(psutil.Process(pid))
        except psutil.NoSuchProcess:
            continue
    for proc in alive:
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=10)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Any]:
    """A head and two worker nodes (one CPU each), with the driver connected."""
    if find_spec("ray") is None:
        pytest.skip("Ray is not installed: pip install 'carbonledger[ray]' (or the dev extra)")
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "object_store_memory": OBJECT_STORE_B,
            "include_dashboard": False,
        },
    )
    pids: set[int] = set()
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1, object_store_memory=OBJECT_STORE_B)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
        pids = ray_processes(cluster)
        yield cluster
    finally:
        pids |= ray_processes(cluster)
        ray.shutdown()
        cluster.shutdown()
        _stop_pids(pids)


@pytest.fixture
def ray_pids(ray_cluster: Any) -> set[int]:
    """The process ids of the cluster's Ray processes now."""
    return ray_processes(ray_cluster)
