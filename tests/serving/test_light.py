"""Importing the serving integration loads neither the proxy's web stack nor prometheus_client:
they are imported by the functions that use them."""

from __future__ import annotations

import os
import subprocess
import sys


def test_importing_the_serving_package_loads_no_heavy_module() -> None:
    code = (
        "import sys\n"
        "import carbonledger.integrations.serving as s\n"
        "s.RequestMeter, s.ServingSidecar, s.ENGINES\n"
        "heavy = ['prometheus_client', 'httpx', 'starlette', 'uvicorn', 'fastapi', 'anyio']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ
    )
    assert done.stdout.strip() == ""
