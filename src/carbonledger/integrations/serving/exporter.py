"""The sidecar's own Prometheus metrics, for Grafana (``prometheus_client``: ``pip install
'carbonledger[serving]'``).

A collector reads the sidecar's state on each scrape (no polling loop of its own). Base units
in the names; the ``_low``/``_high`` families are the range of an estimated energy::

    carbonledger_serving_joules_per_output_token{engine}          latest span (gauge)
    carbonledger_serving_joules_per_output_token_low / _high
    carbonledger_serving_joules_per_input_token{engine}
    carbonledger_serving_joules_per_request{engine}
    carbonledger_serving_prefill_joules_per_input_token{engine}   where phase times exist
    carbonledger_serving_decode_joules_per_output_token{engine}
    carbonledger_serving_emissions_grams_per_1000_output_tokens{engine}
    carbonledger_serving_model_joules_per_output_token{engine,model}
    carbonledger_serving_span_seconds{engine}                    duration of the latest span
    carbonledger_serving_idle_power_watts{engine}                latest idle interval
    carbonledger_serving_energy_joules_total{engine,state}       busy | idle | unattributed
    carbonledger_serving_busy_emissions_grams_total{engine}
    carbonledger_serving_output_tokens_total{engine,model}       (and input_tokens, requests)
    carbonledger_serving_scrape_failures_total{engine}
    carbonledger_serving_engine_restarts_total{engine}
    carbonledger_serving_proxied_requests_total{engine}
    carbonledger_serving_info{engine,run_id,metrics_url,counted_at} 1

The run's average J per output token is
``increase(carbonledger_serving_energy_joules_total{state="busy"}[1h]) /
increase(carbonledger_serving_output_tokens_total[1h])``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from carbonledger.report.prometheus import PrometheusExporter

if TYPE_CHECKING:
    from prometheus_client.registry import CollectorRegistry

    from carbonledger.integrations.serving.attribution import Ratio
    from carbonledger.integrations.serving.sidecar import ServingSidecar

__all__ = ["ServingExporter", "render", "serving_registry"]

_RATIOS = (
    ("joules_per_output_token", "j_per_output_token", "Energy per output token, in joules."),
    ("joules_per_input_token", "j_per_input_token", "Energy per input token, in joules."),
    ("joules_per_request", "j_per_request", "Energy per finished request, in joules."),
    (
        "prefill_joules_per_input_token",
        "prefill_j_per_input_token",
        "Prefill energy per input token, in joules (split by the engine's phase times).",
    ),
    (
        "decode_joules_per_output_token",
        "decode_j_per_output_token",
        "Decode energy per output token, in joules (split by the engine's phase times).",
    ),
    (
        "emissions_grams_per_1000_output_tokens",
        "co2e_g_per_1k_output_tokens",
        "Operational emissions per 1000 output tokens, in grams CO2e.",
    ),
)


def serving_registry(sidecar: ServingSidecar) -> CollectorRegistry:
    """A registry of its own holding one collector over ``sidecar``."""
    from carbonledger.report.prometheus import require_client

    require_client()
    from prometheus_client import CollectorRegistry
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
    from prometheus_client.registry import Collector

    engine = sidecar.spec.name
    p = "carbonledger_serving_"

    class ServingCollector(Collector):
        def collect(self) -> Iterator[Metric]:
            latest, span, totals = sidecar.snapshot()
            if span is not None:
                for name, attr, text in _RATIOS:
                    r: Ratio | None = getattr(span, attr)
                    if r is None:
                        continue
                    for suffix, value, what in (
                        ("", r.value, text),
                        ("_low", r.low, "Low end of: " + text),
                        ("_high", r.high, "High end of: " + text),
                    ):
                        g = GaugeMetricFamily(f"{p}{name}{suffix}", what, labels=["engine"])
                        g.add_metric([engine], value)
                        yield g
                per_model = GaugeMetricFamily(
                    f"{p}model_joules_per_output_token",
                    "A model's energy per output token over the latest span, in joules.",
                    labels=["engine", "model"],
                )
                for model, figures in span.models.items():
                    ratio = figures.j_per_output_token
                    if ratio is not None:
                        per_model.add_metric([engine, model], ratio.value)
                if per_model.samples:
                    yield per_model
                g = GaugeMetricFamily(
                    f"{p}span_seconds",
                    "Duration of the latest span, in seconds.",
                    labels=["engine"],
                )
                g.add_metric([engine], span.duration_s)
                yield g
            if latest is not None and latest.idle_power_w is not None:
                g = GaugeMetricFamily(
                    f"{p}idle_power_watts",
                    "Mean power of the latest idle interval, in watts.",
                    labels=["engine"],
                )
                g.add_metric([engine], latest.idle_power_w)
                yield g
            energy = CounterMetricFamily(
                f"{p}energy_joules",
                "Energy of the intervals so far by state (busy, idle, unattributed), in joules.",
                labels=["engine", "state"],
            )
            for state in ("busy", "idle", "unattributed"):
                energy.add_metric([engine, state], totals[f"{state}_energy_j"])
            yield energy
            co2e = CounterMetricFamily(
                f"{p}busy_emissions_grams",
                "Operational emissions of the busy energy so far, in grams CO2e.",
                labels=["engine"],
            )
            co2e.add_metric([engine], totals["busy_co2e_g"])
            yield co2e
            for key, text in (
                ("output_tokens", "Output tokens counted by the engine."),
                ("input_tokens", "Input tokens counted by the engine."),
                ("requests", "Finished requests counted by the engine."),
            ):
                c = CounterMetricFamily(f"{p}{key}", text, labels=["engine", "model"])
                for model, m in totals["models"].items():
                    c.add_metric([engine, model], m[key])
                yield c
            for key, name, text in (
                ("scrapes_failed", "scrape_failures", "Scrapes of the engine that failed."),
                ("restarts", "engine_restarts", "Engine restarts seen."),
                ("proxied_requests", "proxied_requests", "Requests charged by the proxy."),
            ):
                c = CounterMetricFamily(f"{p}{name}", text, labels=["engine"])
                c.add_metric([engine], totals[key])
                yield c
            info = GaugeMetricFamily(
                f"{p}info",
                "The sidecar's run (value always 1).",
                labels=["engine", "run_id", "metrics_url", "counted_at"],
            )
            info.add_metric(
                [engine, sidecar.tracker.run_id, sidecar.metrics_url, sidecar.spec.counted_at],
                1.0,
            )
            yield info

    registry = CollectorRegistry(auto_describe=False)
    registry.register(ServingCollector())
    return registry


def render(sidecar: ServingSidecar) -> bytes:
    """The exposition text (version 0.0.4) of the sidecar's metrics now."""
    from prometheus_client import generate_latest

    return generate_latest(serving_registry(sidecar))


class ServingExporter(PrometheusExporter):
    """Serve the sidecar's metrics on ``http://addr:port/metrics`` in a thread (the same
    server as the tracker's exporter). ``port`` 0 picks a free one (see :attr:`port`)."""

    def __init__(self, sidecar: ServingSidecar, *, addr: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(registry=lambda: serving_registry(sidecar), port=port, addr=addr)
