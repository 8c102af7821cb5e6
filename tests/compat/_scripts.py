"""Running a user's script for CodeCarbon or eco2AI with its import line swapped."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from carbonledger.testing import FakePowercap


def run_swapped(
    tmp_path: Path,
    script: str,
    original: str,
    replacement: str,
    *,
    args: tuple[str, ...] = (),
    cwd: Path | None = None,
    dram: bool = False,
) -> subprocess.CompletedProcess[str]:
    """Run ``script`` (which holds ``original`` once) with ``original`` replaced by
    ``replacement``, in a fresh interpreter that reads a fake powercap tree (one package,
    with a DRAM domain when ``dram``); fail the test unless it exits 0."""
    assert script.count(original) == 1
    path = tmp_path / "train.py"
    path.write_text(script.replace(original, replacement))
    powercap = FakePowercap(tmp_path / "powercap")
    powercap.add_package(0, dram=dram)
    env = {**os.environ, "CARBONLEDGER_POWERCAP_ROOT": str(powercap.root)}
    done = subprocess.run(
        [sys.executable, str(path), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done
