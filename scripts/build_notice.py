"""Assemble NOTICE from notices/*.md (one file per area, written beside the tables it cites).

Run: ``.venv/bin/python scripts/build_notice.py`` (a test fails when NOTICE is stale).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEADER = """carbonledger
Copyright (c) 2026 the carbonledger developers. The code is MIT-licensed (see LICENSE).

The data tables shipped inside the package are compiled from public datasets by the
scripts in scripts/. Only figures and facts were taken from them, never code or prose.
Every row of every table names its source, year and licence. The sources, their licences
and the attribution each requires follow, area by area.
"""


def render() -> str:
    parts = [HEADER]
    for path in sorted((ROOT / "notices").glob("*.md")):
        parts.append("=" * 78)
        parts.append(path.read_text().strip() + "\n")
    return "\n".join(parts)


def main() -> int:
    (ROOT / "NOTICE").write_text(render())
    print(f"wrote {ROOT / 'NOTICE'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
