"""Parameter counts from architecture, FLOP counts, recomputation factors."""

from __future__ import annotations

import pytest

from carbonledger.errors import InputError
from carbonledger.predict import (
    Architecture,
    MoE,
    attention_flops_per_token,
    inference_flops_per_token,
    recompute_factor,
    training_flops,
)

LLAMA2_7B = Architecture(
    layers=32,
    hidden_size=4096,
    ffn_size=11008,
    gated_ffn=True,
    heads=32,
    vocab_size=32000,
    sequence_length=4096,
    tied_embeddings=False,
)


def test_llama2_7b_shape_gives_its_published_count() -> None:
    # Touvron et al. 2023: 6,738,415,616 parameters
    assert LLAMA2_7B.counts().total == 6_738_415_616
    assert LLAMA2_7B.counts().active == LLAMA2_7B.counts().total


def test_gpt3_shape_gives_174_6_billion() -> None:
    gpt3 = Architecture(
        layers=96, hidden_size=12288, vocab_size=51200, heads=96, learned_positions=True
    )
    assert gpt3.counts().total == pytest.approx(174.6e9, rel=1e-3)


def test_moe_total_and_active() -> None:
    arch = Architecture(
        layers=32,
        hidden_size=4096,
        ffn_size=14336,
        gated_ffn=True,
        heads=32,
        kv_heads=8,
        vocab_size=32000,
        tied_embeddings=False,
        moe=MoE(experts=8, experts_per_token=2),
    )
    c = arch.counts()
    assert c.total == pytest.approx(46.7e9, rel=2e-3)  # Mixtral 8x7B: 46.7B total
    assert c.active == pytest.approx(12.9e9, rel=2e-3)  # 12.9B active
    half = Architecture(**{**arch.to_dict(), "moe": MoE(8, 2, layer_share=0.5)})
    assert c.active < half.counts().total < c.total


def test_gqa_tied_and_gated_change_counts_as_expected() -> None:
    base = Architecture(layers=2, hidden_size=256, vocab_size=1000, heads=4)
    d = 256
    # attention 4 d^2, ffn 2 d 4d, norms 2d per layer; embedding V d; final norm d
    assert base.counts().total == 2 * (4 * d * d + 8 * d * d + 2 * d) + 1000 * d + d
    gqa = Architecture(layers=2, hidden_size=256, vocab_size=1000, heads=4, kv_heads=1)
    assert gqa.counts().total < base.counts().total
    untied = Architecture(layers=2, hidden_size=256, vocab_size=1000, tied_embeddings=False)
    assert untied.counts().total - base.counts().total == 1000 * d
    gated = Architecture(layers=2, hidden_size=256, vocab_size=1000, heads=4, gated_ffn=True)
    assert gated.counts().total - base.counts().total == 2 * d * 4 * d


@pytest.mark.parametrize(
    "kwargs",
    [
        {"layers": 0, "hidden_size": 8, "vocab_size": 8},
        {"layers": 2, "hidden_size": -8, "vocab_size": 8},
        {"layers": 2, "hidden_size": 8, "vocab_size": 8, "heads": 2, "kv_heads": 4},
    ],
)
def test_bad_architecture_is_an_input_error(kwargs: dict[str, int]) -> None:
    with pytest.raises(InputError):
        Architecture(**kwargs)  # type: ignore[arg-type]


def test_bad_moe_is_an_input_error() -> None:
    with pytest.raises(InputError, match="cannot exceed"):
        MoE(experts=2, experts_per_token=4)
    with pytest.raises(InputError):
        MoE(experts=8, experts_per_token=2, layer_share=1.5)


def test_from_dict_rejects_unknown_keys() -> None:
    with pytest.raises(InputError, match="unknown architecture key"):
        Architecture.from_dict({"layers": 2, "hidden_size": 8, "vocab_size": 8, "depth": 3})
    arch = Architecture.from_dict(
        {"layers": 2, "hidden_size": 8, "vocab_size": 8, "moe": {"experts": 4}}
    )
    assert arch.moe == MoE(4, 2, 1.0)


def test_flop_counts() -> None:
    assert training_flops(7e9, 2e12) == 6 * 7e9 * 2e12
    assert inference_flops_per_token(7e9) == 14e9
    assert recompute_factor("none") == 1.0
    assert recompute_factor("full") == pytest.approx(4 / 3)
    assert recompute_factor("selective") == pytest.approx(1.03)
    sel = recompute_factor("selective", architecture=LLAMA2_7B, active_params=6.74e9)
    expected = 1 + 4 * 32 * 4096 * 4096 / (6 * 6.74e9)
    assert sel == pytest.approx(expected)
    assert attention_flops_per_token(LLAMA2_7B, context=1024) == 4 * 32 * 1024 * 4096
    with pytest.raises(InputError, match="recompute must be one of"):
        recompute_factor("some")
