"""Summaries and reports: every output (know nothing of sensors).

The text summary (:func:`format_summary`) is light; comparisons, region what-ifs and
paper statements are pure functions of ledger summaries; the HTML report needs the
``report`` extra (plotly), imported only inside :mod:`carbonledger.report.html`.

The public surface is :data:`__all__`: the three names below and one module per output,
each loaded on first use:

* :mod:`~.format` the one formatter of numbers, :mod:`~.text` summaries as text;
* :mod:`~.data` what a report shows, gathered from a ledger; :mod:`~.html` and
  :mod:`~.figures` the HTML report and its charts; :mod:`~.paper` the statement for a paper;
* :mod:`~.compare` A/B deltas; :mod:`~.aggregate` what several runs add up to (totals
  with ranges, months, experiments compared); :mod:`~.regions` the one region ranking;
* :mod:`~.export` CSV (CodeCarbon's columns) and JSON Lines; :mod:`~.crypto` encrypted
  exports; :mod:`~.prometheus` and :mod:`~.otel` metrics.

``samples`` and ``windows`` are internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face
from carbonledger.report.text import format_energy_j, format_mass_g, format_summary

if TYPE_CHECKING:
    from carbonledger.report import (
        aggregate,
        compare,
        crypto,
        data,
        export,
        figures,
        format,
        html,
        otel,
        paper,
        prometheus,
        regions,
        standards,
        text,
    )

__all__ = [
    "aggregate",
    "compare",
    "crypto",
    "data",
    "export",
    "figures",
    "format",
    "format_energy_j",
    "format_mass_g",
    "format_summary",
    "html",
    "otel",
    "paper",
    "prometheus",
    "regions",
    "standards",
    "text",
]

#: the modules among the public names (the rest are bound above)
_SUBMODULES = tuple(n for n in __all__ if n not in globals())


__getattr__, __dir__ = lazy_face(__name__, __all__, submodules=_SUBMODULES)
