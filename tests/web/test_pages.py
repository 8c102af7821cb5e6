"""The dashboard's pages over a team's ledger (dashdata.py), on SQLite and PostgreSQL: the
runs table (filters, sort, pages, all in a shareable URL), its CSV, the project, experiment
and month pages, a run's downloads, a run of 20,000 windows, and 1,000 runs."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

import pytest

from carbonledger.ledger import open_ledger
from carbonledger.report import format as fmt
from carbonledger.report.compare import compare_runs

from .conftest import client_for
from .dashdata import Planned, add_windows_run, build_team_ledger

RUN_LINK = re.compile(r'<a class="run" href="/runs/([0-9a-z]+)"')


def _ids(html: str) -> list[str]:
    return RUN_LINK.findall(html)


def _day(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%Y-%m-%d")


@pytest.fixture
def team(backend: Any) -> tuple[str, list[Planned]]:
    target: str = backend("team")
    plan = build_team_ledger(target, 40)
    return target, plan


def _summaries(target: str) -> list[Any]:
    with open_ledger(target, read_only=True) as led:
        return led.list_runs()


def test_the_runs_table_filters_sorts_and_pages_from_the_url(
    team: tuple[str, list[Planned]],
) -> None:
    target, plan = team
    client = client_for(target)
    newest_first = [p.run_id for p in sorted(plan, key=lambda p: -p.started_unix_s)]
    assert _ids(client.get("/").text) == newest_first  # 40 runs: one page of 50
    cases = {
        "project=nlp&status=completed": lambda p: p.project == "nlp" and p.status == "completed",
        "experiment=resnet-gelu": lambda p: p.experiment == "resnet-gelu",
        "status=failed": lambda p: p.status == "failed",
        "status=interrupted": lambda p: p.status == "interrupted",
        "tag=seed%3D1": lambda p: p.tags["seed"] == "1",
        "tag=team%3Dlanguage&tag=seed%3D0": lambda p: p.tags == {"team": "language", "seed": "0"},
        "tag=team": lambda p: True,
        "tag=nothing": lambda p: False,
    }
    for query, keep in cases.items():
        want = [p.run_id for p in sorted(plan, key=lambda p: -p.started_unix_s) if keep(p)]
        page = client.get("/?" + query)
        assert page.status_code == 200, page.text
        assert _ids(page.text) == want, query
        assert f"<b>{fmt.count(len(want))}</b> runs" in page.text or (
            not want and "No runs" in page.text
        )
    # a date range: UTC days, both included
    days = sorted({_day(p.started_unix_s) for p in plan})
    since, until = days[5], days[12]
    want = [p.run_id for p in sorted(plan, key=lambda p: -p.started_unix_s)
            if since <= _day(p.started_unix_s) <= until]  # fmt: skip
    assert _ids(client.get(f"/?from={since}&to={until}").text) == want and want
    # sorted by CO2e, the ledger's own figures
    by_co2e = [s.run_id for s in sorted(_summaries(target), key=lambda s: s.co2e_g)]
    assert _ids(client.get("/?sort=co2e&order=asc").text) == by_co2e
    assert _ids(client.get("/?sort=co2e&order=desc").text) == by_co2e[::-1]
    # pages of 15: the second holds the 16th to 30th, and links to both neighbours
    second = client.get("/?sort=co2e&order=asc&per=15&page=2").text
    assert _ids(second) == by_co2e[15:30]
    assert "runs 16–30 of 40" in second and "page 2 of 3" in second
    assert 'rel="prev" href="/?sort=co2e&amp;order=asc&amp;per=15"' in second
    assert 'rel="next" href="/?sort=co2e&amp;order=asc&amp;per=15&amp;page=3"' in second
    # the form shows the query it was given, so that a shared link shows its filters
    shown = client.get("/?project=vision&status=completed&tag=seed%3D2&from=" + since).text
    assert '<option value="vision" selected>' in shown
    assert '<option value="completed" selected>' in shown
    assert 'name="tag" value="seed=2"' in shown and f'name="from" value="{since}"' in shown
    # a heading sorts, and a second click reverses
    assert 'href="/?sort=energy&amp;order=desc"' in client.get("/").text
    assert 'href="/?sort=energy&amp;order=asc"' in client.get("/?sort=energy&order=desc").text
    for bad in ("status=done", "from=2024-13-01", "sort=colour", "page=0", "per=100000",
                "from=2024-02-02&to=2024-02-01"):  # fmt: skip
        r = client.get("/?" + bad)
        assert r.status_code == 400 and 'class="error"' in r.text, bad


def test_the_csv_is_the_export_of_the_filtered_runs(
    team: tuple[str, list[Planned]], capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    from carbonledger.cli.main import main
    from carbonledger.report.export import CSV_COLUMNS

    target, plan = team
    client = client_for(target)
    r = client.get("/runs.csv?project=vision")
    assert r.headers["content-disposition"] == 'attachment; filename="carbonledger-runs.csv"'
    assert main(["export", "--csv", "-", "--project", "vision", "--ledger", target]) == 0
    exported = capsysbinary.readouterr().out.decode()
    assert r.text == exported  # the same columns, rows and order as carbonledger export --csv
    failed = list(csv.DictReader(io.StringIO(client.get("/runs.csv?status=failed").text)))
    assert {row["run_id"] for row in failed} == {p.run_id for p in plan if p.status == "failed"}
    assert list(failed[0]) == list(CSV_COLUMNS)
    # the table's link to it carries the table's filters
    page = client.get("/?status=failed&sort=energy&order=asc").text
    assert '<a id="csv" href="/runs.csv?status=failed">' in page


def _completed(summaries: list[Any], experiment: str) -> list[Any]:
    return [s for s in summaries if s.experiment == experiment and s.status == "completed"]


def test_a_project_page(team: tuple[str, list[Planned]]) -> None:
    target, _ = team
    client = client_for(target)
    every = _summaries(target)
    vision = [s for s in every if s.project == "vision"]
    page = client.get("/project?name=vision").text
    energy = fmt.energy(sum(s.energy_j for s in vision))
    assert f"<b>{len(vision)}</b> runs · energy <b>{energy}</b>" in page
    # the charts name runs by name and date, never by their 32-hex id alone
    blocks = re.findall(r'data-chart="chart-per_run">(.*?)</script>', page)
    import json

    per_run = json.loads(blocks[0])
    labels = [x for trace in per_run["data"] for x in trace["x"]]
    assert len(labels) == len(vision) == len(set(labels))
    assert all(re.fullmatch(r"resnet-(base|gelu) \d{4}-\d\d-\d\d \d\d:\d\d", x) for x in labels)
    assert not any(s.run_id in json.dumps(per_run["data"][0]["x"]) for s in vision)
    # experiments compared with compare's statistics: gelu's completed runs against base's
    api = client.get("/api/project?name=vision").json()
    assert api["baseline"] == "resnet-base"  # the experiment that ran first
    gelu = next(x for x in api["experiments"] if x["experiment"] == "resnet-gelu")
    want = compare_runs(_completed(vision, "resnet-base"), _completed(vision, "resnet-gelu"))
    got, expected = gelu["comparison"], json.loads(json.dumps(want.to_dict()))
    for side in ("a_runs", "b_runs"):
        assert set(got.pop(side)) == set(expected.pop(side))
    assert got == expected
    assert gelu["compared_runs"] == len(_completed(vision, "resnet-gelu"))
    energy_delta = next(d for d in want.deltas if d.name == "energy_j")
    shown = f"+{fmt.energy(energy_delta.delta)} (+{fmt.sig3(energy_delta.delta_pct or 0)}%)"
    assert shown in page
    assert energy_delta.exceeds_spread is not None  # several runs a side
    verdict = (
        "beyond the run-to-run spread"
        if energy_delta.exceeds_spread
        else "within the run-to-run spread"
    )
    assert verdict in page
    # another baseline, by link
    other = client.get("/project?" + urlencode({"name": "vision", "baseline": "resnet-gelu"})).text
    assert "resnet-gelu</a> <small>(baseline)</small>" in other
    assert client.get("/project?name=vision&baseline=nope").status_code == 400
    assert client.get("/project?name=nobody").status_code == 404
    # monthly totals by experiment add up to the project's
    months = api["months"]
    assert sum(m["runs"] for m in months) == len(vision)
    assert sum(m["co2e_g"] for m in months) == pytest.approx(sum(s.co2e_g for s in vision))
    assert sum(m["co2e_high_g"] for m in months) == pytest.approx(
        sum(s.co2e_high_g for s in vision)
    )


def test_an_experiment_page(team: tuple[str, list[Planned]]) -> None:
    target, _ = team
    client = client_for(target)
    every = _summaries(target)
    nlp = [s for s in every if s.project == "nlp"]
    page = client.get("/experiment?project=nlp&name=bert-large").text
    runs = [s for s in nlp if s.experiment == "bert-large"]
    assert f"<b>{len(runs)}</b> runs" in page
    assert "<h3>against bert-small</h3>" in page
    want = compare_runs(_completed(nlp, "bert-small"), _completed(nlp, "bert-large"))
    co2e = next(d for d in want.deltas if d.name == "co2e_g")
    sign = "+" if co2e.delta > 0 else "−"
    assert f"{sign}{fmt.mass(abs(co2e.delta))}" in page
    # bert-large's runs are in two grids (FR and DE): compare says so
    assert "also differs in location" in page
    newest = sorted(runs, key=lambda s: -s.started_unix_s)[:20]
    assert _ids(page) == [s.run_id for s in newest]
    assert client.get("/experiment?project=nlp&name=resnet-base").status_code == 404


def test_monthly_totals(team: tuple[str, list[Planned]]) -> None:
    target, plan = team
    client = client_for(target)
    months = client.get("/api/months").json()
    by_month: dict[str, int] = {}
    for p in plan:
        month = datetime.fromtimestamp(p.started_unix_s, tz=timezone.utc).strftime("%Y-%m")
        by_month[month] = by_month.get(month, 0) + 1
    assert {m["month"]: m["runs"] for m in months} == by_month
    assert all(m["parts"].keys() <= {"vision", "nlp"} for m in months)
    page = client.get("/months").text
    for m in months:
        row = (f'<tr><td data-label="month (UTC)"><span>{m["month"]}</span></td>'
               f'<td data-label="runs"><span>{fmt.count(m["runs"])}</span></td>')  # fmt: skip
        assert row in page
    assert 'id="chart-months"' in page


def test_a_run_pages_downloads_come_from_a_verified_record(ledger_path: Any) -> None:
    from carbonledger._version import __version__
    from carbonledger.report.data import run_status
    from carbonledger.report.paper import paper_statement

    run = "aaaa1111base0001"
    client = client_for(str(ledger_path))
    page = client.get(f"/runs/{run}").text
    assert f'href="/runs/{run}/report.html"' in page and f'href="/runs/{run}/statement.md"' in page
    report = client.get(f"/runs/{run}/report.html")
    assert (
        report.headers["content-disposition"]
        == f'attachment; filename="carbonledger-run-{run}.html"'
    )
    assert f"carbonledger run {run}" in report.text and "records verified" in report.text
    statement = client.get(f"/runs/{run}/statement.md")
    with open_ledger(str(ledger_path), read_only=True) as led:
        want = paper_statement(
            led.summary(run), "md", version=__version__, status=run_status(led, run)
        )
    assert statement.text == want and "in a signed ledger" in want
    # an edit behind the ledger's back: the run's record no longer verifies
    con = sqlite3.connect(ledger_path)
    con.execute("UPDATE runs SET intensity_g_per_kwh = 1.0 WHERE run_id = ?", (run,))
    con.commit()
    con.close()
    client = client_for(str(ledger_path))
    page = client.get(f"/runs/{run}").text
    assert "does NOT verify" in page and "statement.md" not in page
    for suffix in ("/report.html", "/statement.md"):
        refused = client.get(f"/runs/{run}{suffix}")
        assert refused.status_code == 409 and "does not verify" in refused.text


def test_a_run_of_20000_windows_shows_them_by_pattern(ledger_path: Any) -> None:
    run = add_windows_run(str(ledger_path), 20_000)
    page = client_for(str(ledger_path)).get(f"/runs/{run}").text
    assert "20,000 windows, summarised by name pattern" in page
    table = page[page.index("<h2>Windows</h2>") :]
    table = table[: table.index("</table>")]
    assert table.count("<tr>") == 2  # a heading and one pattern: epoch-#/step-#
    assert "<td>epoch-#/step-#</td><td>20,000</td>" in table
    assert "epoch-0/step-999 (2.00 J)" in table  # the largest ones named
    assert "step-12345" not in page  # no row, bar or label per window
    assert "Energy per window of epoch-#/step-# (20,000 windows, mean of each 100)" in page
    assert len(page) < 400_000


def test_a_thousand_runs(backend: Any) -> None:
    """A table page holds one page of rows; the runs' summaries are kept between requests
    while the ledger does not change."""
    target: str = backend("thousand")
    build_team_ledger(target, 1000)
    client = client_for(target)
    t0 = time.perf_counter()
    first = client.get("/")
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    again = client.get("/?sort=co2e&project=vision&page=3")
    warm = time.perf_counter() - t0
    assert first.status_code == again.status_code == 200
    assert len(_ids(first.text)) == 50 and "runs 1–50 of 1,000" in first.text
    assert len(_ids(again.text)) == 50 and "runs 101–150 of 500" in again.text
    assert len(first.content) < 100_000  # one page of rows, not a thousand
    full = client.get("/?per=500&page=2")
    assert len(_ids(full.text)) == 500
    print(f"1,000 runs: first page {cold * 1e3:.0f} ms, {len(first.content) / 1e3:.0f} kB; "
          f"a filtered, sorted page {warm * 1e3:.0f} ms")  # fmt: skip
    assert warm < cold  # from memory: the ledger's head did not change


def test_a_run_stopped_by_its_budget_says_so(tmp_path: Any) -> None:
    """The runs table and the run page show "interrupted (budget)", not a bare status."""
    import carbonledger as cl
    from carbonledger.models import SensorInfo
    from carbonledger.reduce import BudgetExceeded
    from carbonledger.testing import FakeClock, FakeSensor

    path = str(tmp_path / "budget.sqlite")
    clock = FakeClock(1000.0)
    gpu = FakeSensor(SensorInfo("gpu", "gpu:0", "nvml", True), 300.0, clock)
    with pytest.raises(BudgetExceeded):
        with cl.Tracker(
            "p", grid_g_per_kwh=1000, sensors=[gpu], clock=clock, ledger=path,
            budget_kg=1e-6, on_budget="stop", interval_s=3600,
        ) as run:  # fmt: skip
            with run.window("epoch-1"):
                clock.advance(60.0)
    client = client_for(path)
    page = client.get("/").text
    assert "interrupted (budget)" in page
    assert "interrupted (budget)" in client.get(f"/runs/{run.run_id}").text


def test_a_damaged_run_is_listed_never_breaks_a_page(tmp_path: Any) -> None:
    """A run whose rows cannot be read (a time past year 9999 written into the file) is
    listed as damaged, its figures "-": every page and the JSON API still answer, never
    with NaN."""
    import carbonledger as cl
    from carbonledger.models import SensorInfo
    from carbonledger.testing import FakeClock, FakeSensor

    path = str(tmp_path / "damaged.sqlite")
    clock = FakeClock(1000.0)
    ids = []
    for name in ("good", "bad"):
        cpu = FakeSensor(SensorInfo("cpu", "cpu:package-0", "rapl", True), 50.0, clock)
        with cl.Tracker("p", name, grid_g_per_kwh=100, sensors=[cpu], clock=clock,
                        ledger=path) as run:  # fmt: skip
            clock.advance(30.0)
        ids.append(run.run_id)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("UPDATE runs SET started_unix_s = 1e300 WHERE run_id = ?", (ids[1],))
    conn.close()
    client = client_for(path)
    table = client.get("/")
    assert table.status_code == 200 and "damaged" in table.text
    assert "1 damaged (their records cannot be read: left out" in table.text
    assert "nan" not in table.text.lower().replace("nano", "")
    for url in (f"/runs/{ids[1]}", "/project?name=p", "/projects", "/months",
                f"/runs/{ids[0]}", "/experiment?project=p&name=bad"):  # fmt: skip
        page = client.get(url)
        assert page.status_code in (200, 404), (url, page.status_code)
    api = client.get("/api/runs")
    assert api.status_code == 200
    rows = {r["run_id"]: r for r in api.json()}  # valid JSON: null where nothing is known
    assert rows[ids[1]]["status"] == "damaged" and rows[ids[1]]["co2e_g"] is None
    assert rows[ids[0]]["co2e_g"] > 0
