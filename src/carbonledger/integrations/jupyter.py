"""IPython / Jupyter magics: ``%load_ext carbonledger``.

::

    %load_ext carbonledger

    %%carbon                      # this cell's footprint, printed under it
    model.fit(x, y)

    %carbon_start --project demo  # a run that spans cells ...
    ...
    %carbon_stop                  # ... printed and kept in the variable `_carbon`

Options of ``%carbon_start`` and ``%%carbon``: ``--project``, ``--experiment``,
``--country``, ``--region``, ``--ledger PATH`` and ``--no-ledger``. While a spanning run is
open, ``%%carbon`` measures its cell as a window of that run (``cell-N``) instead of a run
of its own, so nothing is counted twice. The latest summary (a
:class:`~carbonledger.RunSummary` or, for a window, a :class:`~carbonledger.WindowSummary`)
is stored in the notebook's variable ``_carbon``. Energy in joules, CO2e in grams.
"""

from __future__ import annotations

import argparse
import shlex
from typing import TYPE_CHECKING, Any

from carbonledger.errors import InputError

if TYPE_CHECKING:
    from carbonledger.models import RunSummary, WindowSummary
    from carbonledger.run import Tracker

__all__ = ["load_ipython_extension", "unload_ipython_extension"]

#: the variable of the notebook that holds the latest footprint
RESULT_NAME = "_carbon"


def _parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, add_help=False, exit_on_error=False)
    for name in ("project", "experiment", "country", "region", "ledger"):
        parser.add_argument(f"--{name}")
    parser.add_argument("--no-ledger", action="store_true")
    return parser


def tracker_options(line: str, prog: str) -> dict[str, Any]:
    """Tracker arguments from a magic's line (``--project demo --no-ledger``)."""
    try:
        args, rest = _parser(prog).parse_known_args(shlex.split(line))
    except (argparse.ArgumentError, ValueError) as exc:
        raise InputError(f"{prog}: {exc}") from None
    if rest:
        raise InputError(
            f"{prog}: unknown argument(s) {' '.join(rest)}; use --project, --experiment, "
            "--country, --region, --ledger PATH or --no-ledger"
        )
    options: dict[str, Any] = {
        k: v for k, v in vars(args).items() if v is not None and k != "no_ledger"
    }
    if args.no_ledger:
        options["ledger"] = False
    return options


def footprint_line(what: str, result: RunSummary | WindowSummary, tracker: Tracker) -> str:
    """One line: energy, how much of it measured, CO2e and its basis, duration (figures by
    the one formatter, :mod:`carbonledger.report.format`)."""
    from carbonledger.report import format as fmt

    components = result.components
    total_j = sum(c.energy_j for c in components)
    measured_j = sum(c.energy_j for c in components if c.measured)
    share = measured_j / total_j if total_j > 0 else 0.0
    co2e = "CO2e not accounted" if result.co2e_g is None else f"{fmt.mass(result.co2e_g)} CO2e"
    return (
        f"carbonledger: {what} used {fmt.energy(total_j)} ({fmt.percent(share)} measured), "
        f"{co2e} at {fmt.intensity(tracker.intensity_g_per_kwh)} ({tracker.location}), "
        f"PUE {fmt.pue(tracker.pue)}, {fmt.duration(result.duration_s)}"
    )


class CarbonMagics:
    """The state behind the magics: the spanning run, if one is open."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.tracker: Tracker | None = None
        self._cells = 0

    def start(self, line: str) -> None:
        from carbonledger.run import Tracker

        if self.tracker is not None:
            print("carbonledger: a run is already open; %carbon_stop ends it")
            return
        self.tracker = Tracker(**tracker_options(line, "%carbon_start")).start()
        print(f"carbonledger: run {self.tracker.run_id} started; %carbon_stop ends it")

    def stop(self, line: str) -> None:
        tracker, self.tracker = self.tracker, None
        if tracker is None:
            print("carbonledger: no run is open; %carbon_start opens one")
            return
        summary = tracker.stop()
        self.shell.user_ns[RESULT_NAME] = summary
        print(footprint_line(f"run {summary.run_id}", summary, tracker))

    def cell(self, line: str, cell: str) -> None:
        from carbonledger.run import Tracker

        if self.tracker is not None:
            if line.strip():
                raise InputError("%%carbon takes no options while a %carbon_start run is open")
            self._cells += 1
            name = f"cell-{self._cells}"
            self.tracker.begin_window(name)
            try:
                self.shell.run_cell(cell, store_history=False)
            finally:
                window = self.tracker.end_window(name)
            self.shell.user_ns[RESULT_NAME] = window
            print(footprint_line("this cell", window, self.tracker))
            return
        tracker = Tracker(**tracker_options(line, "%%carbon")).start()
        status = "completed"
        try:
            result = self.shell.run_cell(cell, store_history=False)
            if not getattr(result, "success", True):
                status = "failed"
        finally:
            summary = tracker.stop("completed" if status == "completed" else "failed")
        self.shell.user_ns[RESULT_NAME] = summary
        print(footprint_line("this cell", summary, tracker))


_STATE: dict[int, CarbonMagics] = {}


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%carbon``, ``%carbon_start`` and ``%carbon_stop`` (``%load_ext``)."""
    magics = CarbonMagics(ipython)
    _STATE[id(ipython)] = magics
    ipython.register_magic_function(magics.cell, magic_kind="cell", magic_name="carbon")
    ipython.register_magic_function(magics.start, magic_kind="line", magic_name="carbon_start")
    ipython.register_magic_function(magics.stop, magic_kind="line", magic_name="carbon_stop")


def unload_ipython_extension(ipython: Any) -> None:
    """Stop a spanning run still open (``%unload_ext``)."""
    magics = _STATE.pop(id(ipython), None)
    if magics is not None and magics.tracker is not None:
        magics.stop("")
