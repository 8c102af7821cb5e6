"""``carbonledger metric RUN NAME VALUE``: log a metric (accuracy, loss...) on a recorded run.

The one command of the report group that writes: it merges ``{"metrics": {NAME: VALUE}}``
into the run's metadata through the ledger's public API (``update_meta``). Reading commands
never write.
"""

from __future__ import annotations

import math
from typing import Annotated

import typer

from carbonledger.cli._common import (
    JsonOpt,
    LedgerOpt,
    emit_json,
    fail,
    fail_from,
)
from carbonledger.errors import CarbonLedgerError


def register(app: typer.Typer) -> None:
    @app.command("metric")
    def metric_command(
        run: Annotated[str, typer.Argument(help="A run id or unique prefix.")],
        name: Annotated[str, typer.Argument(help="The metric's name, e.g. accuracy.")],
        value: Annotated[str, typer.Argument(help="A number, e.g. 0.93.")],
        ledger: LedgerOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Log a metric on a run (kept beside its footprint; compared by `compare`)."""
        from carbonledger.ledger import open_ledger

        if not name.strip() or len(name) > 100:
            fail("the metric name must be 1 to 100 characters")
        try:
            parsed = float(value)
        except ValueError:
            fail(f"the metric value must be a number, got {value!r}")
        if not math.isfinite(parsed):
            fail(f"the metric value must be finite, got {value!r}")
        try:
            led = open_ledger(ledger, create=False)
            try:
                run_id = led.resolve_run_id(run)
                metrics = dict(led.run_record(run_id).meta.get("metrics") or {})
                metrics[name] = parsed
                from carbonledger.events import MetaUpdated

                led.record(run_id, [MetaUpdated({"metrics": metrics})])
            finally:
                led.close()
        except CarbonLedgerError as exc:
            fail_from(exc)
        if json_out:
            emit_json({"run_id": run_id, "metrics": metrics})
        else:
            typer.echo(f"{run_id}: {name} = {parsed}")
