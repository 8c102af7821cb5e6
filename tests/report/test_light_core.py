"""The core stays light: importing the package and the tracker loads none of the report's or
dashboard's heavy packages."""

from __future__ import annotations

import subprocess
import sys


def test_core_imports_no_plotting_web_or_live_display() -> None:
    code = (
        "import sys, carbonledger, carbonledger.run.tracker, carbonledger.report;"
        "heavy = [m for m in ('plotly', 'fastapi', 'uvicorn', 'starlette', 'rich.live')"
        " if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
