"""Reports in the formats organisations and model hubs read, each made from the ledger's
summaries and carrying the ledger's head and the verification of the records behind it:

* :mod:`~carbonledger.report.standards.boamps`: a Boavizta BoAmps report (JSON);
* :mod:`~carbonledger.report.standards.model_card`: the ``co2_eq_emissions`` metadata of a
  Hugging Face model card (YAML), and an existing card updated in place;
* :mod:`~carbonledger.report.standards.impact`: a Green Software Foundation Impact Framework
  manifest whose builtin plugins compute the carbon of each time bucket;
* :mod:`~carbonledger.report.standards.sci`: a Software Carbon Intensity score
  (ISO/IEC 21031:2024) per functional unit, each term with its source;
* :mod:`~carbonledger.report.standards.ghg`: GHG Protocol Scope 2 (location- and
  market-based) and Scope 3 (embodied hardware) for a project or a period, with the ESRS E1-5
  and E1-6 datapoints.

Each module is pure: it reads summaries and metadata and returns data or text; the command
line writes them. What a record does not hold is left out or marked, never guessed
(docs/standards.md says, field by field, what fills each one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from carbonledger._lazy import lazy_face

if TYPE_CHECKING:
    from carbonledger.report.standards import boamps, ghg, impact, model_card, sci
    from carbonledger.report.standards._common import record_dict

__all__ = ["boamps", "ghg", "impact", "model_card", "record_dict", "sci"]


__getattr__, __dir__ = lazy_face(
    __name__,
    __all__,
    {"record_dict": "carbonledger.report.standards._common"},
    [n for n in __all__ if n != "record_dict"],
)
