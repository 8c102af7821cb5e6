"""Predict: a training run's or a deployment's footprint before it runs, and a running
run's total from its first epochs. Pure functions; no hardware, no network.

* :func:`training` -> :class:`Estimate`: energy, device-hours, operational CO2e with an
  80% interval from priors fitted on published runs, embodied CO2e apart, assumptions;
  measured facts (device-hours, MFU, average power) replace priors and narrow it.
* :func:`inference` -> :class:`InferenceEstimate`: per 1,000 tokens, per request,
  deployment totals.
* :func:`forecast` -> :class:`Forecast`: the whole run from its measured windows.
* :func:`accelerator` / :func:`list_accelerators`: the hardware catalogue.
* :class:`Architecture` / :class:`MoE`: parameter counts from a model's shape.
* :func:`load_spec`: the YAML spec of ``carbonledger estimate``.
* :func:`fmt`: the number format of an estimate's text (3 significant figures).

The public surface is :data:`__all__`; the modules that hold it are internal.

The equations, constants, sources and validation are in docs/prediction.md.
"""

from __future__ import annotations

from carbonledger.predict.estimate import Estimate, fmt, training
from carbonledger.predict.flops import (
    attention_flops_per_token,
    inference_flops_per_token,
    recompute_factor,
    training_flops,
)
from carbonledger.predict.forecast import Forecast, forecast
from carbonledger.predict.hardware import Accelerator, accelerator, list_accelerators
from carbonledger.predict.inference import InferenceEstimate, inference
from carbonledger.predict.params import Architecture, MoE, ParameterCounts
from carbonledger.predict.priors import Prior, Priors, default_priors, fit_priors
from carbonledger.predict.spec import Spec, load_spec, parse_spec
from carbonledger.predict.whatif import compare_accelerators

__all__ = [
    "Accelerator",
    "Architecture",
    "Estimate",
    "Forecast",
    "InferenceEstimate",
    "MoE",
    "ParameterCounts",
    "Prior",
    "Priors",
    "Spec",
    "accelerator",
    "attention_flops_per_token",
    "compare_accelerators",
    "default_priors",
    "fit_priors",
    "fmt",
    "forecast",
    "inference",
    "inference_flops_per_token",
    "list_accelerators",
    "load_spec",
    "parse_spec",
    "recompute_factor",
    "training",
    "training_flops",
]
