"""Parameter counts of a transformer from its architecture, dense or mixture-of-experts.

Per layer (hidden size ``d``, FFN size ``f``, ``h`` query heads and ``kv`` key/value heads
of size ``hd``)::

    attention  = d * hd * (2 h + 2 kv)          # Q and O: h heads, K and V: kv heads
    ffn        = m * d * f                      # m = 3 gated (SwiGLU/GeGLU), 2 ungated
    norms      = 2 d                            # two norm scales
    router     = d * E                          # MoE layers only, E experts

and once per model: the input embedding ``V d``, an output projection ``V d`` unless tied,
learned positions ``S d`` when used, a final norm ``d``. Biases are left out (< 0.1%).

A mixture-of-experts model has ``round(L * share)`` MoE layers whose FFN is replaced by
``E`` experts, ``k`` of which each token uses: the *total* count has ``E`` FFNs per MoE
layer, the *active* count (the one FLOPs scale with) has ``k``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from carbonledger.errors import InputError
from carbonledger.predict._check import positive_int, share

__all__ = ["Architecture", "MoE", "ParameterCounts"]


@dataclass(frozen=True, slots=True)
class MoE:
    """Mixture-of-experts layout: ``experts`` per MoE layer, ``experts_per_token`` used by
    each token (top-k), ``layer_share`` the share of layers that are MoE (1.0: every layer,
    0.5: every other layer)."""

    experts: int
    experts_per_token: int = 2
    layer_share: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "experts", positive_int(self.experts, "moe.experts"))
        k = positive_int(self.experts_per_token, "moe.experts_per_token")
        object.__setattr__(self, "experts_per_token", k)
        object.__setattr__(self, "layer_share", share(self.layer_share, "moe.layer_share"))
        if self.experts_per_token > self.experts:
            raise InputError(
                f"moe.experts_per_token ({self.experts_per_token}) cannot exceed "
                f"moe.experts ({self.experts})"
            )


@dataclass(frozen=True, slots=True)
class ParameterCounts:
    """``total``: every weight; ``active``: the weights one token uses (= total for a dense
    model); ``embedding``: input embedding, output projection and learned positions."""

    total: float
    active: float
    embedding: float

    @property
    def non_embedding(self) -> float:
        return self.total - self.embedding

    def to_dict(self) -> dict[str, float]:
        return {"total": self.total, "active": self.active, "embedding": self.embedding}


@dataclass(frozen=True, slots=True)
class Architecture:
    """A decoder-style transformer. ``ffn_size`` defaults to ``4 * hidden_size``;
    ``heads`` to ``hidden_size // 128``; ``kv_heads`` to ``heads`` (multi-head attention;
    fewer is grouped-query attention); ``head_dim`` to ``hidden_size // heads``.
    ``sequence_length`` sizes learned position embeddings (when ``learned_positions``)
    and the optional attention-score FLOPs."""

    layers: int
    hidden_size: int
    vocab_size: int
    ffn_size: int | None = None
    gated_ffn: bool = False
    heads: int | None = None
    kv_heads: int | None = None
    head_dim: int | None = None
    sequence_length: int = 2048
    tied_embeddings: bool = True
    learned_positions: bool = False
    moe: MoE | None = None

    def __post_init__(self) -> None:
        for field in ("layers", "hidden_size", "vocab_size", "sequence_length"):
            value = positive_int(getattr(self, field), f"architecture.{field}")
            object.__setattr__(self, field, value)
        for field in ("ffn_size", "heads", "kv_heads", "head_dim"):
            if getattr(self, field) is not None:
                value = positive_int(getattr(self, field), f"architecture.{field}")
                object.__setattr__(self, field, value)
        for field in ("gated_ffn", "tied_embeddings", "learned_positions"):
            if not isinstance(getattr(self, field), bool):
                raise InputError(f"architecture.{field} must be true or false")
        if self.kv_heads is not None and self.kv_heads > self.n_heads:
            raise InputError(
                f"architecture.kv_heads ({self.kv_heads}) cannot exceed heads ({self.n_heads})"
            )

    @property
    def n_heads(self) -> int:
        return self.heads if self.heads is not None else max(1, self.hidden_size // 128)

    @property
    def n_kv_heads(self) -> int:
        return self.kv_heads if self.kv_heads is not None else self.n_heads

    @property
    def d_head(self) -> int:
        return self.head_dim if self.head_dim is not None else self.hidden_size // self.n_heads

    @property
    def d_ffn(self) -> int:
        return self.ffn_size if self.ffn_size is not None else 4 * self.hidden_size

    @property
    def attention_width(self) -> int:
        """Width of the attention's query/output projection, ``heads * head_dim``."""
        return self.n_heads * self.d_head

    def counts(self) -> ParameterCounts:
        d = self.hidden_size
        attention = d * self.d_head * (2 * self.n_heads + 2 * self.n_kv_heads)
        ffn = (3 if self.gated_ffn else 2) * d * self.d_ffn
        per_layer = attention + 2 * d
        embedding = self.vocab_size * d
        if not self.tied_embeddings:
            embedding += self.vocab_size * d
        if self.learned_positions:
            embedding += self.sequence_length * d
        n_moe = round(self.layers * self.moe.layer_share) if self.moe else 0
        n_dense = self.layers - n_moe
        shared = embedding + d + self.layers * per_layer + n_dense * ffn
        if self.moe is None:
            return ParameterCounts(float(shared), float(shared), float(embedding))
        router = d * self.moe.experts
        total = shared + n_moe * (self.moe.experts * ffn + router)
        active = shared + n_moe * (self.moe.experts_per_token * ffn + router)
        return ParameterCounts(float(total), float(active), float(embedding))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Architecture:
        """Build from a mapping (a YAML spec); unknown keys are an InputError."""
        data = dict(data)
        moe = data.pop("moe", None)
        fields = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - fields)
        if unknown:
            raise InputError(
                f"unknown architecture key(s) {', '.join(unknown)}; known: {', '.join(sorted(fields))}"
            )
        moe_obj: MoE | None = None
        if moe is not None:
            if isinstance(moe, MoE):
                moe_obj = moe
            elif isinstance(moe, dict):
                moe_fields = set(MoE.__dataclass_fields__)
                bad = sorted(set(moe) - moe_fields)
                if bad:
                    raise InputError(
                        f"unknown moe key(s) {', '.join(bad)}; known: {', '.join(sorted(moe_fields))}"
                    )
                moe_obj = MoE(**moe)
            else:
                raise InputError(
                    "architecture.moe must be a mapping with experts, experts_per_token"
                )
        return cls(**data, moe=moe_obj)
