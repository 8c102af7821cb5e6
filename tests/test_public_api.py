"""The public API: small, explicit, complete, and cheap to import."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import carbonledger


def test_all_names_resolve() -> None:
    for name in carbonledger.__all__:
        assert getattr(carbonledger, name) is not None, name


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        carbonledger.nope  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "nope" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected AttributeError")


def test_import_pulls_in_nothing_heavy() -> None:
    code = (
        "import sys, carbonledger\n"
        "heavy = [m for m in ('psutil','pynvml','yaml','cryptography','typer','rich','sqlite3',"
        "'numpy','psycopg','http.server','urllib.request') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


#: never loaded by importing the tracker, nor by a first start() and stop() (docs/performance.md)
OFF_THE_TRACKER_PATH = (
    "pynvml", "yaml", "cryptography", "typer", "rich", "numpy", "psycopg", "http.server",
    "typing", "dataclasses", "inspect", "pathlib", "logging", "hashlib", "platform",
    "subprocess", "urllib.parse", "contextlib", "json", "threading", "csv", "signal",
    # the sqlite3 package (its date adapters import datetime: the ledger uses _sqlite3),
    # and extension modules whose loading costs ~0.6 ms each here
    "sqlite3", "datetime", "math", "binascii", "unicodedata",
)  # fmt: skip
#: ... nor this, once the CPU's TDP is in the user's cache (a miss normalises CPU names with re
#: and reads the CPU table with _csv)
OFF_THE_WARM_PATH = (*OFF_THE_TRACKER_PATH, "re", "enum", "_csv")


def test_tracker_import_stays_light() -> None:
    code = (
        "import sys\nfrom carbonledger import Tracker\n"
        f"heavy = [m for m in {OFF_THE_WARM_PATH!r} if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_first_start_and_stop_stay_light(tmp_path: Path) -> None:
    """A fresh process's first run, sealed in its ledger, loads none of them either."""
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    for heavy_modules in (OFF_THE_TRACKER_PATH, OFF_THE_WARM_PATH):  # empty, then warm cache
        code = (
            "import sys\nfrom carbonledger import Tracker\n"
            f"t = Tracker(country='FR', ledger={str(tmp_path / 'l.sqlite')!r}, interval_s=0.05)\n"
            "t.start(); t.flush(); s = t.stop()\n"
            "assert s.status == 'completed' and s.energy_j >= 0, s\n"
            f"heavy = [m for m in {heavy_modules!r} if m in sys.modules]\n"
            "print(','.join(heavy))"
        )
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
            cwd=tmp_path,  # no project file: one that configures carbonledger is parsed (tomllib)
        )  # fmt: skip
        assert out.stdout.strip() == ""
    from carbonledger.ledger import verify

    assert verify(str(tmp_path / "l.sqlite")).ok


def test_a_host_without_nvidia_driver_loads_no_nvml_code(tmp_path: Path) -> None:
    """No driver node: discovery says why without loading the NVML sensor module; a tracker
    told its country asks no network, so the HTTP code stays unloaded too."""
    from carbonledger.sensors.discovery import NVIDIA_DRIVER_PATHS

    if any(os.path.exists(p) for p in NVIDIA_DRIVER_PATHS):
        pytest.skip("this host has an NVIDIA driver")
    code = (
        "import sys\nfrom carbonledger import Tracker\n"
        f"t = Tracker(country='FR', ledger={str(tmp_path / 'l.sqlite')!r})\n"
        "t.start(); s = t.stop()\n"
        "mods = ('carbonledger.sensors.nvml', 'carbonledger.sensors._gpu', 'pynvml', "
        "'carbonledger.carbon._http', 'urllib.request')\n"
        "print(','.join(m for m in mods if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == ""
    from carbonledger.sensors.discovery import discover

    found = discover(scope="process")
    (why,) = [i for i in found.candidates if i.component == "gpu" and i.device == "gpu"]
    assert not why.available and "no NVIDIA driver" in why.reason and "nvidia-smi" in why.fix
