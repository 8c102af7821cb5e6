"""The dashboard in a real headless Chromium (Debian's chromium and chromium-driver through
Selenium; no browser download): the runs page, a run's page, its charts drawn. Screenshots
are kept under the test's tmp dir. Skips, saying why, when the browser is not installed
(``make chromium`` installs it as root on Debian)."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
if not CHROMIUM or not Path(DRIVER).exists():
    pytest.skip(
        "no Debian chromium/chromium-driver (run 'make chromium' as root to install them)",
        allow_module_level=True,
    )
pytest.importorskip("selenium", reason="the browser test needs selenium (dev extra)")
pytest.importorskip("uvicorn", reason="the browser test needs uvicorn (web extra)")

TOKEN = "browser-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(ledger_path: Path) -> Iterator[str]:
    import uvicorn

    from carbonledger.web import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(str(ledger_path), token=TOKEN), host="127.0.0.1",
                            port=port, log_level="warning")  # fmt: skip
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
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
                 "--disable-sync", "--window-size=1280,1600"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _drawn_traces(driver: Any, chart: str) -> int:
    """The number of traces Plotly drew in ``chart``'s SVG (paths with a non-empty ``d``)."""
    return int(
        driver.execute_script(
            "const el = document.getElementById(arguments[0]);"
            "if (!el || !el.querySelector('svg.main-svg')) return 0;"
            "return Array.from(el.querySelectorAll('g.trace path, g.trace rect, path.js-line'))"
            ".filter(p => (p.getAttribute('d') || '').length > 10 || p.tagName === 'rect').length;",
            chart,
        )
    )


def test_runs_page_then_a_run_with_its_charts(server: str, browser: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{server}/")
    assert "token" in browser.page_source  # refused without it
    browser.get(f"{server}/?token={TOKEN}")
    wait = WebDriverWait(browser, 30)
    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "a.run")))
    assert "Organisation: 4 runs" in browser.find_element(By.ID, "org-totals").text
    wait.until(lambda d: _drawn_traces(d, "chart-over_time") > 0)
    browser.save_screenshot(str(tmp_path / "runs.png"))

    link = next(a for a in browser.find_elements(By.CSS_SELECTOR, "a.run")
                if a.text == "aaaa1111base0001")  # fmt: skip
    link.click()
    wait.until(ec.url_contains("/runs/aaaa1111base0001"))
    wait.until(lambda d: _drawn_traces(d, "chart-power") >= 2)
    assert _drawn_traces(browser, "chart-energy") > 0
    assert browser.execute_script("return typeof Plotly") == "object"
    browser.save_screenshot(str(tmp_path / "run.png"))
    assert (tmp_path / "run.png").stat().st_size > 10_000
    print(f"screenshots: {tmp_path}")
