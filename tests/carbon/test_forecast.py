"""Intensity forecasts: the UK Carbon Intensity API's 48 h forecast, Electricity Maps'
forecast and a file; cached, time-bounded, failures turned into "start now"."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from carbonledger.carbon import (
    ElectricityMapsProvider,
    FileIntensityProvider,
    ProviderError,
    UKCarbonIntensityProvider,
)
from carbonledger.reduce.scheduling import plan_start

from .conftest import LocalServer, Reply

NOW = 1_714_564_800.0 + 600  # 2024-05-01T12:10:00Z
HOUR0 = 1_714_564_800  # 12:00Z


def _uk_body(values: list[float]) -> str:
    """Half-hourly items, two per hour from 12:00Z, each hour's pair around ``values[i]``."""
    items = []
    for i, v in enumerate(values):
        for half, delta in ((0, -5), (1, 5)):
            start = HOUR0 + i * 3600 + half * 1800
            stamp = datetime.fromtimestamp(start, tz=timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
            items.append({"from": stamp, "to": stamp, "intensity": {"forecast": v + delta}})
    return json.dumps({"data": items})


UK_PATH = "/intensity/2024-05-01T12:00Z/fw48h"


def test_uk_forecast_hourly_means_and_cache(server: LocalServer, tmp_path: Path) -> None:
    server.routes[("GET", UK_PATH)] = Reply(body=_uk_body([200, 100, 50, 300]))
    uk = UKCarbonIntensityProvider(base_url=server.base, cache_dir=tmp_path)
    fc = uk.forecast("GB", NOW, NOW + 4 * 3600, now_unix_s=NOW)
    assert fc.hours == (
        (HOUR0, 200.0),
        (HOUR0 + 3600, 100.0),
        (HOUR0 + 7200, 50.0),
        (HOUR0 + 10800, 300.0),
    )
    assert fc.source == "UK Carbon Intensity API forecast" and not fc.from_cache
    assert fc.issued_unix_s == NOW and fc.age_s(NOW + 60) == 60
    # the same process, and a new process with the same cache folder: no second request
    assert uk.forecast("GB", NOW, NOW + 3600, now_unix_s=NOW + 60).from_cache
    again = UKCarbonIntensityProvider(base_url=server.base, cache_dir=tmp_path)
    assert again.forecast("GB", NOW, NOW + 3600, now_unix_s=NOW + 120).from_cache
    assert len(server.requests) == 1
    # older than the cache's lifetime: fetched again (same hour, so the same URL)
    later = NOW + again.forecast_ttl_s + 1
    server.routes[("GET", UK_PATH)] = Reply(body=_uk_body([100, 20]))
    fresh = again.forecast("GB", later, later + 3600, now_unix_s=later)
    assert not fresh.from_cache and fresh.hours == ((HOUR0, 100.0), (HOUR0 + 3600, 20.0))
    assert len(server.requests) == 2


def test_uk_forecast_is_gb_only(server: LocalServer) -> None:
    uk = UKCarbonIntensityProvider(base_url=server.base)
    with pytest.raises(ProviderError, match="Great Britain"):
        uk.forecast("FR", NOW, NOW + 3600, now_unix_s=NOW)
    assert server.requests == []


def test_electricitymaps_forecast_token_and_issue_time(server: LocalServer) -> None:
    body = {
        "zone": "FR",
        "updatedAt": "2024-05-01T11:00:00Z",
        "forecast": [
            {"carbonIntensity": 40 + i, "datetime": f"2024-05-01T{12 + i:02d}:00:00Z"}
            for i in range(6)
        ],
    }
    server.routes[("GET", "/v3/carbon-intensity/forecast")] = Reply(body=json.dumps(body))
    em = ElectricityMapsProvider("secret", base_url=server.base)
    fc = em.forecast("FR", NOW, NOW + 3 * 3600, now_unix_s=NOW)
    assert [v for _, v in fc.hours] == [40.0, 41.0, 42.0, 43.0]  # 12:10 + 3 h: 4 hours
    assert fc.issued_unix_s == HOUR0 - 3600 and fc.age_s(NOW) == 4200
    seen = server.requests[0]
    assert seen.headers["auth-token"] == "secret" and seen.query == "zone=FR"


def test_file_forecast_csv_and_json(tmp_path: Path) -> None:
    csv_path = tmp_path / "f.csv"
    csv_path.write_text(
        "timestamp,intensity_g_per_kwh\n2024-05-01T12:00:00Z,80\n2024-05-01T13:00:00+00:00,60\n"
    )
    fc = FileIntensityProvider(csv_path).forecast("GB", NOW, NOW + 2 * 3600)
    assert fc.hours == ((HOUR0, 80.0), (HOUR0 + 3600, 60.0))
    json_path = tmp_path / "f.json"
    json_path.write_text(json.dumps([{"timestamp": HOUR0, "intensity_g_per_kwh": 70}]))
    assert FileIntensityProvider(json_path).forecast("X", NOW, NOW + 1).hours == ((HOUR0, 70.0),)
    with pytest.raises(ProviderError, match="no hours between"):
        FileIntensityProvider(json_path).forecast("X", NOW + 86400, NOW + 90000)


def test_failures_fall_back_to_start_now_with_the_reason(server: LocalServer) -> None:
    server.routes[("GET", UK_PATH)] = Reply(status=500, body="down")
    uk = UKCarbonIntensityProvider(base_url=server.base)
    plan = plan_start("GB", 3600, 6 * 3600, uk, now_unix_s=NOW)
    assert plan.fallback_used and plan.start_unix_s == NOW and "HTTP 500" in plan.fallback_reason
    assert plan.explain().startswith("starting now: UK Carbon Intensity API gave no forecast")


def test_a_slow_server_is_cut_by_the_deadline(server: LocalServer) -> None:
    server.routes[("GET", UK_PATH)] = Reply(body=_uk_body([1] * 48), trickle_s=0.05)
    uk = UKCarbonIntensityProvider(base_url=server.base, timeout_s=0.3)
    plan = plan_start("GB", 3600, 3600, uk, now_unix_s=NOW)
    assert plan.fallback_used and "did not answer" in plan.fallback_reason


def test_no_answer_names_the_provider_and_the_url_once() -> None:
    """Offline (nothing listens on port 1): "starting now: <provider> gave no forecast (did
    not answer: <url>: <why>)", each said once."""
    uk = UKCarbonIntensityProvider(base_url="http://127.0.0.1:1", timeout_s=2.0)
    text = plan_start("GB", 3600, 6 * 3600, uk, now_unix_s=NOW).explain()
    assert text.startswith(
        "starting now: UK Carbon Intensity API gave no forecast (did not answer: "
    )
    assert text.count("http://127.0.0.1:1") == 1 and text.count("UK Carbon Intensity API") == 1
