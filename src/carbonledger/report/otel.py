"""OpenTelemetry metrics (``pip install carbonledger[otel]``).

:func:`register_metrics` adds observable instruments to a ``MeterProvider``; at each
collection they call ``source()`` (for example ``tracker.summary``) and report:

=========================  ===============  ====  =============================================
instrument                 kind             unit  attributes
=========================  ===============  ====  =============================================
``carbonledger.energy``    counter          J     run_id, project, host, component, device,
                                                  method, measured
``carbonledger.power``     gauge            W     same (mean power over the run so far)
``carbonledger.emissions`` counter          g     run_id, project, location
``carbonledger.intensity`` gauge            g/kWh run_id, location, source
=========================  ===============  ====  =============================================

Export them with any OpenTelemetry exporter (OTLP, Prometheus...) configured on the provider.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from carbonledger.errors import InputError
from carbonledger.models import RunSummary

__all__ = ["register_metrics"]

Source = Callable[[], "RunSummary | Sequence[RunSummary]"]
_Callback = Callable[[Any], Iterable[Any]]


def _runs(source: Source) -> list[RunSummary]:
    got = source()
    return [got] if isinstance(got, RunSummary) else list(got)


def _device_attrs(s: RunSummary, c: Any) -> dict[str, Any]:
    """The attributes of one device's energy and power observations."""
    return {
        "run_id": s.run_id,
        "project": s.project,
        "host": c.host,
        "component": c.component,
        "device": c.device,
        "method": c.method,
        "measured": bool(c.measured),
    }


def _callbacks(
    source: Source, observation: Any
) -> tuple[_Callback, _Callback, _Callback, _Callback]:
    """The four observable callbacks (energy J, power W, emissions g, intensity g/kWh)."""

    def energy(_options: Any) -> Iterable[Any]:
        for s in _runs(source):
            for c in s.components:
                yield observation(c.energy_j, _device_attrs(s, c))

    def power(_options: Any) -> Iterable[Any]:
        for s in _runs(source):
            for c in s.components:
                yield observation(c.power_w, _device_attrs(s, c))

    def emissions(_options: Any) -> Iterable[Any]:
        for s in _runs(source):
            yield observation(
                s.co2e_g, {"run_id": s.run_id, "project": s.project, "location": s.location}
            )

    def intensity(_options: Any) -> Iterable[Any]:
        for s in _runs(source):
            yield observation(
                s.intensity_g_per_kwh,
                {"run_id": s.run_id, "location": s.location, "source": s.intensity_source},
            )

    return energy, power, emissions, intensity


def register_metrics(
    source: Source, meter_provider: Any = None, *, meter_name: str = "carbonledger"
) -> tuple[Any, ...]:
    """Register carbonledger's observable instruments; returns them.

    :param source: called at each collection; returns a RunSummary (or several)
    :param meter_provider: an ``opentelemetry.sdk.metrics.MeterProvider`` (default: the
        global one from ``opentelemetry.metrics.get_meter_provider()``)
    """
    try:
        from opentelemetry import metrics
    except ImportError:
        raise InputError(
            "OpenTelemetry metrics need opentelemetry-api and -sdk: pip install carbonledger[otel]"
        ) from None
    from carbonledger._version import __version__

    provider = meter_provider if meter_provider is not None else metrics.get_meter_provider()
    meter = provider.get_meter(meter_name, __version__)
    energy, power, emissions, intensity = _callbacks(source, metrics.Observation)

    return (
        meter.create_observable_counter(
            "carbonledger.energy",
            callbacks=[energy],
            unit="J",
            description="Energy used by each device in the run",
        ),
        meter.create_observable_gauge(
            "carbonledger.power",
            callbacks=[power],
            unit="W",
            description="Mean power of each device over the run so far",
        ),
        meter.create_observable_counter(
            "carbonledger.emissions",
            callbacks=[emissions],
            unit="g",
            description="Operational emissions of the run, grams CO2e",
        ),
        meter.create_observable_gauge(
            "carbonledger.intensity",
            callbacks=[intensity],
            unit="g/kWh",
            description="Grid carbon intensity used for the run",
        ),
    )
