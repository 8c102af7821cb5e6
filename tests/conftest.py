"""Every test runs in its own user folders: no test reads or writes the real user's config
(signing key, trusted keys), data (ledger, journals) or cache, whatever its own fixtures do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: launcher variables that would make a test's tracker join another run
LAUNCHER_VARIABLES = (
    "TORCHELASTIC_RUN_ID",
    "SLURM_JOB_ID",
    "SLURM_STEP_ID",
    "LOCAL_RANK",
    "RANK",
    "CUDA_VISIBLE_DEVICES",
)


@pytest.fixture(autouse=True)
def _isolated_user_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    home = tmp_path / "user"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    for name in list(os.environ):
        if name.startswith("CARBONLEDGER_") or name in LAUNCHER_VARIABLES:
            monkeypatch.delenv(name, raising=False)
