"""Every endpoint of the dashboard, with and without its token; the bind rule."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from carbonledger.cli.main import main
from carbonledger.errors import InputError
from carbonledger.web import check_bind, create_app, is_loopback

TOKEN = "s3cret-token"
RUN = "aaaa1111base0001"
LIVE = "cccc3333live0001"
ENDPOINTS = [
    "/", f"/runs/{RUN}", "/static/plotly.min.js", "/api/runs", "/api/projects", "/api/verify",
    f"/api/runs/{RUN}", f"/api/runs/{RUN}/figures", f"/api/runs/{RUN}/regions",
]  # fmt: skip


@pytest.fixture
def client(ledger_path: Path) -> TestClient:
    return TestClient(create_app(str(ledger_path), token=TOKEN))


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_needs_the_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200, ok.text


def test_a_token_in_the_query_sets_a_cookie(client: TestClient) -> None:
    first = client.get(f"/?token={TOKEN}")
    assert first.status_code == 200
    assert client.get("/api/runs").status_code == 200  # the cookie now carries it


def test_api_contents(client: TestClient, ledger_path: Path) -> None:
    before = hashlib.sha256(ledger_path.read_bytes()).hexdigest()
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    runs = client.get("/api/runs").json()
    assert {r["run_id"] for r in runs} == {RUN, "aaaa1111base0002", "bbbb2222gelu0001", LIVE}
    tree = client.get("/api/projects").json()
    assert tree["runs"] == 4
    assert set(tree["projects"]["vision"]["experiments"]) == {"base", "gelu"}
    assert tree["projects"]["vision"]["energy_j"] == pytest.approx(sum(r["energy_j"] for r in runs))
    assert client.get("/api/verify").json()["ok"] is True
    assert client.get(f"/api/runs/{LIVE}").json()["status"] == "running"
    figs = client.get(f"/api/runs/{RUN}/figures").json()
    assert [f["id"] for f in figs["figures"]][:3] == ["power", "energy", "co2e"]
    power = figs["figures"][0]["figure"]["data"]
    assert {t["name"] for t in power} == {"cpu:package-0", "ram"}  # one host: no @host
    regions = client.get(f"/api/runs/{RUN}/regions?top=3&cloud=gcp").json()
    assert len(regions) == 3
    assert client.get("/api/runs/nope").status_code == 404
    page = client.get(f"/runs/{LIVE}").text
    assert "data-status='running'" in page and "Plotly.react" in page
    assert "verified" in page
    assert "/static/plotly.min.js" in page and "cdn.plot.ly/plotly" not in page
    assert hashlib.sha256(ledger_path.read_bytes()).hexdigest() == before


def test_without_a_token_loopback_needs_none(ledger_path: Path) -> None:
    assert TestClient(create_app(str(ledger_path))).get("/api/runs").status_code == 200


def test_bind_rule() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "t")
    with pytest.raises(InputError, match="without a token"):
        check_bind("0.0.0.0", None)


def test_serve_refuses_a_public_bind_without_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "8787"]) == 2
    assert "without a token" in capsys.readouterr().err


def test_serve_fails_at_start_on_a_missing_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "ledger.db"
    assert main(["serve", "--ledger", str(missing), "--port", "8787"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot serve this ledger: no ledger at ") and str(missing) in err
    assert err.count("\n") == 1  # one line, no traceback, before anything listens
    assert not missing.parent.exists()  # nothing made on the way


def test_the_run_page_offers_cloud_regions_and_countries_only_when_asked(
    client: TestClient,
) -> None:
    from carbonledger.report.regions import NOT_SUGGESTED

    client.headers["Authorization"] = f"Bearer {TOKEN}"
    page = client.get(f"/runs/{RUN}").text
    places = page[page.index("id='elsewhere'") :]
    codes = [c.split("</td>")[0] for c in places.split("<tr><td>")[1:]]
    assert len(codes) == 10 and all(":" in c for c in codes)  # aws:..., gcp:..., azure:...
    assert "?countries=1" in places
    asked = client.get(f"/runs/{RUN}?countries=1").text
    asked_codes = [
        c.split("</td>")[0] for c in asked[asked.index("id='elsewhere'") :].split("<tr><td>")[1:]
    ]
    assert any(":" not in c for c in asked_codes)  # countries now, ranked with the regions
    assert not set(asked_codes) & NOT_SUGGESTED
    api = client.get(f"/api/runs/{RUN}/regions?top=50").json()
    assert {r["kind"] for r in api} == {"cloud"}
    assert "country" in {
        r["kind"] for r in client.get(f"/api/runs/{RUN}/regions?top=500&countries=true").json()
    }


def test_the_dashboard_and_the_advice_give_one_figure_for_one_region(
    client: TestClient, ledger_path: Path
) -> None:
    from carbonledger.ledger import open_ledger
    from carbonledger.reduce.advice import advise

    with open_ledger(str(ledger_path), read_only=True) as led:
        summary = led.summary(RUN)
    region = next(a for a in advise(summary) if a.kind == "region")
    code = region.change.split()[2]  # "run in gcp:europe-north2"
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    rows = client.get(f"/api/runs/{RUN}/regions?top=1000").json()
    row = next(r for r in rows if r["code"] == code)
    assert row["co2e_g"] == pytest.approx(region.co2e_after_g, rel=1e-12)
    assert row["co2e_low_g"] == pytest.approx(region.co2e_after_low_g, rel=1e-12)
    assert row["pue"] != summary.pue  # the provider's PUE, not the run's
    page = client.get(f"/runs/{RUN}").text
    assert f"<td>{code}</td>" in page
