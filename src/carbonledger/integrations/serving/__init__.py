"""Energy per request and per token of inference.

Two ways in:

- :class:`RequestMeter` (:mod:`.request_meter`): inside a Python process you control, each
  request marks its start, phases and end; the tracker's energy is shared among the requests
  running at the same time.
- :class:`ServingSidecar` (:mod:`.sidecar`): beside a production engine (vLLM, TGI, SGLang)
  that runs its own server; the sidecar scrapes the engine's Prometheus counters each
  interval and divides the energy the tracker measured by the tokens the engine counted
  (``carbonledger serving``). :mod:`.proxy` puts each request's share in its response's
  ``usage``; :mod:`.exporter` publishes the figures for Prometheus. See docs/serving.md.

Importing this package loads neither ``prometheus_client`` nor the proxy's web stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face
from carbonledger.integrations.serving import engines, request_meter, sidecar
from carbonledger.integrations.serving.charges import Charge
from carbonledger.integrations.serving.engines import ENGINES, EngineSpec, engine_spec
from carbonledger.integrations.serving.request_meter import (
    Distribution,
    Request,
    RequestMeter,
    RequestRecord,
    RequestStats,
)
from carbonledger.integrations.serving.sidecar import (
    IntervalReport,
    ServingSidecar,
    ServingTotals,
)

if TYPE_CHECKING:
    from carbonledger.integrations.serving import exporter, proxy

__all__ = [
    "ENGINES",
    "Charge",
    "Distribution",
    "EngineSpec",
    "IntervalReport",
    "Request",
    "RequestMeter",
    "RequestRecord",
    "RequestStats",
    "ServingSidecar",
    "ServingTotals",
    "engine_spec",
    "engines",
    "exporter",
    "proxy",
    "request_meter",
    "sidecar",
]

_LAZY_MODULES = ("exporter", "proxy")  # prometheus_client; the proxy's web stack


__getattr__, __dir__ = lazy_face(__name__, __all__, submodules=_LAZY_MODULES)
