"""Location resolution: precedence, combinations, cloud metadata, IP geolocation, default."""

from __future__ import annotations

import json

import pytest

from carbonledger.carbon import Location, resolve_location, world_average
from carbonledger.errors import InputError, UnknownNameError

from .conftest import LocalServer, Reply, Seen

NO_PROBE: dict[str, str] = {}


def metadata_urls(server: LocalServer) -> dict[str, str]:
    return {
        "aws_token": server.url("/latest/api/token"),
        "aws_region": server.url("/latest/meta-data/placement/region"),
        "gcp_zone": server.url("/computeMetadata/v1/instance/zone"),
        "azure_location": server.url("/metadata/instance/compute/location"),
        "ip_geolocation": server.url("/json"),
    }


def test_argument_beats_environment_and_config() -> None:
    loc = resolve_location(
        country="FR",
        env={"CARBONLEDGER_COUNTRY": "DE"},
        config={"country": "PL"},
        probe_cloud=False,
    )
    assert loc.zone.code == "FR" and loc.source == "argument"
    assert loc.cloud_provider is None and "FR" in loc.detail


def test_environment_beats_config() -> None:
    loc = resolve_location(
        env={"CARBONLEDGER_COUNTRY": "de", "CARBONLEDGER_REGION": ""},
        config={"country": "PL"},
        probe_cloud=False,
    )
    assert loc.zone.code == "DE" and loc.source == "environment"
    assert "CARBONLEDGER_COUNTRY" in loc.detail


def test_config_is_used_last_of_the_explicit_ones() -> None:
    loc = resolve_location(env={}, config={"region": "US-CA"}, probe_cloud=False)
    assert loc.zone.code == "US-CA" and loc.source == "config"


def test_region_within_its_country_wins() -> None:
    loc = resolve_location(country="US", region="US-CA", env={}, probe_cloud=False)
    assert loc.zone.code == "US-CA"
    loc = resolve_location(country="United States", region="US-CAL-CISO", env={}, probe_cloud=False)
    assert loc.zone.code == "US-CAL-CISO"


def test_cloud_region_sets_the_provider() -> None:
    loc = resolve_location(region="aws:eu-west-3", country="FR", env={}, probe_cloud=False)
    assert loc.zone.code == "aws:eu-west-3" and loc.source == "argument"
    assert loc.cloud_provider == "aws" and loc.cloud_region == "eu-west-3"


def test_region_outside_the_country_is_an_error_not_a_guess() -> None:
    with pytest.raises(InputError, match=r"US-CA.*not in FR"):
        resolve_location(country="FR", region="US-CA", env={}, probe_cloud=False)
    with pytest.raises(InputError, match="not in"):
        resolve_location(
            env={"CARBONLEDGER_COUNTRY": "DE", "CARBONLEDGER_REGION": "gcp:europe-west1"},
            probe_cloud=False,
        )


def test_unknown_names_say_where_they_came_from() -> None:
    with pytest.raises(UnknownNameError) as info:
        resolve_location(env={"CARBONLEDGER_COUNTRY": "Frnace"}, probe_cloud=False)
    assert "CARBONLEDGER_COUNTRY" in str(info.value) and "France" in info.value.suggestions
    with pytest.raises(UnknownNameError, match="configuration key 'region'"):
        resolve_location(env={}, config={"region": "US-ZZ"}, probe_cloud=False)


def test_default_is_the_world_average_and_says_how_to_set_it() -> None:
    loc = resolve_location(env={}, probe_cloud=False)
    assert loc == Location(world_average(), "default", None, None, loc.detail)
    assert "location unknown" in loc.detail
    assert "CARBONLEDGER_COUNTRY" in loc.detail and "intensity --list" in loc.detail


def test_aws_metadata_with_imdsv2_token(server: LocalServer) -> None:
    server.routes[("PUT", "/latest/api/token")] = Reply(body="TOKEN123")

    def region(seen: Seen) -> Reply:
        if seen.headers.get("x-aws-ec2-metadata-token") != "TOKEN123":
            return Reply(401)
        return Reply(body="eu-west-3")

    server.routes[("GET", "/latest/meta-data/placement/region")] = region
    loc = resolve_location(env={}, metadata_urls=metadata_urls(server), cloud_timeout_s=2)
    assert loc.source == "cloud-metadata" and loc.zone.code == "aws:eu-west-3"
    assert loc.cloud_provider == "aws" and loc.cloud_region == "eu-west-3"
    token_req = next(r for r in server.requests if r.method == "PUT")
    assert "x-aws-ec2-metadata-token-ttl-seconds" in token_req.headers


def test_gcp_metadata_needs_the_flavor_header(server: LocalServer) -> None:
    def zone(seen: Seen) -> Reply:
        if seen.headers.get("metadata-flavor") != "Google":
            return Reply(403)
        return Reply(
            body="projects/1234/zones/europe-west1-b", headers={"Metadata-Flavor": "Google"}
        )

    server.routes[("GET", "/computeMetadata/v1/instance/zone")] = zone
    loc = resolve_location(env={}, metadata_urls=metadata_urls(server), cloud_timeout_s=2)
    assert loc.zone.code == "gcp:europe-west1" and loc.cloud_provider == "gcp"
    assert loc.zone.cfe_share is not None


def test_a_gcp_answer_without_the_flavor_header_is_not_trusted(server: LocalServer) -> None:
    server.routes[("GET", "/computeMetadata/v1/instance/zone")] = Reply(
        body="projects/1/zones/europe-west1-b"
    )
    loc = resolve_location(env={}, metadata_urls=metadata_urls(server), cloud_timeout_s=1)
    assert loc.source == "default"


def test_azure_metadata(server: LocalServer) -> None:
    def location(seen: Seen) -> Reply:
        return Reply(body="westeurope") if seen.headers.get("metadata") == "true" else Reply(400)

    server.routes[("GET", "/metadata/instance/compute/location")] = location
    loc = resolve_location(env={}, metadata_urls=metadata_urls(server), cloud_timeout_s=2)
    assert loc.zone.code == "azure:westeurope" and loc.cloud_region == "westeurope"


def test_an_unknown_cloud_region_falls_through_but_keeps_the_provider(
    server: LocalServer,
) -> None:
    server.routes[("GET", "/metadata/instance/compute/location")] = Reply(body="marscentral")
    loc = resolve_location(env={}, metadata_urls=metadata_urls(server), cloud_timeout_s=2)
    assert loc.source == "default" and loc.zone.code == "WORLD"
    assert loc.cloud_provider == "azure" and loc.cloud_region == "marscentral"
    assert "marscentral" in loc.detail


def test_the_whole_probe_is_bounded_by_the_timeout(server: LocalServer) -> None:
    slow = Reply(body="eu-west-3", delay_s=2.0)
    for path in (
        "/latest/meta-data/placement/region",
        "/computeMetadata/v1/instance/zone",
        "/metadata/instance/compute/location",
    ):
        server.routes[("GET", path)] = slow
    server.routes[("PUT", "/latest/api/token")] = Reply(body="T", delay_s=2.0)
    loc = resolve_location(env={}, metadata_urls=metadata_urls(server), cloud_timeout_s=0.3)
    # the answers (eu-west-3 ...) come 2 s late: a probe that waited for them would use them
    assert loc.source == "default" and "0.3 s" in loc.detail


@pytest.mark.parametrize(
    ("kwargs", "env"),
    [({"probe_cloud": False}, {}), ({}, {"CARBONLEDGER_NO_CLOUD_PROBE": "1"})],
)
def test_the_probe_can_be_turned_off(
    server: LocalServer, kwargs: dict[str, bool], env: dict[str, str]
) -> None:
    server.routes[("GET", "/metadata/instance/compute/location")] = Reply(body="westeurope")
    loc = resolve_location(env=env, metadata_urls=metadata_urls(server), **kwargs)
    assert loc.source == "default" and server.requests == []


def test_explicit_location_skips_the_probe(server: LocalServer) -> None:
    loc = resolve_location(country="FR", env={}, metadata_urls=metadata_urls(server))
    assert loc.source == "argument" and server.requests == []


def test_unknown_metadata_url_key_is_rejected() -> None:
    with pytest.raises(InputError, match="aws_tokn"):
        resolve_location(env={}, metadata_urls={"aws_tokn": "http://127.0.0.1:9/"})


def test_ip_geolocation_only_when_opted_in(server: LocalServer) -> None:
    server.routes[("GET", "/json")] = Reply(
        body=json.dumps({"country": "US", "region": "California"}),
        headers={"Content-Type": "application/json"},
    )
    urls = metadata_urls(server)
    off = resolve_location(env={}, probe_cloud=False, metadata_urls=urls)
    assert off.source == "default" and not any(r.path == "/json" for r in server.requests)
    on = resolve_location(env={}, probe_cloud=False, ip_geolocation=True, metadata_urls=urls)
    assert on.source == "ip-geolocation" and on.zone.code == "US-CA"
    assert "approximate" in on.detail
    by_env = resolve_location(
        env={"CARBONLEDGER_IP_GEOLOCATION": "1"}, probe_cloud=False, metadata_urls=urls
    )
    assert by_env.source == "ip-geolocation"


def test_ip_geolocation_country_only(server: LocalServer) -> None:
    server.routes[("GET", "/json")] = Reply(body=json.dumps({"country_code": "SE"}))
    loc = resolve_location(
        env={}, probe_cloud=False, ip_geolocation=True, metadata_urls=metadata_urls(server)
    )
    assert loc.zone.code == "SE" and loc.source == "ip-geolocation"


def test_failed_ip_geolocation_falls_back_to_default_and_says_why(server: LocalServer) -> None:
    server.routes[("GET", "/json")] = Reply(500, "oops")
    loc = resolve_location(
        env={}, probe_cloud=False, ip_geolocation=True, metadata_urls=metadata_urls(server)
    )
    assert loc.source == "default" and "IP geolocation" in loc.detail and "500" in loc.detail
