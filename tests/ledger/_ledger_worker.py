"""A process writing to a ledger as a tracker does (run by the multi-process tests): its events
in signed batches, one chain, appended with ``Ledger.append``.

usage: python _ledger_worker.py MODE LEDGER RUN_ID [BATCHES] [BATCH_SIZE]

MODE ``run``: open a run, write BATCHES x BATCH_SIZE samples, finish it.
MODE ``hang``: open a run, write BATCHES samples, print the energy of the last one once it
is committed (signed where it was made, like every batch), then wait to be killed.
MODE ``member``: join the shared run RUN_ID as one rank: count the host's CPU when this rank
wins the lease ``host:node:cpu``, and always its own GPU. BATCHES is the number of ranks and
BATCH_SIZE is replaced by a folder where ranks wait for each other before finishing.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from carbonledger.events import (
    DevicesClaimed,
    MemberChain,
    MemberFinished,
    MemberJoined,
    RunOpened,
    SamplesAdded,
)
from carbonledger.ledger import MemberRecord, RunRecord, open_ledger
from carbonledger.models import ComponentEnergy, Sample, SensorInfo


def main() -> None:
    mode, target, run_id = sys.argv[1:4]
    batches = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    size = int(sys.argv[5]) if len(sys.argv) > 5 and mode != "member" else 10
    led = open_ledger(target)
    now = time.time()
    member = f"{run_id}-{os.getpid()}"
    chain = MemberChain(run_id, member, led.signer())
    run = RunRecord(run_id, "mp", "exp", now, "process", "FR", "test", 50.0, "test", 1.0, "test")
    joined = MemberJoined(MemberRecord(member, run_id, "host", os.getpid(), now), 30.0)
    if mode == "member":
        counted = [ComponentEnergy("gpu", f"gpu:{os.getpid()}", "test", True, 100.0, 1.0)]
        # as a tracker: ask for the lease, then open (or join) the run in its first batch
        if led.acquire_lease(run_id, "host:node:cpu", member, 30.0):
            counted.append(ComponentEnergy("cpu", "cpu:package-0", "test", True, 10.0, 1.0))
        led.append([chain.make([RunOpened(run), joined])])
        barrier = Path(sys.argv[5])  # hold the lease until every rank has asked for it
        (barrier / str(os.getpid())).touch()
        deadline = time.monotonic() + 120
        while len(list(barrier.iterdir())) < batches and time.monotonic() < deadline:
            time.sleep(0.02)
        led.append([chain.make([MemberFinished("completed", tuple(counted), time.time())])])
        led.close()
        print(len(counted), flush=True)
        return
    devices = [f"cpu:core-{k}" for k in range(size)]
    claims = DevicesClaimed(tuple(SensorInfo("cpu", d, "test", True) for d in devices))
    led.append([chain.make([RunOpened(run), joined, claims])])
    energy = 0.0
    for i in range(batches):
        energy = float(i + 1)
        samples = tuple(Sample(now + i, "cpu", d, energy, 1.0) for d in devices)
        led.append([chain.make([SamplesAdded(samples)])])
    if mode == "hang":
        print(f"committed {energy}", flush=True)
        time.sleep(600)
        return
    comps = tuple(ComponentEnergy("cpu", d, "test", True, energy, float(batches)) for d in devices)
    led.append([chain.make([MemberFinished("completed", comps, time.time())])])
    led.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
