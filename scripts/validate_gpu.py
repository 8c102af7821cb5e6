"""The trust issue's check on a real NVIDIA GPU, as one prepared script (under 5 minutes).

    python scripts/validate_gpu.py [--seconds 60] [--out results.json]

1. A bf16 matmul loop runs under ``carbonledger run --json``; beside it, this script reads the
   NVML total-energy counter directly (pynvml, no carbonledger code) just before and just
   after, and samples ``nvmlDeviceGetPowerUsage`` every 100 ms (power x time, trapezoids).
2. A second run, in this process, with two overlapping windows ("a" covers the whole loop,
   "b" its second half): b's energy must be less than a's, and a's within 2 % of the counter
   delta over the same interval.

It prints one JSON object (and writes it to ``--out``): every figure with how it was obtained.
Needs the NVIDIA driver, ``nvidia-ml-py`` and PyTorch with CUDA. See docs/validation.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any

WORKLOAD = """
import sys, time, torch
end = time.time() + float(sys.argv[1])
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
n = 0
while time.time() < end:
    for _ in range(20):
        a @ b
    torch.cuda.synchronize()
    n += 20
print("matmuls", n, file=sys.stderr)
"""


def _power_sampler(handle: Any, stop: threading.Event, out: list[tuple[float, float]]) -> None:
    import pynvml

    while not stop.is_set():
        out.append((time.monotonic(), pynvml.nvmlDeviceGetPowerUsage(handle) / 1000.0))
        stop.wait(0.1)


def _trapezoid_j(points: list[tuple[float, float]]) -> float:
    return sum((t1 - t0) * (p0 + p1) / 2 for (t0, p0), (t1, p1) in itertools.pairwise(points))


def run_under_cli(handle: Any, seconds: float) -> dict[str, Any]:
    import pynvml

    points: list[tuple[float, float]] = []
    stop = threading.Event()
    sampler = threading.Thread(target=_power_sampler, args=(handle, stop, points), daemon=True)
    before_mj = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    sampler.start()
    cmd = [sys.executable, "-m", "carbonledger", "run", "--json", "--no-ledger", "--grid", "0",
           "--interval", "1", "--", sys.executable, "-c", WORKLOAD, str(seconds)]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    after_mj = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    stop.set()
    sampler.join()
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    gpus = [c for c in summary["components"] if c["component"] == "gpu"]
    ours_j = sum(c["energy_j"] for c in gpus)
    counter_j = (after_mj - before_mj) / 1000.0
    return {
        "carbonledger_gpu_j": ours_j,
        "carbonledger_methods": sorted({c["method"] for c in gpus}),
        "nvml_counter_delta_j": counter_j,
        "nvml_counter_method": "nvmlDeviceGetTotalEnergyConsumption, before/after the CLI",
        "power_x_time_j": _trapezoid_j(points),
        "power_x_time_method": "nvmlDeviceGetPowerUsage every 100 ms, trapezoids",
        "gap_vs_counter_pct": 100.0 * (counter_j - ours_j) / counter_j if counter_j else None,
        "duration_s": summary["duration_s"],
    }


def overlapping_windows(handle: Any, seconds: float) -> dict[str, Any]:
    import pynvml
    import torch

    import carbonledger as cl

    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    with cl.Tracker("validate-gpu", grid_g_per_kwh=0, ledger=False) as run:
        before_mj = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        run.begin_window("a")
        end = time.time() + seconds
        half = time.time() + seconds / 2
        opened_b = False
        while time.time() < end:
            if not opened_b and time.time() >= half:
                run.begin_window("b")
                opened_b = True
            for _ in range(20):
                a @ b
            torch.cuda.synchronize()
        wb = run.end_window("b")
        wa = run.end_window("a")
        after_mj = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle)

    def gpu_j(w: Any) -> float:
        return float(sum(c.energy_j for c in w.components if c.component == "gpu"))

    counter_j = (after_mj - before_mj) / 1000.0
    return {
        "window_a_gpu_j": gpu_j(wa),
        "window_b_gpu_j": gpu_j(wb),
        "window_a_s": wa.duration_s,
        "window_b_s": wb.duration_s,
        "nvml_counter_delta_j": counter_j,
        "a_vs_counter_pct": 100.0 * (counter_j - gpu_j(wa)) / counter_j if counter_j else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    import pynvml

    pynvml.nvmlInit()
    handle = pynvml.nvmlDeviceGetHandleByIndex(0)
    result = {
        "gpu": pynvml.nvmlDeviceGetName(handle),
        "driver": pynvml.nvmlSystemGetDriverVersion(),
        "host": os.uname().nodename,
        "cli_run": run_under_cli(handle, args.seconds),
        "overlapping_windows": overlapping_windows(handle, min(args.seconds, 30.0)),
    }
    text = json.dumps(result, indent=2, default=str)
    print(text)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
