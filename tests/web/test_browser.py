"""The dashboard end to end in a real headless Chromium (Debian's chromium and chromium-driver
through Selenium; no browser download), over a team's ledger in SQLite and in PostgreSQL, at
1280 and 390 CSS pixels wide: the token leaves the address bar, the runs table is filtered
through its form, a project page and a run page draw their charts, nothing overflows a
phone's width, and the browser reports no Content-Security-Policy violation.

Full-page screenshots are saved under the test's tmp folder and, when the environment
variable ``CARBONLEDGER_SCREENSHOTS`` names a folder (read when the module is imported),
copied there (``<backend>/<page>-<width>.png``). Skips, saying why, when the browser is not
installed (``make chromium`` installs it as root on Debian)."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import TOKEN
from .dashdata import add_live_sample, add_windows_run, build_team_ledger

#: where screenshots are copied (read now: the tests' fixtures clear CARBONLEDGER_*)
ARTEFACTS = os.environ.get("CARBONLEDGER_SCREENSHOTS", "")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not CHROMIUM or not Path(DRIVER).exists():
    pytest.skip(
        "no Debian chromium/chromium-driver (run 'make chromium' as root to install them)",
        allow_module_level=True,
    )
pytest.importorskip("selenium", reason="the browser test needs selenium (dev extra)")
pytest.importorskip("uvicorn", reason="the browser test needs uvicorn (web extra)")

WIDTHS = (1280, 390)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[Callable[[str], str]]:
    """``serve(target)``: the dashboard with a token over ``target``, on loopback; its URL."""
    import uvicorn

    from carbonledger.web import create_app

    servers: list[tuple[Any, threading.Thread]] = []

    def start(target: str) -> str:
        port = _free_port()
        config = uvicorn.Config(create_app(target, token=TOKEN), host="127.0.0.1", port=port,
                                log_level="warning")  # fmt: skip
        srv = uvicorn.Server(config)
        thread = threading.Thread(target=srv.run, daemon=True)
        thread.start()
        servers.append((srv, thread))
        for _ in range(400):
            if srv.started or not thread.is_alive():
                break
            time.sleep(0.05)
        assert srv.started, f"the dashboard did not start on port {port}"
        return f"http://127.0.0.1:{port}"

    try:
        yield start
    finally:
        for srv, thread in servers:
            srv.should_exit = True
            thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--hide-scrollbars", "--window-size=1280,900"):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _width(driver: Any, width: int) -> None:
    """A viewport ``width`` CSS pixels wide (a phone's below 600: touch, meta viewport)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def _screenshot(driver: Any, path: Path) -> None:
    """The whole page (beyond the viewport) as a PNG."""
    width, height = driver.execute_script(
        "return [document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "captureBeyondViewport": True,
         "clip": {"x": 0, "y": 0, "width": width, "height": min(height, 16000), "scale": 1}},
    )  # fmt: skip
    path.write_bytes(base64.b64decode(shot["data"]))


def _charts_drawn(driver: Any) -> list[tuple[str, int, float]]:
    """(chart id, traces drawn, its width in CSS px) of each chart of the page."""
    rows = driver.execute_script(
        "return Array.from(document.querySelectorAll('div.chart')).map(el => [el.id,"
        " el.querySelectorAll('svg.main-svg g.trace').length,"
        " el.getBoundingClientRect().width]);"
    )
    return [(str(a), int(b), float(c)) for a, b, c in rows]


def _overflow(driver: Any) -> int:
    """How far the page is wider than the viewport (0: no horizontal scroll)."""
    return int(driver.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth"
    ))  # fmt: skip


def _log(driver: Any) -> tuple[list[str], list[str]]:
    """The browser's messages since the last call: (CSP violations, other errors)."""
    entries = driver.get_log("browser")
    csp = [e["message"] for e in entries if "Content Security Policy" in e["message"]]
    errors = [e["message"] for e in entries if e["level"] == "SEVERE" and e["message"] not in csp]
    return csp, errors


@pytest.fixture
def team(backend: Any) -> str:
    target: str = backend("team")
    build_team_ledger(target, 40)
    add_windows_run(target, 2000)
    return target


def test_the_dashboard_in_chromium(
    team: str, serve: Callable[[str], str], browser: Any, tmp_path: Path, request: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    base = serve(team)
    wait = WebDriverWait(browser, 60)
    shots = tmp_path / "screenshots"
    shots.mkdir()

    browser.get(f"{base}/")  # refused without it
    wait.until(lambda d: "a valid token is required" in d.page_source)
    browser.get(f"{base}/?token={TOKEN}")
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.runs a.run")))
    assert browser.current_url == f"{base}/"  # the token left the address bar
    assert TOKEN not in browser.page_source

    # the check below can fail: an inline script is refused, and the log says so
    browser.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.x = 1;';"
        "document.body.appendChild(s);"
    )
    assert browser.execute_script("return window.x") is None
    assert _log(browser)[0], "an inline script ran or was not reported"

    for width in WIDTHS:
        _width(browser, width)
        # the runs table, through its form
        browser.get(f"{base}/")
        wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "table.runs a.run")))
        rows = browser.find_elements(By.CSS_SELECTOR, "table.runs tbody tr")
        assert len(rows) == 41
        assert _overflow(browser) == 0, f"the runs page scrolls sideways at {width} px"
        if width < 600:  # a phone: each run a card, each cell a labelled line
            assert browser.find_element(By.CSS_SELECTOR, "table.runs thead").is_displayed() is False
            box = browser.execute_script(
                "const r = document.querySelector('table.runs tbody tr').getBoundingClientRect();"
                "return [r.left, r.right];"
            )
            assert box[0] >= 0 and box[1] <= width
        _screenshot(browser, shots / f"runs-{width}.png")
        Select(browser.find_element(By.NAME, "project")).select_by_value("vision")
        Select(browser.find_element(By.NAME, "status")).select_by_value("completed")
        browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
        wait.until(ec.url_contains("status=completed"))
        assert browser.current_url == f"{base}/?project=vision&status=completed"
        cells = browser.find_elements(By.CSS_SELECTOR, "td[data-label='project']")
        assert cells and {c.text for c in cells} == {"vision"}

        # a project page, its charts drawn within the width
        browser.find_element(By.CSS_SELECTOR, "td[data-label='project'] a").click()
        wait.until(ec.url_contains("/project?name=vision"))
        wait.until(lambda d: all(n > 0 for _, n, _ in _charts_drawn(d)))
        charts = _charts_drawn(browser)
        assert {c for c, _, _ in charts} == {"chart-cumulative", "chart-months", "chart-per_run"}
        assert all(w <= width for _, _, w in charts), charts
        assert _overflow(browser) == 0, f"the project page scrolls sideways at {width} px"
        labels = browser.execute_script(
            "return Array.from(document.querySelectorAll('#chart-per_run .xtick text'))"
            ".map(t => t.textContent)"
        )
        if width >= 600:
            assert labels and all(t.startswith("resnet-") for t in labels)  # names and dates
        else:  # too many to read under a phone's axis: named when a bar is touched
            assert labels == []
            title = browser.find_element(By.CSS_SELECTOR, "#chart-per_run .xtitle").text
            assert title.startswith("runs, oldest first")
        _screenshot(browser, shots / f"project-{width}.png")

        # a run page: the report's charts and its downloads
        browser.get(f"{base}/?project=vision&sort=energy")
        browser.find_element(By.CSS_SELECTOR, "a.run").click()
        wait.until(ec.url_contains("/runs/"))
        wait.until(
            lambda d: dict((c, n) for c, n, _ in _charts_drawn(d)).get("chart-power", 0) >= 2
        )
        assert browser.find_element(By.ID, "report-html").is_displayed()
        assert _overflow(browser) == 0, f"the run page scrolls sideways at {width} px"
        _screenshot(browser, shots / f"run-{width}.png")

        # the months page
        browser.get(f"{base}/months")
        wait.until(lambda d: all(n > 0 for _, n, _ in _charts_drawn(d)))
        assert _overflow(browser) == 0, f"the months page scrolls sideways at {width} px"
        co2e = browser.find_element(By.CSS_SELECTOR, "table.months td[data-label='CO2e']")
        assert co2e.is_displayed() and co2e.rect["x"] + co2e.rect["width"] <= width
        _screenshot(browser, shots / f"months-{width}.png")

        assert _log(browser) == ([], []), f"at {width} px"
        assert browser.execute_script("return typeof Plotly") == "object"

    # a running run's page follows the run: a sample arrives, the totals and charts change
    _width(browser, 1280)
    browser.get(f"{base}/?status=running")
    browser.find_element(By.CSS_SELECTOR, "a.run").click()
    wait.until(lambda d: dict((c, n) for c, n, _ in _charts_drawn(d)).get("chart-power", 0) >= 2)
    live = browser.execute_script("return document.body.dataset.run")
    before = browser.find_element(By.ID, "totals").text
    add_live_sample(team, live)
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "totals").text != before)
    wait.until(lambda d: "gpu:1" in d.execute_script(
        "return Array.from(document.querySelectorAll('#chart-energy .xtick text'))"
        ".map(t => t.textContent).join(' ')"))  # fmt: skip
    assert _log(browser) == ([], [])

    for png in shots.iterdir():
        assert png.stat().st_size > 10_000
    if ARTEFACTS:
        out = Path(ARTEFACTS) / request.node.callspec.id
        out.mkdir(parents=True, exist_ok=True)
        for png in shots.iterdir():
            shutil.copy(png, out / png.name)
    print(f"screenshots: {shots}")
