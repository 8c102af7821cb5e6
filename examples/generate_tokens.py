"""Energy per request and per output token of a generate loop (J/token, p50 / p90,
prefill vs decode), on a tiny randomly initialised GPT-2 (nothing downloaded).

    python examples/generate_tokens.py            # 32 requests of 64 new tokens
    python examples/generate_tokens.py --quick    # 4 requests of 8 new tokens

The figures of a real model on a GPU are in a very different range: see
docs/integrations.md for how they compare with published per-token figures.
"""

from __future__ import annotations

import argparse

import torch
import transformers

import carbonledger as cl
from carbonledger.integrations.serving import RequestMeter, RequestStats
from carbonledger.integrations.transformers import generate_measured


def main(argv: list[str] | None = None) -> RequestStats:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a reduced size, for tests")
    args = parser.parse_args(argv)
    requests, new_tokens, batch = (4, 8, 2) if args.quick else (32, 64, 4)
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        n_layer=2, n_head=2, n_embd=64, vocab_size=200, n_positions=128
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    with cl.Tracker(project="examples", experiment="generate") as run:
        meter = RequestMeter(run)
        for start in range(0, requests, batch):
            prompts = torch.randint(
                1, 200, (batch, 16), generator=torch.Generator().manual_seed(start)
            )
            generate_measured(
                model, meter, prompts, attention_mask=torch.ones_like(prompts),
                max_new_tokens=new_tokens, do_sample=False, pad_token_id=0,
            )  # fmt: skip
        stats = meter.log_to_tracker()
    assert stats.per_request_j is not None
    print(f"{stats.requests} requests, {stats.output_tokens} output tokens")
    print(f"J/request  p50 {stats.per_request_j.p50:.3g}  p90 {stats.per_request_j.p90:.3g}")
    if stats.per_output_token_j is not None:
        p = stats.per_output_token_j
        print(
            f"J/output token  p50 {p.p50:.3g}  p90 {p.p90:.3g}  all {stats.energy_per_output_token_j:.3g}"
        )
    print(
        f"prefill {stats.prefill_energy_per_input_token_j or 0:.3g} J/input token, "
        f"decode {stats.decode_energy_per_output_token_j or 0:.3g} J/output token, "
        f"idle {stats.idle_energy_j:.3g} J (in no request)"
    )
    return stats


if __name__ == "__main__":
    main()
