"""A compute statement for a paper: one paragraph and a small table (Markdown or LaTeX)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from carbonledger.models import RunSummary
from carbonledger.report import format as fmt
from carbonledger.report.data import LedgerStatus
from carbonledger.report.text import brief_source, format_energy_j, format_mass_g

__all__ = ["paper_statement", "statement_rows"]

Format = Literal["md", "latex"]


_LABELS = {"cpu": "CPU", "gpu": "GPU", "ram": "RAM", "npu": "NPU", "soc": "SoC"}


def _hardware(s: RunSummary) -> str:
    """``"CPU: Intel Xeon ...; 8 x NVIDIA H100 80GB HBM3 GPU; RAM"``: each component's
    models, counted, ready to paste (memory has no model worth naming)."""
    parts = []
    for comp in sorted({c.component for c in s.components}, key=lambda c: (c != "gpu", c)):
        label = _LABELS.get(comp, comp.upper())
        devices = [c for c in s.components if c.component == comp]
        models: dict[str, int] = {}
        for c in devices:
            if c.model:
                models[c.model] = models.get(c.model, 0) + 1
        if not models or comp == "ram":
            parts.append(label if len(devices) == 1 else f"{len(devices)} x {label}")
            continue
        named = [f"{n} x {m}" if n > 1 else m for m, n in sorted(models.items())]
        parts.append(f"{label}: {', '.join(named)}")
    return "; ".join(parts) or "none recorded"


def _hardware_prose(s: RunSummary) -> str:
    """The hardware in a sentence: ``"8 x NVIDIA H100 (GPU), an Intel Xeon (CPU) and memory"``."""
    items = []
    for comp in sorted({c.component for c in s.components}, key=lambda c: (c != "gpu", c)):
        devices = [c for c in s.components if c.component == comp]
        if comp == "ram":
            items.append("memory")
            continue
        label = _LABELS.get(comp, comp.upper())
        models: dict[str, int] = {}
        for c in devices:
            models[c.model or label] = models.get(c.model or label, 0) + 1
        items += [f"{f'{n} x ' if n > 1 else ''}{m} ({label})" for m, n in sorted(models.items())]
    if not items:
        return "no recorded hardware"
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _pue(s: RunSummary) -> str:
    """The PUE and where it came from, without advice on how to set it."""
    source = re.split(r";\s*(?:pass |set )", s.pue_source, maxsplit=1)[0].strip()
    return f"{s.pue:g} ({source})" if source else f"{s.pue:g}"


def _method(s: RunSummary) -> str:
    parts = sorted(
        {
            f"{c.component}: {'measured' if c.measured else 'estimated'} ({c.method})"
            for c in s.components
        }
    )
    return "; ".join(parts) or "no component"


def _record(status: LedgerStatus | None) -> str:
    """How the record behind the statement was checked, ready to paste."""
    if status is None:
        return ""
    if status.anchored:
        keys = ", ".join(status.signers) or "a trusted key"
        return f"verified against the signing key {keys}; ledger head {status.head}"
    return (
        f"signatures consistent but not anchored to a key the reader trusts; ledger head "
        f"{status.head}"
    )


def statement_rows(
    s: RunSummary, *, ledger_head: str = "", version: str = "", status: LedgerStatus | None = None
) -> list[tuple[str, str]]:
    """``(quantity, value)`` rows of the statement table."""
    co2e = format_mass_g(s.co2e_g)
    if s.co2e_high_g > s.co2e_low_g:
        co2e += f" (range {format_mass_g(s.co2e_low_g)} to {format_mass_g(s.co2e_high_g)})"
    rows = [
        ("Hardware", _hardware(s)),
        ("Duration", fmt.duration(s.duration_s)),
        ("Energy (IT)", f"{format_energy_j(s.energy_j)}, {fmt.percent(s.measured_share)} measured"),
        ("CO2e (location-based)", co2e),
        ("Location", f"{s.location} ({s.location_source})"),
        ("Grid intensity", f"{fmt.sig3(s.intensity_g_per_kwh)} gCO2e/kWh ({s.intensity_source})"),
        ("PUE", _pue(s)),
        *(
            [
                (
                    "Water (on site)",
                    f"{fmt.litres(s.water_l)} (WUE {fmt.sig3(s.wue_l_per_kwh)} "
                    f"L/kWh, {s.water_source})",
                )
            ]
            if s.water_l is not None and s.wue_l_per_kwh is not None
            else []
        ),
        ("Method", _method(s)),
        ("Tool", f"carbonledger {version}".strip()),
    ]
    if status is not None:
        rows.append(("Record", _record(status)))
    elif ledger_head:
        rows.append(("Ledger head", ledger_head))
    return rows


def _latex_escape(text: str) -> str:
    table = {
        "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
        "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}",
    }  # fmt: skip
    return "".join(table.get(ch, ch) for ch in text)


def _paragraph(s: RunSummary, version: str, ledger_head: str, status: LedgerStatus | None) -> str:
    text = (
        f"The computation ran for {fmt.duration(s.duration_s)} on {_hardware_prose(s)} and used "
        f"{format_energy_j(s.energy_j)} of IT energy ({fmt.percent(s.measured_share)} measured "
        f"by hardware counters, the rest estimated). With a PUE of {s.pue:g} and a grid "
        f"intensity of {fmt.sig3(s.intensity_g_per_kwh)} gCO2e/kWh for {s.location} "
        f"({brief_source(s.intensity_source, 60)}), this corresponds to "
        f"{format_mass_g(s.co2e_g)} CO2e"
    )
    if s.co2e_high_g > s.co2e_low_g:
        text += f" (range {format_mass_g(s.co2e_low_g)} to {format_mass_g(s.co2e_high_g)})"
    text += f", as recorded by carbonledger {version}".rstrip()
    if status is not None and status.anchored:
        text += " in a signed ledger (the run's record verified against its signing key)"
    elif status is not None:
        text += " in a signed ledger (not anchored: no trusted key was given)"
    elif ledger_head:
        text += f" in a ledger whose head is {ledger_head}"
    return text + "."


def paper_statement(
    s: RunSummary,
    fmt_name: Format,
    *,
    version: str = "",
    ledger_head: str = "",
    status: LedgerStatus | None = None,
) -> str:
    """The statement of run ``s`` in Markdown (``md``) or LaTeX (``latex``). ``status`` is
    the run's verified record (see :func:`carbonledger.report.data.run_status`): a statement
    is only made from a record that verifies, and says whether it was anchored to a key."""
    if status is not None and not status.ok:
        from carbonledger.errors import IntegrityError

        raise IntegrityError(f"the run's record does not verify: {status.problems[0]}")
    rows = statement_rows(s, ledger_head=ledger_head, version=version, status=status)
    para = _paragraph(s, version, ledger_head, status)
    if fmt_name == "md":
        lines = [para, "", "| Quantity | Value |", "| --- | --- |"]
        lines += [f"| {k} | {v.replace('|', '/')} |" for k, v in rows]
        return "\n".join(lines) + "\n"
    body: Sequence[str] = [f"{_latex_escape(k)} & {_latex_escape(v)} \\\\" for k, v in rows]
    return (
        "\n".join(
            [
                _latex_escape(para),
                "",
                "\\begin{table}[h]",
                "\\centering",
                "\\begin{tabular}{ll}",
                "\\hline",
                "Quantity & Value \\\\",
                "\\hline",
                *body,
                "\\hline",
                "\\end{tabular}",
                "\\caption{Compute and carbon footprint (carbonledger).}",
                "\\end{table}",
            ]
        )
        + "\n"
    )
