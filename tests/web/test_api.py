"""Every endpoint of the dashboard, with and without its token, on SQLite and PostgreSQL;
the JSON API's contents; the bind rule; ``serve``'s checks before it listens."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from carbonledger.cli.main import main
from carbonledger.errors import InputError
from carbonledger.web import check_bind, is_loopback

from .conftest import TOKEN, client_for

RUN = "aaaa1111base0001"
LIVE = "cccc3333live0001"
ENDPOINTS = [
    "/", "/projects", "/project?name=vision", "/experiment?project=vision&name=gelu",
    "/months", "/verify", f"/runs/{RUN}", f"/runs/{RUN}/report.html",
    f"/runs/{RUN}/statement.md", "/runs.csv", "/static/plotly.min.js", "/static/dashboard.js",
    "/static/dashboard.css", "/api/runs", "/api/projects", "/api/project?name=vision",
    "/api/months", "/api/verify", f"/api/runs/{RUN}", f"/api/runs/{RUN}/figures",
    f"/api/runs/{RUN}/regions",
]  # fmt: skip


@pytest.fixture
def client(ledger_target: str) -> Any:
    return client_for(ledger_target, token=TOKEN)


@pytest.mark.parametrize("path", ENDPOINTS)
def test_every_endpoint_needs_the_token(ledger_path: Path, path: str) -> None:
    client = client_for(str(ledger_path), token=TOKEN)
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401
    ok = client.get(path, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200, ok.text
    client.cookies.set("carbonledger_token", "wrong")
    assert client.get(path).status_code == 401
    client.cookies.set("carbonledger_token", TOKEN)
    assert client.get(path).status_code == 200


def test_api_contents(client: Any, ledger_target: str) -> None:
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    runs = client.get("/api/runs").json()
    assert {r["run_id"] for r in runs} == {RUN, "aaaa1111base0002", "bbbb2222gelu0001", LIVE}
    assert runs[0]["run_id"] == LIVE  # newest first
    base = client.get("/api/runs?experiment=base").json()
    assert {r["run_id"] for r in base} == {RUN, "aaaa1111base0002"}
    assert [r["run_id"] for r in client.get("/api/runs?status=running").json()] == [LIVE]
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
    assert client.get("/api/runs/nope").json()["detail"].startswith("unknown run")
    assert client.get("/api/runs?status=done").status_code == 400
    live = client.get(f"/runs/{LIVE}").text  # dashboard.js redraws a running run's page
    assert 'data-status="running"' in live and 'data-refresh-ms="3000"' in live
    assert 'data-status="completed"' in client.get(f"/runs/{RUN}").text


def test_the_dashboard_never_writes_the_ledger(ledger_path: Path) -> None:
    before = hashlib.sha256(ledger_path.read_bytes()).hexdigest()
    client = client_for(str(ledger_path))
    for path in ENDPOINTS:
        assert client.get(path).status_code == 200, path
    assert hashlib.sha256(ledger_path.read_bytes()).hexdigest() == before


def test_without_a_token_loopback_needs_none(ledger_target: str) -> None:
    assert client_for(ledger_target).get("/api/runs").status_code == 200


def test_bind_rule() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", TOKEN)
    with pytest.raises(InputError, match="without a token"):
        check_bind("0.0.0.0", None)


def test_serve_fails_at_start_on_a_missing_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere" / "ledger.db"
    assert main(["serve", "--ledger", str(missing), "--port", "8787"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot serve this ledger: no ledger at ") and str(missing) in err
    assert err.count("\n") == 1  # one line, no traceback, before anything listens
    assert not missing.parent.exists()  # nothing made on the way


def test_the_run_page_offers_cloud_regions_and_countries_only_when_asked(client: Any) -> None:
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
    client: Any, ledger_target: str
) -> None:
    from carbonledger.ledger import open_ledger
    from carbonledger.reduce.advice import advise

    with open_ledger(ledger_target, read_only=True) as led:
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
