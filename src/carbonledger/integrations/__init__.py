"""Integrations with ML frameworks, experiment trackers and notebooks.

One module per framework, each imported only when you use it:

- :mod:`carbonledger.integrations.lightning`: PyTorch Lightning ``CarbonCallback``
- :mod:`carbonledger.integrations.transformers`: Hugging Face ``CarbonTrainerCallback`` and
  ``generate_measured`` (energy per request and per token of ``model.generate``)
- :mod:`carbonledger.integrations.keras`: Keras 3 ``CarbonCallback``
- :mod:`carbonledger.integrations.pytorch`: ``TrainingLoop`` for hand-written loops
- :mod:`carbonledger.integrations.mlflow`, :mod:`carbonledger.integrations.wandb`: sinks
- :mod:`carbonledger.integrations.jupyter`: ``%load_ext carbonledger``
- :mod:`carbonledger.integrations.serving`: ``RequestMeter``, energy per request and token in
  a process you control; ``ServingSidecar``, energy per token of a live vLLM, TGI or SGLang
  engine from its Prometheus counters, and the OpenAI-compatible proxy
  (``pip install 'carbonledger[serving]'``)
- :mod:`carbonledger.integrations.ray`: ``RayClusterTracker``, one run across a Ray cluster
  (``pip install 'carbonledger[ray]'``)

The frameworks come with ``pip install 'carbonledger[integrations]'``; a module whose
framework is missing raises ImportError saying what to install.

Those modules are public (:data:`__all__`, each loaded on first use: importing this
package loads no framework); ``_common`` and ``_report`` are internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face

if TYPE_CHECKING:
    from carbonledger.integrations import (
        jupyter,
        keras,
        lightning,
        mlflow,
        pytorch,
        ray,
        serving,
        transformers,
        wandb,
    )

__all__ = [
    "jupyter",
    "keras",
    "lightning",
    "mlflow",
    "pytorch",
    "ray",
    "serving",
    "transformers",
    "wandb",
]


__getattr__, __dir__ = lazy_face(__name__, __all__, submodules=__all__)
