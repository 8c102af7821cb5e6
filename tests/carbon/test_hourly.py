"""Hourly intensity: providers (file, Electricity Maps, UK) and hourly_co2e with fallback."""

from __future__ import annotations

import calendar
import json
import time
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from carbonledger.carbon import (
    ElectricityMapsProvider,
    FileIntensityProvider,
    IntensityProvider,
    ProviderError,
    UKCarbonIntensityProvider,
    hourly_co2e,
    intensity,
)
from carbonledger.errors import InputError
from carbonledger.units import J_PER_KWH

from .conftest import LocalServer, Reply, Seen

H0 = 1_714_564_800  # 2024-05-01T12:00:00Z, an hour start
KWH = J_PER_KWH


class Fixed:
    """A provider with a fixed answer (or a failure)."""

    name = "fixed"

    def __init__(self, values: dict[int, float] | Exception) -> None:
        self.values = values
        self.calls: list[tuple[str, float, float]] = []

    def hourly(self, zone_code: str, start_unix_s: float, end_unix_s: float) -> dict[int, float]:
        self.calls.append((zone_code, start_unix_s, end_unix_s))
        if isinstance(self.values, Exception):
            raise self.values
        return dict(self.values)


# ----------------------------------------------------------------------------- hourly_co2e


def test_each_hour_at_its_own_intensity() -> None:
    zone = intensity("FR")
    provider = Fixed({H0: 100.0, H0 + 3600: 300.0})
    result = hourly_co2e({H0: 1 * KWH, H0 + 3600: 3 * KWH}, zone=zone, pue=1.5, provider=provider)
    assert result.co2e_g == pytest.approx(1.5 * (100 + 900))
    assert result.effective_intensity_g_per_kwh == pytest.approx(250.0)
    assert not result.fallback_used and result.fallback_reason == ""
    assert result.hours == 2 and result.hours_from_provider == 2
    assert provider.calls == [("FR", H0, H0 + 7200)]
    assert "fixed hourly (FR)" in result.source
    assert isinstance(provider, IntensityProvider)


def test_missing_hours_use_the_yearly_figure_and_say_so() -> None:
    zone = intensity("DE")
    result = hourly_co2e({H0: KWH, H0 + 3600: KWH}, zone=zone, pue=1.0, provider=Fixed({H0: 100.0}))
    assert result.co2e_g == pytest.approx(100 + zone.intensity_g_per_kwh)
    assert result.fallback_used and "1 of 2 hours" in result.fallback_reason
    assert result.hours_from_provider == 1
    assert result.intensity_by_hour == ((H0, 100.0), (H0 + 3600, zone.intensity_g_per_kwh))


def test_provider_failure_falls_back_for_every_hour() -> None:
    zone = intensity("PL")
    result = hourly_co2e({H0: KWH}, zone=zone, pue=1.1, provider=Fixed(ProviderError("HTTP 503")))
    assert result.co2e_g == pytest.approx(1.1 * zone.intensity_g_per_kwh)
    assert result.fallback_used and "HTTP 503" in result.fallback_reason
    assert result.effective_intensity_g_per_kwh == pytest.approx(zone.intensity_g_per_kwh)


def test_no_provider_is_the_yearly_figure_without_a_fallback() -> None:
    zone = intensity("SE")
    result = hourly_co2e({H0 + 10: KWH}, zone=zone, pue=1.0, provider=None)
    assert result.co2e_g == pytest.approx(zone.intensity_g_per_kwh)
    assert not result.fallback_used and "SE yearly" in result.source


def test_cloud_zones_ask_for_their_grid_zone() -> None:
    provider = Fixed({H0: 50.0})
    hourly_co2e({H0: KWH}, zone=intensity("aws:eu-west-3"), pue=1.135, provider=provider)
    assert provider.calls[0][0] == "FR"


def test_keys_inside_an_hour_are_merged() -> None:
    result = hourly_co2e(
        {H0 + 5: KWH, H0 + 1800: KWH}, zone=intensity("FR"), pue=1.0, provider=Fixed({H0: 10.0})
    )
    assert result.hours == 1 and result.co2e_g == pytest.approx(20.0)


@pytest.mark.parametrize("energy", [-1.0, float("nan"), "x"])
def test_bad_energies_are_rejected(energy: object) -> None:
    with pytest.raises(InputError):
        hourly_co2e({H0: energy}, zone=intensity("FR"), pue=1.0, provider=None)  # type: ignore[dict-item]


def test_bad_pue_is_rejected() -> None:
    with pytest.raises(InputError):
        hourly_co2e({H0: 1.0}, zone=intensity("FR"), pue=0.5, provider=None)


# ----------------------------------------------------------------------------- file


def test_file_provider_csv(tmp_path: Path) -> None:
    path = tmp_path / "ci.csv"
    path.write_text(
        "timestamp,intensity_g_per_kwh\n"
        "2024-05-01T12:00:00Z,100\n"
        "2024-05-01T12:30:00+00:00,200\n"
        f"{H0 + 3600},50\n"
    )
    provider = FileIntensityProvider(path)
    assert provider.hourly("FR", H0, H0 + 7200) == {H0: 150.0, H0 + 3600: 50.0}
    assert provider.hourly("FR", H0 + 3600, H0 + 3601) == {H0 + 3600: 50.0}


def test_file_provider_json_with_zones(tmp_path: Path) -> None:
    path = tmp_path / "ci.json"
    rows = [
        {"timestamp": H0, "intensity_g_per_kwh": 10, "zone": "FR"},
        {"timestamp": H0, "intensity_g_per_kwh": 400, "zone": "DE"},
    ]
    path.write_text(json.dumps(rows))
    provider = FileIntensityProvider(path)
    assert provider.hourly("fr", H0, H0 + 3600) == {H0: 10.0}
    assert provider.hourly("DE", H0, H0 + 3600) == {H0: 400.0}
    with pytest.raises(ProviderError, match="no rows for zone PL"):
        provider.hourly("PL", H0, H0 + 3600)


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("a.csv", "time,value\n1,2\n", "line 1"),
        ("b.csv", "timestamp,intensity_g_per_kwh\n2024-05-01T12:00Z,1\nyesterday,2\n", "line 3"),
        ("c.csv", "timestamp,intensity_g_per_kwh\n2024-05-01T12:00Z,-4\n", "line 2"),
        ("d.csv", "timestamp,intensity_g_per_kwh\n2024-05-01T12:00Z,\n", "line 2"),
        ("e.json", '[{"timestamp": 1, "intensity_g_per_kwh": 1}, 7]', "item 1"),
        ("f.json", '[{"timestamp": 1,\n "intensity_g_per_kwh": }]', "line 2"),
        ("g.csv", "timestamp,intensity_g_per_kwh\n", "no intensity rows"),
    ],
)
def test_bad_files_name_the_line(tmp_path: Path, name: str, text: str, where: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError, match=where):
        FileIntensityProvider(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        FileIntensityProvider(tmp_path / "nope.csv")


# ----------------------------------------------------------------------------- Electricity Maps


def em_server(server: LocalServer, value_for: dict[int, float]) -> None:
    def past_range(seen: Seen) -> Reply:
        if seen.headers.get("auth-token") != "secret":
            return Reply(401, '{"error": "bad token"}')
        q = parse_qs(seen.query)
        assert q["temporalGranularity"] == ["hourly"]
        start = calendar.timegm(time.strptime(q["start"][0], "%Y-%m-%dT%H:%M:%SZ"))
        end = calendar.timegm(time.strptime(q["end"][0], "%Y-%m-%dT%H:%M:%SZ"))
        data = [
            {
                "zone": q["zone"][0],
                "carbonIntensity": value_for[h],
                "datetime": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(h)),
                "isEstimated": False,
            }
            for h in range(start, end, 3600)
            if h in value_for
        ]
        return Reply(body=json.dumps({"zone": q["zone"][0], "data": data}))

    server.routes[("GET", "/v3/carbon-intensity/past-range")] = past_range


def test_electricity_maps_provider_and_its_caches(server: LocalServer, tmp_path: Path) -> None:
    em_server(server, {H0: 120.0, H0 + 3600: 80.0})
    provider = ElectricityMapsProvider("secret", base_url=server.base, cache_dir=tmp_path)
    assert provider.hourly("DE", H0, H0 + 7200) == {H0: 120.0, H0 + 3600: 80.0}
    assert len(server.requests) == 1
    q = parse_qs(server.requests[0].query)
    assert q["zone"] == ["DE"] and q["start"] == ["2024-05-01T12:00:00Z"]
    assert provider.hourly("DE", H0, H0 + 7200) == {H0: 120.0, H0 + 3600: 80.0}
    assert len(server.requests) == 1  # memory cache
    again = ElectricityMapsProvider("secret", base_url=server.base, cache_dir=tmp_path)
    assert again.hourly("DE", H0 + 3600, H0 + 7200) == {H0 + 3600: 80.0}
    assert len(server.requests) == 1  # file cache
    assert "secret" not in repr(provider)


def test_electricity_maps_long_ranges_are_split(server: LocalServer) -> None:
    hours = {H0 + i * 3600: float(i) for i in range(24 * 25)}
    em_server(server, hours)
    provider = ElectricityMapsProvider("secret", base_url=server.base)
    got = provider.hourly("FR", H0, H0 + 24 * 25 * 3600)
    assert got == hours and len(server.requests) == 3  # 10 + 10 + 5 days


def test_electricity_maps_failures_are_provider_errors(server: LocalServer) -> None:
    em_server(server, {})
    provider = ElectricityMapsProvider("wrong", base_url=server.base)
    with pytest.raises(ProviderError, match="HTTP 401"):
        provider.hourly("FR", H0, H0 + 3600)
    result = hourly_co2e({H0: KWH}, zone=intensity("FR"), pue=1.0, provider=provider)
    assert result.fallback_used and "401" in result.fallback_reason


def test_electricity_maps_slow_answers_fall_back(server: LocalServer) -> None:
    """An answer later than the deadline is not waited for (see test_http_deadline for a
    server that trickles)."""
    server.routes[("GET", "/v3/carbon-intensity/past-range")] = Reply(body="{}", delay_s=2.0)
    provider = ElectricityMapsProvider("secret", base_url=server.base, timeout_s=0.2)
    result = hourly_co2e({H0: KWH}, zone=intensity("FR"), pue=1.0, provider=provider)
    assert result.fallback_used and "did not answer" in result.fallback_reason
    assert "within 0.2 s" in result.fallback_reason


def test_electricity_maps_needs_a_token() -> None:
    with pytest.raises(InputError, match="token"):
        ElectricityMapsProvider("  ")


def test_future_hours_are_not_fetched(server: LocalServer) -> None:
    em_server(server, {})
    provider = ElectricityMapsProvider("secret", base_url=server.base)
    future = time.time() + 10 * 86400
    assert provider.hourly("FR", future, future + 7200) == {}
    assert server.requests == []


# ----------------------------------------------------------------------------- UK


def uk_server(server: LocalServer) -> None:
    def intensity_route(seen: Seen) -> Reply:
        def half(start: str, end: str, forecast: int, actual: int | None) -> dict[str, object]:
            return {
                "from": start,
                "to": end,
                "intensity": {"forecast": forecast, "actual": actual, "index": "moderate"},
            }

        data = [
            half("2024-05-01T12:00Z", "2024-05-01T12:30Z", 110, 100),
            half("2024-05-01T12:30Z", "2024-05-01T13:00Z", 210, 200),
            half("2024-05-01T13:00Z", "2024-05-01T13:30Z", 90, None),
        ]
        return Reply(body=json.dumps({"data": data}))

    server.routes[("GET", "/intensity/2024-05-01T12:00Z/2024-05-01T14:00Z")] = intensity_route


def test_uk_provider_averages_half_hours_and_prefers_actuals(server: LocalServer) -> None:
    uk_server(server)
    provider = UKCarbonIntensityProvider(base_url=server.base)
    assert provider.hourly("GB", H0, H0 + 7200) == {H0: 150.0, H0 + 3600: 90.0}
    assert server.requests[0].path == "/intensity/2024-05-01T12:00Z/2024-05-01T14:00Z"


def test_uk_provider_covers_great_britain_only() -> None:
    provider = UKCarbonIntensityProvider(base_url="http://127.0.0.1:9")
    with pytest.raises(ProviderError, match="Great Britain"):
        provider.hourly("FR", H0, H0 + 3600)
    result = hourly_co2e({H0: KWH}, zone=intensity("FR"), pue=1.0, provider=provider)
    assert result.fallback_used and "Great Britain" in result.fallback_reason


def test_bad_timeouts_are_rejected() -> None:
    with pytest.raises(InputError):
        UKCarbonIntensityProvider(timeout_s=0)


def test_only_missing_runs_of_hours_are_fetched(server: LocalServer) -> None:
    hours = {H0 + i * 3600: float(i) for i in range(48)}
    em_server(server, hours)
    provider = ElectricityMapsProvider("secret", base_url=server.base)
    provider.hourly("FR", H0 + 10 * 3600, H0 + 12 * 3600)
    assert len(server.requests) == 1
    got = provider.hourly("FR", H0, H0 + 48 * 3600)
    assert got == hours
    starts = sorted(parse_qs(r.query)["start"][0] for r in server.requests[1:])
    assert starts == ["2024-05-01T12:00:00Z", "2024-05-02T00:00:00Z"]  # around the cached run
