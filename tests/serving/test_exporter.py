"""The sidecar's own Prometheus endpoint: scraped over HTTP and parsed with prometheus_client's
parser, its figures are the sidecar's."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from carbonledger.integrations.serving import ServingSidecar
from carbonledger.integrations.serving.exporter import ServingExporter, render
from carbonledger.testing import FakeClock, FakeEngine

from .conftest import make_tracker


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_endpoint_serves_the_latest_span_and_the_totals(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    engine = engines("vllm", models=("a", "b"))
    sidecar = ServingSidecar(
        "vllm", engine.url, make_tracker(clock, 300.0), interval_s=10, clock=clock
    ).start()
    before = _samples(render(sidecar).decode())
    assert not any(name.endswith("joules_per_output_token") for name, _ in before)  # no span yet
    engine.serve("a", input_tokens=1000, output_tokens=500, requests=5, prefill_s=1, decode_s=2)
    engine.serve("b", input_tokens=1000, output_tokens=500, requests=5, prefill_s=1, decode_s=2)
    clock.advance(10)
    sidecar.step()
    clock.advance(10)
    sidecar.step()  # idle: 3000 J at 300 W
    with ServingExporter(sidecar) as exporter:
        text = urllib.request.urlopen(exporter.url, timeout=5).read().decode()
    got = _samples(text)
    e = (("engine", "vllm"),)
    assert got[("carbonledger_serving_joules_per_output_token", e)] == pytest.approx(3.0)
    assert got[("carbonledger_serving_joules_per_input_token", e)] == pytest.approx(1.5)
    assert got[("carbonledger_serving_joules_per_request", e)] == pytest.approx(300)
    assert got[("carbonledger_serving_prefill_joules_per_input_token", e)] == pytest.approx(0.5)
    assert got[("carbonledger_serving_decode_joules_per_output_token", e)] == pytest.approx(2.0)
    assert got[("carbonledger_serving_joules_per_output_token_low", e)] == pytest.approx(3.0)
    assert got[("carbonledger_serving_idle_power_watts", e)] == pytest.approx(300)
    per_1k = got[("carbonledger_serving_emissions_grams_per_1000_output_tokens", e)]
    assert per_1k == pytest.approx(3000 * 400 / 3.6e6)
    model_a = (("engine", "vllm"), ("model", "a"))
    assert got[("carbonledger_serving_model_joules_per_output_token", model_a)] == 3.0
    assert got[("carbonledger_serving_output_tokens_total", model_a)] == 500
    for state, joules in (("busy", 3000), ("idle", 3000)):
        key = ("carbonledger_serving_energy_joules_total", (*e, ("state", state)))
        assert got[key] == pytest.approx(joules)
    info = [k for k in got if k[0] == "carbonledger_serving_info"]
    assert dict(info[0][1])["run_id"] == sidecar.tracker.run_id
    sidecar.close()


def test_a_port_in_use_is_a_clear_error(
    engines: Callable[..., FakeEngine], clock: FakeClock
) -> None:
    from carbonledger.errors import InputError

    engine = engines("vllm")
    sidecar = ServingSidecar("vllm", engine.url, make_tracker(clock), clock=clock).start()
    with ServingExporter(sidecar) as first:
        with pytest.raises(InputError, match=r"cannot serve metrics on 127\.0\.0\.1"):
            ServingExporter(sidecar, port=first.port).start()
    sidecar.close()
