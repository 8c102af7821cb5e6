"""What-if: the same run on other accelerators. (The same run in other places is the one
region ranking, :func:`carbonledger.report.regions.rank_regions`.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from carbonledger.errors import InputError
from carbonledger.predict.estimate import Estimate, training

__all__ = ["MEASURED_FACTS", "compare_accelerators"]

#: training() arguments that describe one hardware set-up and do not carry to another
MEASURED_FACTS = ("device_hours", "mfu", "avg_power_w")


def compare_accelerators(names: Sequence[str], **training_kwargs: Any) -> list[Estimate]:
    """The same run (``training_kwargs`` of :func:`training`) on each accelerator of
    ``names``. Measured facts (device-hours, MFU, power) belong to the original hardware:
    they are dropped, and the estimates say so."""
    if not names:
        raise InputError("give at least one accelerator to compare, e.g. A100,H100,TPUv4")
    base = {k: v for k, v in training_kwargs.items() if k not in ("accelerator", *MEASURED_FACTS)}
    dropped = [k for k in MEASURED_FACTS if training_kwargs.get(k) is not None]
    out = []
    for name in names:
        est = training(accelerator=name.strip(), **base)
        if dropped:
            note = f"{', '.join(dropped)} of the original hardware not carried over: priors used"
            est = replace(est, assumptions=(*est.assumptions, note))
        out.append(est)
    return out
