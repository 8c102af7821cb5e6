"""The serving sidecar on a real engine and a real GPU, as one prepared script (~5 minutes).

    python scripts/validate_serving.py --model /models/opt-125m [--gpus 0] [--seconds 60]
    python scripts/validate_serving.py --engine-url http://127.0.0.1:8000 --gpus 0   # running

1. Starts vLLM's OpenAI server on the model (``python -m vllm.entrypoints.openai.api_server``,
   a local path: GPU hosts lent for validation have no network), unless ``--engine-url``
   names one already running with nothing else sending it requests.
2. Reads each of the engine's GPUs' NVML total-energy counter directly (pynvml, no
   carbonledger code) just before the sidecar starts and just after it exits.
3. Runs ``carbonledger serving --engine vllm --proxy ENGINE --listen ... --interval 5 --json
   --gpus G`` for the whole test: two idle intervals, ``--seconds`` of load from
   ``--concurrency`` clients through the proxy (completions of ``--max-tokens`` tokens, half
   of them streamed with their usage chunk), two idle intervals.
4. Prints one JSON object (and writes ``--out``): the sidecar's J per output token, per input
   token, per request, its prefill/decode split, idle power, against the references: the GPU
   energy from NVML over the same time, the tokens the clients were answered, and the sum of
   the ``energy_j`` the proxy put in the responses against the sidecar's busy energy.

Pass if: the sidecar's GPU energy is within 2 % of NVML's (plus its own start-up at idle
power), its token counts equal the clients', and the proxy's charges sum to within 10 % of
the busy energy. Needs the NVIDIA driver, nvidia-ml-py, vLLM and httpx. See docs/validation.md.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout_s: float) -> None:
    import httpx

    end = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > end:
            raise SystemExit(f"{url} did not answer within {timeout_s:g} s")
        time.sleep(1)


def nvml_energy_j(gpus: list[str]) -> dict[str, float]:
    """Each GPU's total-energy counter (J), read with pynvml directly; ``gpus`` are indices
    or UUIDs as CUDA_VISIBLE_DEVICES lists them."""
    import pynvml

    pynvml.nvmlInit()
    try:
        out = {}
        for gpu in gpus:
            if gpu.startswith("GPU-"):
                handle = pynvml.nvmlDeviceGetHandleByUUID(gpu)
            else:
                handle = pynvml.nvmlDeviceGetHandleByIndex(int(gpu))
            out[gpu] = pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) / 1e3  # mJ -> J
        return out
    finally:
        pynvml.nvmlShutdown()


def load(proxy: str, seconds: float, concurrency: int, max_tokens: int) -> list[dict[str, Any]]:
    """``concurrency`` clients sending completions through the proxy for ``seconds``; each
    answer's usage (tokens, energy_j)."""
    import httpx

    usages: list[dict[str, Any]] = []
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def client(k: int) -> None:
        with httpx.Client(base_url=proxy, timeout=120) as http:
            i = 0
            while time.monotonic() < end:
                i += 1
                body: dict[str, Any] = {
                    "model": MODEL_NAME,
                    "prompt": f"Client {k}, request {i}: tell a long story about energy. " * 4,
                    "max_tokens": max_tokens,
                    "ignore_eos": True,
                    "temperature": 0.0,
                }
                if i % 2:
                    answer = http.post("/v1/completions", json=body).json()
                    usage = answer["usage"]
                else:
                    body.update(stream=True, stream_options={"include_usage": True})
                    usage = {}
                    with http.stream("POST", "/v1/completions", json=body) as r:
                        for line in r.iter_lines():
                            if line.startswith("data: {"):
                                chunk = json.loads(line[6:])
                                if chunk.get("usage") and not chunk.get("choices"):
                                    usage = chunk["usage"]
                with lock:
                    usages.append(usage)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return usages


MODEL_NAME = ""

#: the sidecar's totals printed beside the references
REPORTED = (
    "output_tokens",
    "input_tokens",
    "requests",
    "energy_j",
    "busy_energy_j",
    "idle_energy_j",
    "idle_power_w",
    "unattributed_energy_j",
    "j_per_output_token",
    "j_per_input_token",
    "j_per_request",
    "prefill_j_per_input_token",
    "decode_j_per_output_token",
    "co2e_g_per_1k_output_tokens",
    "measured_share",
    "scrapes_failed",
)


def main(argv: list[str] | None = None) -> int:
    global MODEL_NAME
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="a local model path for vLLM (unless --engine-url)")
    parser.add_argument(
        "--engine-url", help="a running engine's OpenAI-compatible server, http://host:port"
    )
    parser.add_argument(
        "--engine", default="vllm", choices=("vllm", "tgi", "sglang"), help="with --engine-url"
    )
    parser.add_argument("--gpus", default=os.environ.get("CUDA_VISIBLE_DEVICES", "0"))
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    gpus = [g.strip() for g in args.gpus.split(",") if g.strip()]
    engine: subprocess.Popen[bytes] | None = None
    if args.engine_url:
        engine_url = args.engine_url.rstrip("/")
    else:
        if not args.model or args.engine != "vllm":
            parser.error("give --model (a local path; vLLM is started) or --engine-url")
        port = free_port()
        engine_url = f"http://127.0.0.1:{port}"
        engine = subprocess.Popen(
            [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", args.model,
             "--port", str(port), "--gpu-memory-utilization", "0.5", "--disable-log-requests"],
            env={**os.environ, "CUDA_VISIBLE_DEVICES": args.gpus},
        )  # fmt: skip
    try:
        wait_ready(engine_url + "/v1/models", 300)
        import httpx

        MODEL_NAME = httpx.get(engine_url + "/v1/models", timeout=10).json()["data"][0]["id"]
        listen = free_port()
        proxy = f"http://127.0.0.1:{listen}"
        idle_s = 2 * args.interval
        duration = idle_s + args.seconds + idle_s + 2 * args.interval
        before = nvml_energy_j(gpus)
        t0 = time.monotonic()
        sidecar = subprocess.Popen(
            [sys.executable, "-m", "carbonledger", "serving", "--engine", args.engine,
             "--proxy", engine_url, "--listen", f"127.0.0.1:{listen}", "--interval",
             str(args.interval), "--duration", str(duration), "--gpus", args.gpus,
             "--json", "--no-ledger"],
            stdout=subprocess.PIPE,
        )  # fmt: skip
        wait_ready(proxy + "/healthz", 60)
        time.sleep(idle_s)
        t_load = time.monotonic()
        usages = load(proxy, args.seconds, args.concurrency, args.max_tokens)
        load_s = time.monotonic() - t_load
        out, _ = sidecar.communicate(timeout=duration + 120)
        after = nvml_energy_j(gpus)
        wall_s = time.monotonic() - t0
    finally:
        if engine is not None:
            engine.terminate()
            engine.wait(60)
    totals = json.loads(out.decode().strip().splitlines()[-1])
    nvml_j = sum(after[g] - before[g] for g in gpus)
    sidecar_gpu_j = sum(c["energy_j"] for c in totals["components"] if c["component"] == "gpu")
    out_tokens = sum(u.get("completion_tokens", 0) for u in usages)
    in_tokens = sum(u.get("prompt_tokens", 0) for u in usages)
    charged = [u["energy_j"] for u in usages if u.get("energy_j") is not None]
    idle_w = totals["idle_power_w"] or 0.0
    result = {
        "gpus": gpus,
        "engine_url": engine_url,
        "model": MODEL_NAME,
        "load_s": load_s,
        "wall_s": wall_s,
        "requests_answered": len(usages),
        "sidecar": {key: totals[key] for key in REPORTED},
        "reference": {
            "nvml_gpu_energy_j": nvml_j,
            "sidecar_gpu_energy_j": sidecar_gpu_j,
            "client_output_tokens": out_tokens,
            "client_input_tokens": in_tokens,
            "nvml_j_per_output_token_over_the_run": nvml_j / out_tokens if out_tokens else None,
            "proxy_charged_j": sum(charged),
            "proxy_uncharged_requests": len(usages) - len(charged),
        },
        "checks": {
            # NVML's window includes the sidecar's start-up and exit, at about idle power
            "gpu_energy_within_2pct": abs(sidecar_gpu_j - nvml_j)
            <= 0.02 * nvml_j + idle_w * max(0.0, wall_s - totals["duration_s"]),
            "tokens_equal": totals["output_tokens"] == out_tokens
            and totals["input_tokens"] == in_tokens,
            "proxy_within_10pct": bool(charged)
            and abs(sum(charged) - totals["busy_energy_j"]) <= 0.10 * totals["busy_energy_j"],
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0 if all(result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
