"""Dashboard benchmark: the time and size of its pages over 1,000 runs, on SQLite and on
PostgreSQL.

Run: ``.venv/bin/python benchmarks/dashboard.py`` (SQLite in a temporary folder, and a
PostgreSQL server of its own when Debian's server binaries are installed; ``--runs N``).
The ledger is the dashboard tests' team ledger (``tests/web/dashdata.py``: two projects,
four experiments, a run every ~2.4 hours over 100 days, four signed sample batches each,
one run still running). The dashboard is served by uvicorn on loopback and read over HTTP:

* **first**: the first request after the server starts (every run's summary read);
* **again**: the same page once more (the summaries kept: the ledger's head did not change;
  the running run read again);
* **after a write**: a sample batch appended to the running run first (the head changed:
  every summary read again, as on a ledger a run is writing to);
* **browser**: with Chromium installed, the time to the page's ``load`` event in a real
  browser (plotly.js cached), and its charts drawn.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    ("runs table", "/"),
    ("runs table, filtered and sorted, page 3", "/?project=vision&sort=co2e&page=3"),
    ("runs table, 500 rows", "/?per=500"),
    ("project", "/project?name=vision"),
    ("experiment", "/experiment?project=nlp&name=bert-large"),
    ("months", "/months"),
    ("projects", "/projects"),
    ("CSV of every run", "/runs.csv"),
]


def _dashdata() -> Any:
    spec = importlib.util.spec_from_file_location(
        "dashdata", ROOT / "tests" / "web" / "dashdata.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["dashdata"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _serve(target: str) -> tuple[str, Callable[[], None]]:
    import uvicorn

    from carbonledger.web import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(create_app(target), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return f"http://127.0.0.1:{port}", stop


def _get(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as r:
        size = len(r.read())
    return time.perf_counter() - t0, size


def _browser_times(base: str) -> list[tuple[str, float, int]]:
    """(page, seconds to the load event, charts drawn) in Chromium; [] without it."""
    import shutil

    chromium = shutil.which("chromium")
    if not chromium or not Path("/usr/bin/chromedriver").exists():
        return []
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return []
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--window-size=1280,900"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    out = []
    try:
        driver.get(base + "/project?name=vision")  # plotly.js into the cache
        for _, path in PAGES[:2] + PAGES[3:6]:
            driver.get(base + path)
            load = driver.execute_script(
                "const n = performance.getEntriesByType('navigation')[0];"
                "return n.loadEventEnd - n.startTime;"
            )
            time.sleep(0.5)
            charts = driver.execute_script(
                "return document.querySelectorAll('svg.main-svg').length"
            )
            out.append((path, float(load) / 1e3, int(charts)))
    finally:
        driver.quit()
    return out


def bench(target: str, label: str, runs: int) -> None:
    dashdata = _dashdata()
    t0 = time.perf_counter()
    plan = dashdata.build_team_ledger(target, runs)
    print(f"\n## {label}: {runs:,} runs written in {time.perf_counter() - t0:.1f} s\n")
    live = next(p.run_id for p in plan if p.status == "running")
    base, stop = _serve(target)
    try:
        print("| page | first | again | after a write | size |")
        print("| --- | --- | --- | --- | --- |")
        for name, path in PAGES:
            first, size = _get(base + path)
            again, _ = _get(base + path)
            dashdata.add_live_sample(target, live)
            written, _ = _get(base + path)
            print(f"| {name} (`{path}`) | {first * 1e3:.0f} ms | {again * 1e3:.0f} ms | "
                  f"{written * 1e3:.0f} ms | {size / 1e3:.0f} kB |")  # fmt: skip
        times = _browser_times(base)
        if times:
            print("\n| page in Chromium | to the load event | charts drawn |")
            print("| --- | --- | --- |")
            for path, seconds, charts in times:
                print(f"| `{path}` | {seconds * 1e3:.0f} ms | {charts} |")
    finally:
        stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--postgres", help="also measure this (empty) PostgreSQL database")
    args = parser.parse_args()
    os.environ.setdefault("CARBONLEDGER_NO_CLOUD_PROBE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")  # a key of its own
        bench(str(Path(tmp) / "ledger.db"), "SQLite", args.runs)
        if args.postgres:
            bench(args.postgres, "PostgreSQL", args.runs)
        else:
            sys.path.insert(0, str(Path(__file__).parent))
            import shutil

            from scale import start_postgres, stop_postgres

            pg_root = Path(
                tempfile.mkdtemp(prefix="carbonledger-bench-pg-")
            )  # the server's user reaches it
            try:
                try:
                    url, pg = start_postgres(pg_root)
                except Exception as exc:  # no server binaries here: say so
                    print(f"\nPostgreSQL not measured: {exc}", file=sys.stderr)
                    return 0
                try:
                    bench(url, "PostgreSQL", args.runs)
                finally:
                    stop_postgres(pg)
            finally:
                shutil.rmtree(pg_root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
