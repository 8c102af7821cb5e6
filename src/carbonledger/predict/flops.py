"""Floating-point operation counts of training and inference.

* training: ``6 N D`` model FLOPs for ``N`` active parameters and ``D`` tokens (forward
  ``2 N`` per token, backward ``4 N``; Kaplan et al. 2020, Hoffmann et al. 2022);
* inference: ``2 N`` per token processed (prompt or generated);
* activation recomputation makes the hardware run more FLOPs than the model needs:
  ``full`` recomputes each layer's forward pass in the backward pass (hardware FLOPs =
  ``8 N D``, factor 4/3); ``selective`` recomputes only the attention scores
  (Korthikanti et al. 2022), adding ``4 S w`` per token and layer to ``6 N``.

Attention-score FLOPs (``QK^T`` and the weighted sum: ``2 * 2 S w`` forward per token and
layer for context ``S`` and attention width ``w``) are not part of ``6 N D``; they are
available from :func:`attention_flops_per_token` for those who want them, and stay out
of the estimator because the calibration runs' utilisation was computed without them.
"""

from __future__ import annotations

from typing import Literal

from carbonledger.errors import InputError
from carbonledger.predict.params import Architecture

__all__ = [
    "RECOMPUTE_MODES",
    "SELECTIVE_DEFAULT_FACTOR",
    "Recompute",
    "attention_flops_per_token",
    "inference_flops_per_token",
    "recompute_factor",
    "training_flops",
]

Recompute = Literal["none", "selective", "full"]
RECOMPUTE_MODES: tuple[Recompute, ...] = ("none", "selective", "full")

#: selective recomputation's FLOP overhead when the architecture is unknown: the middle of
#: the 1-5% that 4 S w L / 6 N gives for GPT-3 (0.9%) and Llama-2-7B at S=4096 (5.3%)
SELECTIVE_DEFAULT_FACTOR = 1.03


def training_flops(active_params: float, tokens: float) -> float:
    """Model FLOPs of training: ``6 * active_params * tokens``."""
    return 6.0 * active_params * tokens


def inference_flops_per_token(active_params: float) -> float:
    """Model FLOPs of one token through the model (prompt or generated): ``2 * active_params``."""
    return 2.0 * active_params


def attention_flops_per_token(architecture: Architecture, context: int | None = None) -> float:
    """Forward attention-score FLOPs per token: ``4 * layers * context * attention_width``
    (``context`` defaults to the architecture's sequence length)."""
    s = architecture.sequence_length if context is None else context
    return 4.0 * architecture.layers * s * architecture.attention_width


def recompute_factor(
    mode: str, *, architecture: Architecture | None = None, active_params: float | None = None
) -> float:
    """Hardware FLOPs / model FLOPs for an activation-recomputation ``mode``."""
    if mode == "none":
        return 1.0
    if mode == "full":
        return 4.0 / 3.0
    if mode == "selective":
        if architecture is None or not active_params:
            return SELECTIVE_DEFAULT_FACTOR
        return 1.0 + attention_flops_per_token(architecture) / (6.0 * active_params)
    raise InputError(f"recompute must be one of {', '.join(RECOMPUTE_MODES)}; got {mode!r}")
