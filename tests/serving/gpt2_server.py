"""A small real model behind an OpenAI-compatible FastAPI app, written for the end-to-end test.

A GPT-2 built from ``GPT2Config(n_layer=1, n_head=2, n_embd=32, vocab_size=100)`` (random
weights, seeded: greedy decoding is deterministic) generates on the CPU. Text becomes token
ids one character each (``ord(c) % 100``); ids become lowercase letters. The app serves
``/v1/completions`` and ``/v1/chat/completions`` (streaming or not, with the final usage chunk
when asked) and exports vLLM's metrics on ``/metrics`` with vLLM's names, labels and timing
rules: prompt tokens counted at prefill, generated tokens at each step, finished requests and
their prefill/decode seconds at the end (prometheus_client, as vLLM does).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import Request  # at module level: FastAPI reads the handlers' annotations

MODEL = "tiny-gpt2"


def build_app() -> Any:
    import torch
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse, Response, StreamingResponse
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        Counter,
        Gauge,
        Histogram,
        generate_latest,
    )
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = GPT2LMHeadModel(
        # the special tokens inside the 100-token vocabulary (nothing stops at them here)
        GPT2Config(n_layer=1, n_head=2, n_embd=32, vocab_size=100, bos_token_id=0, eos_token_id=0)
    ).eval()
    lock = threading.Lock()  # one generation at a time, as one GPU stream would
    # the KV cache's name: ``cache`` in transformers 5, ``past_key_values`` before
    import inspect

    cache_name = (
        "cache" if "cache" in inspect.signature(model.forward).parameters else ("past_key_values")
    )

    registry = CollectorRegistry()
    labels = ["model_name", "engine"]
    prompt_tokens = Counter("vllm:prompt_tokens", "Prefill tokens.", labels, registry=registry)
    generation_tokens = Counter(
        "vllm:generation_tokens", "Generation tokens.", labels, registry=registry
    )
    success = Counter(
        "vllm:request_success", "Finished.", [*labels, "finished_reason"], registry=registry
    )
    running = Gauge("vllm:num_requests_running", "Running.", labels, registry=registry)
    prefill_time = Histogram(
        "vllm:request_prefill_time_seconds", "Prefill s.", labels, registry=registry
    )
    decode_time = Histogram(
        "vllm:request_decode_time_seconds", "Decode s.", labels, registry=registry
    )
    me = (MODEL, "0")

    def tokenize(text: str) -> list[int]:
        return [ord(c) % 100 for c in text] or [0]

    def generate(ids: list[int], max_tokens: int) -> Iterator[int]:
        """Greedy tokens one by one; the metrics move as vLLM's do."""
        running.labels(*me).inc()
        try:
            with lock, torch.no_grad():
                t0 = time.perf_counter()
                out = model(torch.tensor([ids]), use_cache=True)
                prompt_tokens.labels(*me).inc(len(ids))
                t1 = time.perf_counter()
                past = out[cache_name]
                token = int(out.logits[0, -1].argmax())
                for i in range(max_tokens):
                    generation_tokens.labels(*me).inc()
                    yield token
                    if i + 1 == max_tokens:
                        break
                    out = model(torch.tensor([[token]]), use_cache=True, **{cache_name: past})
                    past = out[cache_name]
                    token = int(out.logits[0, -1].argmax())
                t2 = time.perf_counter()
            prefill_time.labels(*me).observe(t1 - t0)
            decode_time.labels(*me).observe(t2 - t1)
            success.labels(*me, "length").inc()
        finally:
            running.labels(*me).dec()

    def text_of(token: int) -> str:
        return chr(97 + token % 26)

    app = FastAPI()

    async def complete(request: Request, chat: bool) -> Response:
        body = await request.json()
        if chat:
            prompt = "".join(str(m.get("content", "")) for m in body.get("messages", []))
        else:
            prompt = str(body.get("prompt", ""))
        ids = tokenize(prompt)
        max_tokens = int(body.get("max_tokens") or 16)
        rid = f"cmpl-{uuid.uuid4().hex[:8]}"
        usage = {
            "prompt_tokens": len(ids),
            "completion_tokens": max_tokens,
            "total_tokens": len(ids) + max_tokens,
        }

        def choice(text: str, finished: bool) -> dict[str, Any]:
            reason = "length" if finished else None
            if chat:
                return {"index": 0, "delta": {"content": text}, "finish_reason": reason}
            return {"index": 0, "text": text, "finish_reason": reason}

        if not body.get("stream"):
            from starlette.concurrency import run_in_threadpool

            tokens = await run_in_threadpool(lambda: list(generate(ids, max_tokens)))
            text = "".join(text_of(t) for t in tokens)
            answer = {
                "id": rid,
                "object": "chat.completion" if chat else "text_completion",
                "model": MODEL,
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}}
                    if chat
                    else {"index": 0, "text": text, "finish_reason": "length"}
                ],
                "usage": usage,
            }
            return JSONResponse(answer)
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def events() -> Iterator[bytes]:  # iterated in a thread by Starlette
            for i, token in enumerate(generate(ids, max_tokens)):
                chunk = {"id": rid, "model": MODEL, "choices": [choice(text_of(token), False)]}
                if i + 1 == max_tokens:
                    chunk["choices"] = [choice(text_of(token), True)]
                yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
            if include_usage:
                tail = {"id": rid, "model": MODEL, "choices": [], "usage": usage}
                yield b"data: " + json.dumps(tail).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/completions")
    async def completions(request: Request) -> Response:
        return await complete(request, chat=False)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> Response:
        return await complete(request, chat=True)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
