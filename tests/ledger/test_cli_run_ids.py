"""`runs` never cuts what identifies a run: each printed id is a prefix `show` accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from carbonledger.events import RunOpened
from carbonledger.ledger import RunRecord, open_ledger


def _record(run_id: str, project: str) -> RunRecord:
    return RunRecord(run_id, project, "e", 1_700_000_000.0, "process", "FR", "argument",
                     50.0, "table", 1.0, "assumed")  # fmt: skip


def test_printed_ids_are_unique_prefixes_in_the_whole_ledger(tmp_path: Path) -> None:
    path = str(tmp_path / "l.sqlite")
    twins = ["abcdef0123456789aaaa", "abcdef0123456789bbbb"]  # share 16 characters
    with open_ledger(path) as ledger:
        ledger.record(twins[0], [RunOpened(_record(twins[0], "listed"))])
        ledger.record(twins[1], [RunOpened(_record(twins[1], "other"))])
    out = subprocess.run(
        [sys.executable, "-m", "carbonledger", "runs", "--ledger", path, "--project", "listed"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    (row,) = out.stdout.splitlines()[1:]
    printed = row.split()[0]
    assert twins[0].startswith(printed) and not twins[1].startswith(printed), printed
    show = subprocess.run(
        [sys.executable, "-m", "carbonledger", "show", printed, "--ledger", path, "--json"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert show.returncode == 0 and twins[0] in show.stdout, show.stderr
