"""Summaries and reports (know nothing of sensors)."""

from carbonledger.report.text import format_energy_j, format_summary

__all__ = ["format_energy_j", "format_summary"]
