"""docs/cli.md documents every command and is up to date with the code."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location(
        "gen_cli_docs", ROOT / "scripts" / "gen_cli_docs.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.render()
    current = (ROOT / "docs" / "cli.md").read_text()
    assert current == expected, "docs/cli.md is stale: run .venv/bin/python scripts/gen_cli_docs.py"
    for cmd in (
        "run",
        "doctor",
        "monitor",
        "intensity",
        "estimate",
        "runs",
        "show",
        "verify",
        "export",
    ):
        assert f"## `carbonledger {cmd}`" in current
