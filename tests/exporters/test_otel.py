"""OpenTelemetry observable instruments, read with the SDK's in-memory reader."""

from __future__ import annotations

from typing import Any

import pytest

from carbonledger.accounting import CarbonContext, RunFacts, account
from carbonledger.models import ComponentEnergy, RunSummary

pytest.importorskip("opentelemetry.sdk.metrics", reason="pip install carbonledger[otel]")


def make_summary(energy_j: float) -> RunSummary:
    return account(
        RunFacts(
            run_id="run-1",
            project="p",
            experiment="e",
            status="running",
            started_unix_s=0.0,
            duration_s=10.0,
        ),
        (ComponentEnergy("gpu", "gpu:0", "nvml-energy", True, energy_j, 10.0, host="n1"),),
        CarbonContext(
            location="FR",
            location_source="argument",
            intensity_g_per_kwh=300.0,
            intensity_source="table",
            pue=1.0,
            pue_source="default",
        ),
    )


def points(reader: Any) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    out: dict[str, list[Any]] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                out[metric.name] = list(metric.data.data_points)
                out[metric.name + ".unit"] = [metric.unit]
    return out


def test_otel_instruments_follow_the_source() -> None:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from carbonledger.report.otel import register_metrics

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    energy = {"j": 1000.0}
    try:
        register_metrics(lambda: make_summary(energy["j"]), provider)
        got = points(reader)
        (e,) = got["carbonledger.energy"]
        assert e.value == 1000.0 and got["carbonledger.energy.unit"] == ["J"]
        assert dict(e.attributes) == {
            "run_id": "run-1",
            "project": "p",
            "host": "n1",
            "component": "gpu",
            "device": "gpu:0",
            "method": "nvml-energy",
            "measured": True,
        }
        (p,) = got["carbonledger.power"]
        assert p.value == 100.0
        (c,) = got["carbonledger.emissions"]
        assert c.value == pytest.approx(1000 / 3.6e6 * 300)
        (i,) = got["carbonledger.intensity"]
        assert i.value == 300.0
        energy["j"] = 5000.0
        (e,) = points(reader)["carbonledger.energy"]
        assert e.value == 5000.0
    finally:
        provider.shutdown()
