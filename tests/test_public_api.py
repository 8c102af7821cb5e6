"""The public API: small, explicit, complete, and usable from a fresh process."""

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


def test_all_is_complete_and_sorted() -> None:
    """Every public name the package offers is in ``__all__`` (and ``dir()`` shows them)."""
    assert list(carbonledger.__all__) == sorted(carbonledger.__all__)
    assert set(dir(carbonledger)) == set(carbonledger.__all__)
    public_modules = {"carbon", "predict", "testing"}
    assert public_modules <= set(carbonledger.__all__)


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="nope"):
        carbonledger.nope  # type: ignore[attr-defined]  # noqa: B018


def test_version_is_the_distribution_version() -> None:
    from importlib.metadata import version

    assert carbonledger.__version__ == version("carbonledger")


def test_first_run_of_a_fresh_process_is_recorded_and_verifies(tmp_path: Path) -> None:
    """A fresh process's first run lands in a new ledger, finished and sealed."""
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    code = (
        "from carbonledger import Tracker\n"
        f"t = Tracker(country='FR', ledger={str(tmp_path / 'l.sqlite')!r}, interval_s=0.05)\n"
        "t.start(); t.flush(); s = t.stop()\n"
        "assert s.status == 'completed' and s.energy_j >= 0, s\n"
        "print(s.run_id)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
        cwd=tmp_path,
    )  # fmt: skip
    run_id = out.stdout.strip()
    from carbonledger.ledger import open_ledger

    with open_ledger(str(tmp_path / "l.sqlite")) as ledger:
        summary = ledger.summary(run_id)
    assert summary.status == "completed" and summary.location == "FR"


def test_a_host_without_nvidia_driver_says_why(tmp_path: Path) -> None:
    """No driver node: discovery lists the GPU as unavailable, with the reason and the fix."""
    from carbonledger.sensors.discovery import NVIDIA_DRIVER_PATHS, discover

    if any(os.path.exists(p) for p in NVIDIA_DRIVER_PATHS):
        pytest.skip("this host has an NVIDIA driver")
    found = discover(scope="process")
    (why,) = [i for i in found.candidates if i.component == "gpu" and i.device == "gpu"]
    assert not why.available and "no NVIDIA driver" in why.reason and "nvidia-smi" in why.fix
