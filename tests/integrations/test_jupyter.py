"""The notebook magics, executed in a real kernel by nbclient."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")  # installed by the dev extra: never skipped there
nbclient = pytest.importorskip("nbclient")

from carbonledger.errors import InputError  # noqa: E402
from carbonledger.integrations.jupyter import tracker_options  # noqa: E402

CELLS = [
    "%load_ext carbonledger",
    "%%carbon --no-ledger --project nb\ntotal = sum(i * i for i in range(100_000))",
    "print(type(_carbon).__name__, _carbon.project, _carbon.status)",
    "%carbon_start --ledger ledger.sqlite --project span",
    "a = sum(range(1000))",
    "%%carbon\nb = sum(range(1000))",
    "print(type(_carbon).__name__, _carbon.name)",
    "%carbon_stop",
    "print(_carbon.project, [w.path for w in _carbon.windows], _carbon.status)",
    "%%carbon --no-ledger\nraise ValueError('boom')",
    "print(_carbon.status)",
    "_carbon",
]


def _outputs(cell: Any) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", "") or "".join(out.get("traceback", [])))
    return "".join(parts)


@pytest.mark.filterwarnings("ignore:.*TCP.*encryption:UserWarning")
def test_magics_in_a_kernel(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    client = nbclient.NotebookClient(
        nb, timeout=120, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )  # fmt: skip
    client.execute(env=dict(os.environ))
    out = [_outputs(c) for c in nb.cells]
    assert "carbonledger: this cell used" in out[1] and "gCO2e" in out[1]
    assert out[2].strip() == "RunSummary nb completed"
    assert "started" in out[3]
    assert "carbonledger: this cell used" in out[5]
    assert out[6].strip() == "WindowSummary cell-1"  # inside the spanning run, not a run
    assert "carbonledger: run " in out[7]
    assert out[8].strip() == "span ['cell-1'] completed"
    assert "ValueError" in out[9] and "carbonledger: this cell used" in out[9]
    assert out[10].strip() == "failed"
    assert (tmp_path / "ledger.sqlite").exists()
    # figures by the one formatter: scaled units, never 5.44e-05 gCO2e
    line = out[1].strip()
    assert "e-0" not in line and " CO2e at " in line and "gCO2e/kWh" in line
    # `_carbon` shown in a notebook: one readable line, and a table
    (shown,) = [o for o in nb.cells[11]["outputs"] if o.get("output_type") == "execute_result"]
    text = shown["data"]["text/plain"]
    assert text.startswith("<RunSummary ") and "failed" in text and len(text) < 200, text
    assert "<table>" in shown["data"]["text/html"]


def test_magic_options() -> None:
    assert tracker_options("--project p --no-ledger", "%%carbon") == {
        "project": "p",
        "ledger": False,
    }
    assert tracker_options("", "%%carbon") == {}
    with pytest.raises(InputError, match="unknown argument"):
        tracker_options("--colour red", "%%carbon")
