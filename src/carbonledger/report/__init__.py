"""Summaries and reports (know nothing of sensors).

The text summary (:func:`format_summary`) is light; comparisons, region what-ifs and
paper statements are pure functions of ledger summaries; the HTML report needs the
``report`` extra (plotly), imported only inside :mod:`carbonledger.report.html`.
"""

from carbonledger.report.text import format_energy_j, format_mass_g, format_summary

__all__ = ["format_energy_j", "format_mass_g", "format_summary"]
