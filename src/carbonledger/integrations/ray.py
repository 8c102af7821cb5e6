"""Track a Ray job across every node of the cluster as ONE run (``pip install carbonledger[ray]``).

::

    import ray
    from carbonledger.integrations.ray import RayClusterTracker

    ray.init()
    with RayClusterTracker(project="llm", ledger="postgresql://ledger/carbon") as job:
        ray.get([train_shard.remote(i) for i in range(64)])
    print(job.summary())

One tracker per node, placed there with node affinity (an actor using no CPU), measures that
node's host-wide devices (CPU packages, RAM) once and, unless ``node_gpus=False``, its GPUs;
every tracker joins the driver's run. With a shared ledger (a ``postgresql://`` URL and
``collect=False``, the default for such a URL) the node trackers write into it directly. Without
one, the node trackers write into memory and the driver collects their records every
``poll_s`` seconds and appends them to its own ledger (the signed batches, unchanged).
Nodes that join mid-run get a tracker at the next poll; a node that disappears is settled as
``interrupted`` (signed by the driver) with its energy up to its last collected sample, and
named in the run's metadata (``ray_nodes_lost``).

``ray`` is imported inside the functions that need it: importing this module costs nothing.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from carbonledger.errors import InputError
from carbonledger.events import SignedBatch
from carbonledger.ledger import Ledger
from carbonledger.models import ComponentEnergy, Sample, SensorInfo

if TYPE_CHECKING:
    from types import TracebackType

    from carbonledger.models import RunSummary
    from carbonledger.run import Tracker
    from carbonledger.sensors import Sensor

__all__ = ["RayClusterTracker", "SensorFactory", "node_host", "train_worker_tracker"]

#: makes the sensors of one node: called on that node with (host label, Ray node id)
SensorFactory = Callable[[str, str], Sequence["Sensor"]]


def node_host(hostname: str, node_id: str) -> str:
    """The host label of a Ray node: its host name and the start of its node id (several Ray
    nodes may share a machine, or a host name)."""
    return f"{hostname}:{node_id[:8]}"


def _require_ray() -> Any:
    from importlib.util import find_spec

    if find_spec("ray") is None:
        raise InputError("the Ray integration needs Ray: pip install 'carbonledger[ray]'")
    import ray

    if not ray.is_initialized():
        raise InputError("Ray is not initialised: call ray.init() before starting the tracker")
    return ray


class _NodeTracker:
    """The tracker of one node (a Ray actor: see :meth:`RayClusterTracker._place`)."""

    def __init__(
        self,
        run_id: str,
        host: str,
        node_id: str,
        ledger_target: str | None,
        factory: SensorFactory | None,
        options: dict[str, Any],
    ) -> None:
        from carbonledger.run import Tracker

        self._collector = CollectingLedger()
        ledger: Any = self._collector if ledger_target is None else ledger_target
        sensors = list(factory(host, node_id)) if factory is not None else None
        if sensors is not None and options.get("gpu") is False:  # the workers count them
            sensors = [s for s in sensors if s.info.component != "gpu"]
        self._tracker = Tracker(
            run_id=run_id, host=host, ledger=ledger, sensors=sensors, handle_signals=False,
            scope="machine", **options,
        )  # fmt: skip
        self._tracker.start()

    def drain(self) -> list[dict[str, str]]:
        """A sample now, and the signed batches written since the last drain."""
        self._tracker.flush()
        return self._collector.take()

    def stop(self, status: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
        summary = self._tracker.stop(status)  # type: ignore[arg-type]
        return summary.to_dict(), self._collector.take()


class RayClusterTracker:
    """One run across every node of a Ray cluster. Arguments are :class:`Tracker`'s, plus:

    :param ledger: where the run is recorded (a path, a ``postgresql://`` URL, a Ledger)
    :param collect: True: the driver collects the nodes' records and writes them (no shared
        database needed); False: every node writes into ``ledger`` itself (it must be a URL
        all nodes reach). Default: False for a ``postgresql://`` URL, else True.
    :param sensors: a :data:`SensorFactory` making each node's sensors (tests, custom
        hardware); default: discovery on each node, in machine scope
    :param node_gpus: the node trackers measure the node's GPUs (False: the training workers
        do, with :func:`train_worker_tracker`, over a shared ledger)
    :param poll_s: seconds between the driver's collections and looks for new nodes
    """

    def __init__(
        self,
        project: str | None = None,
        experiment: str | None = None,
        *,
        ledger: Ledger | str | os.PathLike[str] | None = None,
        collect: bool | None = None,
        sensors: SensorFactory | None = None,
        node_gpus: bool = True,
        poll_s: float = 5.0,
        run_id: str | None = None,
        **options: Any,
    ) -> None:
        from carbonledger.ledger import is_postgres_url

        if poll_s <= 0:
            raise InputError(f"poll_s must be positive seconds, got {poll_s!r}")
        url = os.fspath(ledger) if isinstance(ledger, (str, os.PathLike)) else None
        self._collect = collect if collect is not None else not (url and is_postgres_url(url))
        if not self._collect and not (url and is_postgres_url(url)):
            raise InputError("collect=False needs a ledger every node reaches: a postgresql:// URL")
        self._ledger_arg, self._url = ledger, url
        self._factory, self._poll_s, self._run_id = sensors, poll_s, run_id
        self._names = (project, experiment)
        self._node_options = {k: v for k, v in options.items() if k not in ("host", "env")}
        self._node_options.update(project=project, experiment=experiment, gpu=node_gpus)
        self._options = options
        self._actors: dict[str, tuple[str, Any]] = {}  # node id -> (host, actor)
        self._logs: dict[str, MemberLog] = {}  # member id -> what was collected of it
        #: Ray node ids and host labels of the nodes lost during the run
        self.nodes_lost: list[str] = []
        self.hosts_lost: list[str] = []
        self.node_summaries: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._driver: Tracker | None = None
        self._ledger: Ledger | None = None
        self._owns_ledger = False
        self._final: RunSummary | None = None

    @property
    def run_id(self) -> str:
        assert self._driver is not None, "start() first"
        return self._driver.run_id

    @property
    def tracked_hosts(self) -> list[str]:
        """The host labels of the nodes being tracked now."""
        with self._lock:
            return [host for host, _ in self._actors.values()]

    def start(self) -> RayClusterTracker:
        """Open the run from the driver, place a tracker on every live node, start polling."""
        from carbonledger.ledger import open_ledger
        from carbonledger.run import Tracker

        ray = _require_ray()
        host = node_host(os.uname().nodename, ray.get_runtime_context().get_node_id())
        arg = self._ledger_arg
        if self._collect and (arg is None or isinstance(arg, (str, os.PathLike))):
            self._ledger, self._owns_ledger = open_ledger(arg), True
        elif self._collect and not isinstance(arg, (str, os.PathLike)):
            self._ledger = arg
        driver_ledger: Any = self._ledger if self._collect else self._url
        project, experiment = self._names
        self._driver = Tracker(
            project, experiment, run_id=self._run_id, ledger=driver_ledger, sensors=[],
            host=host, **self._options,
        )  # fmt: skip
        self._driver.start()
        self._place_new_nodes()
        self._thread = threading.Thread(target=self._loop, name="carbonledger-ray", daemon=True)
        self._thread.start()
        return self

    def _place_new_nodes(self) -> None:
        ray = _require_ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        remote = ray.remote(num_cpus=0, max_restarts=0, max_concurrency=2)(_NodeTracker)
        target = None if self._collect else self._url
        for node in ray.nodes():
            node_id = node["NodeID"]
            if not node.get("Alive") or node_id in self._actors or node_id in self.nodes_lost:
                continue
            host = node_host(str(node.get("NodeManagerHostname", "")), node_id)
            actor = remote.options(
                scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False)
            ).remote(self.run_id, host, node_id, target, self._factory, self._node_options)
            self._actors[node_id] = (host, actor)

    def _loop(self) -> None:
        while not self._stop.wait(self._poll_s):
            try:
                self.collect()
                with self._lock:
                    self._place_new_nodes()
            except Exception as exc:  # never stop polling: say so, try at the next poll
                import logging

                logging.getLogger("carbonledger").warning(
                    "carbonledger: Ray collection failed (%s: %s); retrying in %g s",
                    type(exc).__name__, exc, self._poll_s,
                )  # fmt: skip

    def collect(self) -> None:
        """Collect every node's records now (the driver's poll does it every ``poll_s``);
        nodes that no longer answer are recorded as lost."""
        ray = _require_ray()
        with self._lock:
            pending = {nid: actor.drain.remote() for nid, (_, actor) in self._actors.items()}
            for node_id, ref in pending.items():
                try:
                    lines = ray.get(ref, timeout=60)
                except Exception as exc:  # RayActorError, NodeDiedError, GetTimeoutError
                    self._lose(node_id, exc)
                    continue
                self._replay(lines)
            alive = {n["NodeID"] for n in ray.nodes() if n.get("Alive")}
            for node_id in [n for n in self._actors if n not in alive]:
                # the node is gone though its tracker still answered (its worker outlives the
                # node's raylet for a moment): what it sent is kept, the rest is lost
                _host, actor = self._actors[node_id]
                self._lose(node_id, RuntimeError("the cluster reports the node dead"))
                ray.kill(actor)

    def _replay(self, batches: list[dict[str, str]]) -> None:
        if not batches:
            return
        assert self._ledger is not None
        append_collected(batches, self._ledger, self._logs)

    def _lose(self, node_id: str, exc: BaseException) -> None:
        host, _ = self._actors.pop(node_id)
        self.nodes_lost.append(node_id)
        self.hosts_lost.append(host)
        reason = f"Ray node {host} left the cluster ({type(exc).__name__})"
        if self._ledger is not None:
            for log in [m for m in self._logs.values() if m.host == host and not m.finished]:
                log.settle_lost(self._ledger, reason)
        self._update_meta({"ray_nodes_lost": list(self.hosts_lost)})

    def _update_meta(self, meta: dict[str, Any]) -> None:
        from carbonledger.events import MetaUpdated
        from carbonledger.ledger import open_ledger

        if self._ledger is not None:
            self._ledger.record(self.run_id, [MetaUpdated(meta)])
            return
        assert self._url is not None
        ledger = open_ledger(self._url)
        try:
            ledger.record(self.run_id, [MetaUpdated(meta)])
        finally:
            ledger.close()

    def stop(self, status: str = "completed") -> RunSummary:
        """Stop every node's tracker, collect their last records, close the run."""
        ray = _require_ray()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            for node_id, (_host, actor) in list(self._actors.items()):
                try:
                    summary, lines = ray.get(actor.stop.remote(status), timeout=60)
                except Exception as exc:
                    self._lose(node_id, exc)
                    continue
                self.node_summaries[node_id] = summary
                self._replay(lines)
                ray.kill(actor)
            self._actors.clear()
        assert self._driver is not None
        self._driver.stop(status)  # type: ignore[arg-type]
        self._final = self.summary()
        if self._owns_ledger and self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        return self._final

    def summary(self) -> RunSummary:
        """The whole run's footprint, as the ledger adds it up (every node, each device once)."""
        from carbonledger.ledger import open_ledger

        if self._final is not None:
            return self._final
        if self._ledger is not None:
            return self._ledger.summary(self.run_id)
        assert self._url is not None
        ledger = open_ledger(self._url, read_only=True)
        try:
            return ledger.summary(self.run_id)
        finally:
            ledger.close()

    def runtime_env(self) -> dict[str, Any]:
        """A Ray ``runtime_env`` that makes workers join this run (``CARBONLEDGER_RUN_ID``)."""
        return {"env_vars": {"CARBONLEDGER_RUN_ID": self.run_id}}

    def __enter__(self) -> RayClusterTracker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop("completed" if exc_type is None else "failed")


def train_worker_tracker(ledger: str, **options: Any) -> Tracker:
    """A tracker for one Ray Train worker (call it inside ``train_loop_per_worker``): it
    joins the run named by ``CARBONLEDGER_RUN_ID`` (see :meth:`RayClusterTracker.runtime_env`)
    with its node's host label, and counts only the GPUs Ray gave it; the host-wide devices
    (CPU, RAM) stay with the node's tracker. ``ledger`` is the run's ledger as every node
    reaches it (a ``postgresql://`` URL, or a path on a shared file system). Start the cluster
    tracker with ``node_gpus=False``. Use it as a context manager.
    """
    ray = _require_ray()
    node_id = ray.get_runtime_context().get_node_id()
    if not os.environ.get("CARBONLEDGER_RUN_ID"):
        raise InputError(
            "CARBONLEDGER_RUN_ID is not set in this worker: pass "
            "runtime_env=job.runtime_env() to the trainer (or ray.init)"
        )
    from carbonledger.run import Tracker

    given = options.pop("sensors", None)
    if given is None:
        from carbonledger.sensors import discover

        given = discover(gpu=True).sensors
    sensors = [s for s in given if not s.info.host_wide]
    for sensor in given:
        if sensor.info.host_wide:
            sensor.close()
    host = node_host(os.uname().nodename, node_id)
    return Tracker(ledger=ledger, host=host, sensors=sensors, handle_signals=False, **options)


# --- the batches a node ships to the driver -------------------------------------------------


class CollectingLedger(Ledger):
    """A node's ledger: an in-memory one that also keeps every signed batch it takes, for the
    driver to collect and append to the run's ledger unchanged (the bytes the node signed)."""

    def __init__(self) -> None:
        from carbonledger.ledger.transports import MemoryTransport

        super().__init__(MemoryTransport(), signing_key=False)
        self._batches: list[dict[str, str]] = []
        self._batches_lock = threading.Lock()

    @property
    def location(self) -> str:
        return "collected by the Ray driver"

    def append(self, batches: Sequence[SignedBatch]) -> int:
        new = super().append(batches)
        with self._batches_lock:
            self._batches.extend(b.to_dict() for b in batches)
        return new

    def take(self) -> list[dict[str, str]]:
        """The batches taken since the last take (as :meth:`SignedBatch.to_dict`)."""
        with self._batches_lock:
            batches, self._batches = self._batches, []
        return batches


@dataclass
class MemberLog:
    """What the driver collected of one member: enough to settle it if its node is lost."""

    run_id: str
    member_id: str
    host: str
    started_unix_s: float
    infos: dict[str, SensorInfo] = field(default_factory=dict)
    last: dict[str, Sample] = field(default_factory=dict)
    last_seq: int = 0
    last_hash: str = ""
    last_time_s: float = 0.0
    finished: bool = False

    def settle_lost(self, ledger: Ledger, reason: str) -> None:
        """Record the member as interrupted (signed by the driver's key, naming the member's
        last collected batch) with each device's energy at its last sample."""
        from carbonledger.events import Settled

        components = []
        for device, sample in self.last.items():
            info = self.infos.get(device)
            components.append(
                ComponentEnergy(
                    component=sample.component,
                    device=device,
                    method=info.method if info else "unknown",
                    measured=info.measured if info else False,
                    energy_j=sample.energy_j,
                    duration_s=max(0.0, sample.time_unix_s - self.started_unix_s),
                    low_j=sample.low_j,
                    high_j=sample.high_j,
                    model=info.model if info else "",
                    host=self.host,
                )
            )
        if self.last_seq:
            settled = Settled(
                self.member_id, self.last_seq, self.last_hash, tuple(components),
                self.last_time_s, reason,
            )  # fmt: skip
            ledger.record(self.run_id, [settled])
        self.finished = True


def append_collected(
    batches: list[dict[str, str]], ledger: Ledger, logs: dict[str, MemberLog]
) -> None:
    """Append a node's collected batches to ``ledger`` (unchanged), and keep track in
    ``logs`` of what each member signed last."""
    from carbonledger.events import DevicesClaimed, MemberFinished, MemberJoined, SamplesAdded

    signed = [SignedBatch.from_dict(b) for b in batches]
    if not signed:
        return
    ledger.append(signed)
    for b in signed:
        batch = b.decode()
        for event in batch.events:
            if isinstance(event, MemberJoined):
                m = event.member
                logs[batch.member_id] = MemberLog(
                    batch.run_id, batch.member_id, m.host, m.started_unix_s
                )
        log = logs.get(batch.member_id)
        if log is None:
            continue
        log.last_seq, log.last_hash, log.last_time_s = batch.seq, b.hash, batch.time_unix_s
        for event in batch.events:
            if isinstance(event, DevicesClaimed):
                log.infos.update({i.device: i for i in event.devices})
            elif isinstance(event, SamplesAdded):
                log.last.update({s.device: s for s in event.samples})
            elif isinstance(event, MemberFinished):
                log.finished = True
