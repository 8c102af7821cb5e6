"""Where the work runs, and so which grid zone's figure applies.

Resolution order (the first that yields a place wins):

1. arguments ``country=`` / ``region=``;
2. environment ``CARBONLEDGER_COUNTRY`` / ``CARBONLEDGER_REGION``;
3. configuration keys ``country`` / ``region``;
4. cloud instance metadata (AWS IMDSv2, GCP, Azure IMDS), all three probed at once and
   the whole probe bounded by ``cloud_timeout_s``; off with ``probe_cloud=False`` or
   ``CARBONLEDGER_NO_CLOUD_PROBE=1``;
5. IP geolocation, only when opted in (``ip_geolocation=True`` or
   ``CARBONLEDGER_IP_GEOLOCATION=1``);
6. the world average, with ``source="default"`` and a detail saying how to set it.

Within one level, ``region`` (a subregion or ``provider:region`` code) wins over
``country`` when it lies in that country; a region outside the given country is an
error, never a silent pick.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from math import isfinite
from typing import TYPE_CHECKING, Any, Literal

from carbonledger.carbon.zones import Zone, intensity, world_average
from carbonledger.errors import InputError, UnknownNameError

if TYPE_CHECKING:
    from carbonledger._http import Response

LocationSource = Literal[
    "argument", "environment", "config", "cloud-metadata", "ip-geolocation", "default"
]


__all__ = [
    "DEFAULT_METADATA_URLS",
    "Location",
    "probe_cloud_metadata",
    "resolve_location",
]


#: where each probe asks; override any of them (tests point them at a local server)
DEFAULT_METADATA_URLS: dict[str, str] = {
    "aws_token": "http://169.254.169.254/latest/api/token",
    "aws_region": "http://169.254.169.254/latest/meta-data/placement/region",
    "gcp_zone": "http://169.254.169.254/computeMetadata/v1/instance/zone",
    "azure_location": (
        "http://169.254.169.254/metadata/instance/compute/location"
        "?api-version=2021-02-01&format=text"
    ),
    "ip_geolocation": "https://ipinfo.io/json",
}
IP_GEOLOCATION_TIMEOUT_S = 2.0

_HOW_TO_SET = (
    "set it with country=/region= (e.g. country='FR', region='US-CA' or 'aws:eu-west-3'), "
    "CARBONLEDGER_COUNTRY / CARBONLEDGER_REGION, or 'country' in carbonledger.toml; "
    "`carbonledger intensity --list` shows every zone"
)
_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Location:
    """The resolved place: its zone, how it was found, the cloud when on one, and a
    sentence explaining the choice (``detail``)."""

    zone: Zone
    source: LocationSource
    cloud_provider: str | None = None
    cloud_region: str | None = None
    detail: str = ""


# ----------------------------------------------------------------------------- explicit


def _lookup(value: str, origin: str) -> Zone:
    try:
        return intensity(value)
    except UnknownNameError as exc:
        raise UnknownNameError(
            "zone",
            exc.name,
            suggestions=exc.suggestions,
            hint=f"(from {origin}); run `carbonledger intensity --list` to see every zone",
        ) from None
    except InputError as exc:
        raise InputError(f"{origin}: {exc}") from None


def _explicit(
    country: Any, region: Any, source: LocationSource, origin: tuple[str, str]
) -> Location | None:
    """A Location from a (country, region) pair given at one level, or None if neither."""
    country_text = str(country).strip() if country is not None else ""
    region_text = str(region).strip() if region is not None else ""
    if not country_text and not region_text:
        return None
    country_origin, region_origin = origin
    if region_text:
        zone = _lookup(region_text, region_origin)
        detail = f"{region_origin} = {region_text!r} -> {zone.code} ({zone.name})"
        if country_text:
            given = _lookup(country_text, country_origin)
            if zone.country != given.country or not given.country:
                raise InputError(
                    f"{region_origin} {region_text!r} ({zone.code}) lies in "
                    f"{zone.country or 'no country'}, not in {given.code} ({given.name}) given "
                    f"by {country_origin}; fix one of them or drop the country"
                )
            detail += f", within {country_origin} = {given.code}"
    else:
        zone = _lookup(country_text, country_origin)
        detail = f"{country_origin} = {country_text!r} -> {zone.code} ({zone.name})"
    if zone.kind == "cloud":
        provider, _, cloud_region = zone.code.partition(":")
        return Location(zone, source, provider, cloud_region, detail)
    return Location(zone, source, None, None, detail)


def fetch(url: str, **options: Any) -> Response:
    """:func:`carbonledger._http.fetch`, loaded on the first call: most trackers are
    told where they run and never ask the network."""
    from carbonledger._http import fetch as _fetch

    return _fetch(url, **options)


# ----------------------------------------------------------------------------- cloud probe

# region name patterns, matched only after a metadata service answered (re loads then)
_AWS_REGION = r"^[a-z]{2}(-[a-z]+)+-\d+$"
_AZURE_REGION = r"^[a-z0-9]+$"
_GCP_ZONE = r"^[a-z]+(-[a-z]+)*\d+-[a-z]$"


def _matches(pattern: str, text: str) -> bool:
    import re

    return re.match(pattern, text) is not None


def _probe_aws(urls: Mapping[str, str], timeout_s: float) -> str | None:
    deadline = time.monotonic() + timeout_s  # the token and the region share the time
    token = fetch(
        urls["aws_token"],
        method="PUT",
        headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"},
        timeout_s=timeout_s,
        use_proxies=False,
    )
    if token.status != 200 or not token.body:
        return None
    resp = fetch(
        urls["aws_region"],
        headers={"X-aws-ec2-metadata-token": token.text.strip()},
        timeout_s=max(deadline - time.monotonic(), 0.001),
        use_proxies=False,
    )
    region = resp.text.strip()
    return region if resp.status == 200 and _matches(_AWS_REGION, region) else None


def _probe_gcp(urls: Mapping[str, str], timeout_s: float) -> str | None:
    resp = fetch(
        urls["gcp_zone"],
        headers={"Metadata-Flavor": "Google"},
        timeout_s=timeout_s,
        use_proxies=False,
    )
    if resp.status != 200 or resp.header("Metadata-Flavor") != "Google":
        return None
    zone = resp.text.strip().rsplit("/", 1)[-1]  # projects/123/zones/europe-west1-b
    return zone.rsplit("-", 1)[0] if _matches(_GCP_ZONE, zone) else None


def _probe_azure(urls: Mapping[str, str], timeout_s: float) -> str | None:
    resp = fetch(
        urls["azure_location"], headers={"Metadata": "true"}, timeout_s=timeout_s, use_proxies=False
    )
    location = resp.text.strip().lower()
    return location if resp.status == 200 and _matches(_AZURE_REGION, location) else None


_PROBES: dict[str, Callable[[Mapping[str, str], float], str | None]] = {
    "aws": _probe_aws,
    "gcp": _probe_gcp,
    "azure": _probe_azure,
}


def _merged_urls(metadata_urls: Mapping[str, str] | None) -> dict[str, str]:
    urls = dict(DEFAULT_METADATA_URLS)
    for key, value in (metadata_urls or {}).items():
        if key not in DEFAULT_METADATA_URLS:
            known = ", ".join(DEFAULT_METADATA_URLS)
            raise InputError(f"unknown metadata URL key {key!r}; known keys: {known}")
        urls[key] = value
    return urls


def probe_cloud_metadata(
    timeout_s: float = 0.5, metadata_urls: Mapping[str, str] | None = None
) -> tuple[str, str] | None:
    """``(provider, region)`` from the instance metadata service, or None when this is
    not a cloud instance we recognise. The three providers are asked at once and the
    whole probe returns within ``timeout_s``; each probe's own HTTP calls share a deadline of
    ``timeout_s`` too, so a straggler's daemon thread ends soon after."""
    urls = _merged_urls(metadata_urls)
    if not isinstance(timeout_s, (int, float)) or not isfinite(timeout_s) or timeout_s <= 0:
        raise InputError(f"cloud_timeout_s must be a positive number of seconds, got {timeout_s!r}")
    deadline = time.monotonic() + timeout_s
    import queue
    import threading

    results: queue.Queue[tuple[str, str | None]] = queue.Queue()

    def run(name: str, probe: Callable[[Mapping[str, str], float], str | None]) -> None:
        try:
            found = probe(urls, timeout_s)
        except Exception:  # no metadata service here: refused, unreachable, timed out
            found = None
        results.put((name, found))

    for name, probe in _PROBES.items():
        threading.Thread(
            target=run, args=(name, probe), name=f"carbonledger-probe-{name}", daemon=True
        ).start()
    pending = len(_PROBES)
    while pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            name, region = results.get(timeout=remaining)
        except queue.Empty:
            break
        pending -= 1
        if region:
            return name, region
    return None


# ----------------------------------------------------------------------------- IP geolocation


def _ip_geolocate(url: str) -> tuple[Zone, str]:
    resp = fetch(url, headers={"Accept": "application/json"}, timeout_s=IP_GEOLOCATION_TIMEOUT_S)
    if resp.status != 200:
        raise OSError(f"HTTP {resp.status}")
    try:
        data = json.loads(resp.text)
    except ValueError:
        raise OSError("the answer is not JSON") from None
    if not isinstance(data, dict):
        raise OSError("the answer is not a JSON object")
    country = data.get("country") or data.get("country_code") or data.get("countryCode")
    if not isinstance(country, str) or not country.strip():
        raise OSError("the answer names no country")
    zone = intensity(country)
    if zone.kind != "country":
        raise OSError(f"the answer's country {country!r} is not a country code")
    region = data.get("region") or data.get("region_name") or data.get("regionName")
    if isinstance(region, str) and region.strip():
        try:
            sub = intensity(region)
        except InputError:
            sub = None
        if sub is not None and sub.kind == "subregion" and sub.country == zone.code:
            return sub, f"{zone.code}, {region}"
    return zone, zone.code + (f", {region}" if isinstance(region, str) and region else "")


# ----------------------------------------------------------------------------- resolve


def _declared(
    country: str | None,
    region: str | None,
    env: Mapping[str, str],
    config: Mapping[str, Any],
) -> Location | None:
    """The location given as arguments, else in the environment, else in the configuration."""
    return (
        _explicit(country, region, "argument", ("argument country", "argument region"))
        or _explicit(
            env.get("CARBONLEDGER_COUNTRY"),
            env.get("CARBONLEDGER_REGION"),
            "environment",
            (
                "environment variable CARBONLEDGER_COUNTRY",
                "environment variable CARBONLEDGER_REGION",
            ),
        )
        or _explicit(
            config.get("country"),
            config.get("region"),
            "config",
            ("configuration key 'country'", "configuration key 'region'"),
        )
    )


def _from_cloud(
    cloud_timeout_s: float, metadata_urls: Mapping[str, str] | None, notes: list[str]
) -> tuple[Location | None, tuple[str, str] | None]:
    """(location, (provider, region)) from the cloud instance metadata; the location is
    None when no metadata answered or its region is unknown (``notes`` then says why)."""
    cloud = probe_cloud_metadata(cloud_timeout_s, metadata_urls)
    if cloud is None:
        notes.append(f"no cloud instance metadata answered within {cloud_timeout_s:g} s")
        return None, None
    provider, cloud_region = cloud
    try:
        zone = intensity(f"{provider}:{cloud_region}")
    except InputError:
        notes.append(
            f"{provider} instance metadata says region {cloud_region!r}, which "
            "carbonledger's tables do not know"
        )
        return None, cloud
    location = Location(
        zone,
        "cloud-metadata",
        provider,
        cloud_region,
        f"{provider} instance metadata: region {cloud_region} -> grid zone {zone.grid_zone}",
    )
    return location, cloud


def _from_ip(
    metadata_urls: Mapping[str, str] | None,
    provider_found: str | None,
    region_found: str | None,
    notes: list[str],
) -> Location | None:
    """The location of the public IP address (opt-in); None (and a note) when it fails."""
    url = _merged_urls(metadata_urls)["ip_geolocation"]
    try:
        zone, said = _ip_geolocate(url)
    except (OSError, InputError) as exc:
        notes.append(f"IP geolocation ({url}) failed: {exc}")
        return None
    return Location(
        zone,
        "ip-geolocation",
        provider_found,
        region_found,
        f"IP geolocation ({url}) says {said} -> {zone.code}; approximate: the "
        "public IP's location, not the machine's grid",
    )


def resolve_location(
    *,
    country: str | None = None,
    region: str | None = None,
    env: Mapping[str, str] | None = None,
    config: Mapping[str, Any] | None = None,
    probe_cloud: bool = True,
    cloud_timeout_s: float = 0.5,
    ip_geolocation: bool = False,
    metadata_urls: Mapping[str, str] | None = None,
) -> Location:
    """Find where the work runs (see the module docstring for the order).

    ``region`` may be a subregion (``US-CA``) or a cloud region (``aws:eu-west-3``).
    Unknown names raise :class:`UnknownNameError` saying where they came from; a region
    outside the given country raises :class:`InputError`. Never guesses: when nothing
    is known the world average is returned with ``source="default"``.
    """
    env = os.environ if env is None else env
    found = _declared(country, region, env, config or {})
    if found is not None:
        return found

    notes: list[str] = []
    cloud: tuple[str, str] | None = None
    if probe_cloud and env.get("CARBONLEDGER_NO_CLOUD_PROBE", "").strip() != "1":
        found, cloud = _from_cloud(cloud_timeout_s, metadata_urls, notes)
        if found is not None:
            return found
    provider_found, region_found = cloud if cloud is not None else (None, None)

    ip_opt_in = (
        ip_geolocation or env.get("CARBONLEDGER_IP_GEOLOCATION", "").strip().lower() in _TRUE
    )
    if ip_opt_in:
        found = _from_ip(metadata_urls, provider_found, region_found, notes)
        if found is not None:
            return found

    zone = world_average()
    detail = (
        f"location unknown: the world average ({zone.intensity_g_per_kwh:.0f} g/kWh, "
        f"{zone.year}) is used; {_HOW_TO_SET}"
    )
    if notes:
        detail += " (" + "; ".join(notes) + ")"
    return Location(zone, "default", provider_found, region_found, detail)
