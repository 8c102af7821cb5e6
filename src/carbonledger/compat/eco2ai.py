"""eco2AI's API, measured and recorded by carbonledger: change only the import line.

::

    # import eco2ai
    import carbonledger.compat.eco2ai as eco2ai

    tracker = eco2ai.Tracker(project_name="bert", alpha_2_code="FR", file_name="emission.csv")
    tracker.start()
    train()
    tracker.stop()

    tracker.start_training()
    for epoch in range(3):
        loss = train_one_epoch()
        tracker.new_epoch({"loss": loss})     # one row per epoch, as in eco2AI
    tracker.stop_training()

The file ``file_name`` gets eco2AI 0.3.12's columns and formats (see ``_eco_file``), one row
per ``start()`` (updated every ``measure_period`` seconds and at ``stop()``) or per training
epoch. ``encode_file`` makes a real encrypted copy (AES-256-GCM), not eco2AI's letter shift.
Each tracked span is also a run in the carbonledger ledger; each epoch is a window of it.

Misuse (``stop()`` before ``start()``, ``new_epoch`` outside training) is logged, not raised:
the user's work goes on. Arguments eco2AI rejects (a ``measure_period`` of 0 or less, a
``file_name`` not ending in ``.csv``, a ``region`` without ``alpha_2_code``) are rejected.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from carbonledger.accounting import co2e_g, facility_energy_kwh
from carbonledger.compat._base import (
    LOG,
    gpu_env,
    guard,
    host_facts,
    interval_s,
    place_of,
    start_tracker,
    stop_tracker,
    warn_unknown,
)
from carbonledger.compat._eco_file import encrypt_copy, resolve_key, upsert_row
from carbonledger.units import g_to_kg

if TYPE_CHECKING:
    from carbonledger.models import ComponentEnergy
    from carbonledger.run import Tracker as ClTracker

__all__ = [
    "IncorrectMethodSequenceError",
    "NoCountryCodeError",
    "NotNeededExtensionError",
    "Tracker",
    "track",
]

F = TypeVar("F", bound=Callable[..., Any])


class NotNeededExtensionError(ValueError):
    """A file name without the ``.csv`` extension (eco2AI's error)."""


class NoCountryCodeError(ValueError):
    """``region`` given without ``alpha_2_code`` (eco2AI's error)."""


class IncorrectMethodSequenceError(Exception):
    """eco2AI's error for calls out of order; here such calls are logged, not raised."""


def _check_file(name: object, what: str) -> None:
    if isinstance(name, str) and not name:
        raise TypeError(f"'{what}' parameter should have str type, not {type(name)}")
    if isinstance(name, str) and not name.endswith(".csv"):
        raise NotNeededExtensionError(f"'{what}' name need to be with extension '.csv'")


class Tracker:
    """eco2AI's ``Tracker`` (see the module's description). Extra keyword arguments:
    ``gpu_ids`` (GPUs to measure, as ``CUDA_VISIBLE_DEVICES``), ``ledger`` (a carbonledger
    ledger path, or False for none) and ``encode_key_file`` (the encrypted copy's key)."""

    def __init__(
        self,
        project_name: str | None = None,
        experiment_description: str | None = None,
        file_name: str | None = None,
        measure_period: float = 10,
        emission_level: float | None = None,
        alpha_2_code: str | None = None,
        region: str | None = None,
        cpu_processes: str = "current",
        pue: float | None = None,
        encode_file: str | bool | None = None,
        electricity_pricing: Mapping[str, float] | None = None,
        ignore_warnings: bool = False,
        timezone: Any = False,
        **kw: Any,
    ) -> None:
        if isinstance(measure_period, (int, float)) and measure_period <= 0:
            raise ValueError("'measure_period' should be positive number")
        if encode_file is not None and not isinstance(encode_file, str) and not encode_file:
            raise TypeError(
                f"'encode_file' parameter should have str type, not {type(encode_file)}"
            )
        _check_file(encode_file, "encode_file")
        _check_file(file_name, "file_name")
        if alpha_2_code is None and region is not None:
            raise NoCountryCodeError(
                "In order to set 'region' parameter, 'alpha_2_code' parameter should be set"
            )
        hook = kw.pop("_tracker_options", None) or {}
        self._key_file = kw.pop("encode_key_file", None)
        options: dict[str, Any] = {
            "project": project_name,
            "experiment": experiment_description,
            "country": alpha_2_code,
            "region": region,
            "grid_g_per_kwh": emission_level,  # kg/MWh is g/kWh
            "pue": pue,
            "scope": "machine" if cpu_processes == "all" else "process",
            "interval_s": interval_s(measure_period, "measure_period"),
            "env": gpu_env(kw.pop("gpu_ids", None)),
            "ledger": kw.pop("ledger", None),
            "tags": {"compat": "eco2ai"},
        }
        warn_unknown("eco2AI", kw)
        if electricity_pricing is not None:
            LOG.warning("electricity_pricing is not supported; the 'cost' column is left empty")
        self._options = {k: v for k, v in options.items() if v is not None} | dict(hook)
        self.project_name = project_name or "default project name"
        self.experiment_description = experiment_description or "default experiment description"
        self.file_name = file_name or "emission.csv"
        self._given_place = (alpha_2_code, region)
        self._pricing = electricity_pricing is not None
        self._measure_period = float(measure_period)
        self._encoded: Path | None = None
        if encode_file:
            name = encode_file if isinstance(encode_file, str) else "encoded_" + self.file_name
            self._encoded = Path(name)
        self._tracker: ClTracker | None = None
        self._mode = "first_time"
        self._epoch = 0
        self._epoch_started_s = 0.0
        self._started_s = 0.0
        self._stop_event = threading.Event()
        self._writer: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- eco2AI's accessors ------------------------------------------------------------------

    def id(self) -> str | None:
        """The id of the current rows (the carbonledger run id)."""
        return None if self._tracker is None else self._tracker.run_id

    def emission_level(self) -> float | None:
        """kg CO2e per MWh (= g/kWh) used for the current run (None before start)."""
        return None if self._tracker is None else self._tracker.intensity_g_per_kwh

    def measure_period(self) -> float:
        return self._measure_period

    def consumption(self) -> float:
        """kWh (PUE included) of the current row so far (0 when not measuring)."""
        if self._tracker is None:
            return 0.0
        summary = self._tracker.summary()
        return facility_energy_kwh(summary.energy_j, summary.pue)

    def price(self) -> float:
        return 0.0

    # --- plain tracking ----------------------------------------------------------------------

    @guard("start()")
    def start(self) -> None:
        """Start measuring; the row is written every ``measure_period`` s and at ``stop()``."""
        if self._mode == "training":
            LOG.warning("start() after start_training(): use new_epoch() and stop_training()")
            return
        if self._tracker is not None:
            self._finish()
        if not self._begin():
            return
        self._mode = "run time"
        self._stop_event.clear()
        self._writer = threading.Thread(
            target=self._write_periodically, name="carbonledger-eco2ai-writer", daemon=True
        )
        self._writer.start()

    @guard("stop()")
    def stop(self) -> None:
        """Stop measuring and write the final row (in training: as ``stop_training()``)."""
        if self._mode == "training":
            self.stop_training()
            return
        if self._tracker is None:
            LOG.warning("stop() before start(): nothing was measured")
            return
        self._finish()

    def _finish(self) -> None:
        self._stop_event.set()
        if self._writer is not None:
            self._writer.join()
        tracker, self._tracker = self._tracker, None
        assert tracker is not None
        summary = stop_tracker(tracker)
        if summary is not None:
            self._write(tracker, self._started_s, summary.duration_s, summary.components)
        self._mode = "shut down"

    def _write_periodically(self) -> None:
        while not self._stop_event.wait(self._measure_period):
            tracker = self._tracker
            if tracker is None:
                return
            try:
                summary = tracker.summary()
                self._write(tracker, self._started_s, summary.duration_s, summary.components)
            except Exception as exc:
                LOG.error("could not update %s: %s", self.file_name, exc)

    # --- training ----------------------------------------------------------------------------

    def start_training(self, start_epoch: int = 1) -> None:
        """Begin tracking a training: one row per epoch, written by :meth:`new_epoch`."""
        if not isinstance(start_epoch, int):
            raise TypeError(
                f'"start_epoch" parameter must be of int type. Now, it is {type(start_epoch)}'
            )
        guard("start_training()")(self._start_training)(start_epoch)

    def _start_training(self, start_epoch: int) -> None:
        if self._tracker is not None:
            self._finish()
        if not self._begin():
            return
        self._mode = "training"
        self._epoch = start_epoch
        self._begin_epoch()

    def _begin_epoch(self) -> None:
        assert self._tracker is not None
        self._epoch_started_s = time.time()
        self._tracker.begin_window(f"epoch-{self._epoch}")

    @guard("new_epoch()")
    def new_epoch(self, parameters_dict: Mapping[str, Any]) -> None:
        """Write the finished epoch's row (with ``parameters_dict``) and begin the next."""
        tracker = self._tracker
        if self._mode != "training" or tracker is None:
            LOG.warning("new_epoch() needs start_training() first; nothing was written")
            return
        window = tracker.end_window(f"epoch-{self._epoch}")
        params = "".join(f"{key}: {value}, " for key, value in parameters_dict.items())
        label = f"epoch: {self._epoch}, {params}"
        self._write(
            tracker, self._epoch_started_s, window.duration_s, window.components, epoch=label
        )
        self._epoch += 1
        self._begin_epoch()

    @guard("stop_training()")
    def stop_training(self) -> None:
        """End the training run (the epoch in progress is not written, as in eco2AI; it is in
        the ledger as the run's last window)."""
        tracker = self._tracker
        if self._mode != "training" or tracker is None:
            LOG.warning("stop_training() needs start_training() first")
            return
        self._tracker = None
        stop_tracker(tracker)
        self._mode = "shut down"

    # --- internals ---------------------------------------------------------------------------

    def _begin(self) -> bool:
        tracker = start_tracker(self._options)
        if tracker is None:
            return False
        self._tracker = tracker
        self._started_s = time.time()
        return True

    def _write(
        self,
        tracker: ClTracker,
        started_s: float,
        duration_s: float,
        components: tuple[ComponentEnergy, ...],
        epoch: str = "N/A",
    ) -> None:
        energy_j = sum(c.energy_j for c in components)
        co2e_kg = g_to_kg(
            co2e_g(energy_j, pue=tracker.pue, intensity_g_per_kwh=tracker.intensity_g_per_kwh)
        )
        row = {
            "id": tracker.run_id,
            "project_name": str(self.project_name),
            "experiment_description": str(self.experiment_description),
            "epoch": epoch,
            "start_time": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started_s)),
            "duration(s)": str(duration_s),
            "power_consumption(kWh)": str(facility_energy_kwh(energy_j, tracker.pue)),
            "CO2_emissions(kg)": str(co2e_kg),
            "CPU_name": self._cpu_name(tracker),
            "GPU_name": self._gpu_name(tracker),
            "OS": host_facts().os_system,
            "region/country": self._place(tracker),
            "cost": "" if self._pricing else "0",
        }
        path = Path(self.file_name)
        with self._lock:
            upsert_row(path, row, add_new=epoch != "N/A")
            if self._encoded is not None:
                encrypt_copy(path, self._encoded, resolve_key(self._key_file))

    @staticmethod
    def _cpu_name(tracker: ClTracker) -> str:
        cpus = [i for i in tracker.sensors if i.component == "cpu"]
        model = next((i.model for i in cpus if i.model), "N/A")
        return f"{model}/{max(len(cpus), 1)} device(s), TDP:N/A"

    @staticmethod
    def _gpu_name(tracker: ClTracker) -> str:
        gpus = [i for i in tracker.sensors if i.component == "gpu"]
        model = next((i.model for i in gpus if i.model), "")
        return f"{model} {len(gpus)} device(s)"

    def _place(self, tracker: ClTracker) -> str:
        country, region = self._given_place
        if country:
            return f"{country}/{region}" if region is not None else str(country)
        return place_of(tracker.location).country_alpha2 or tracker.location


def track(func: F) -> F:
    """eco2AI's decorator: each call of ``func`` is tracked by a default :class:`Tracker`."""

    @functools.wraps(func)
    def inner(*args: Any, **kwargs: Any) -> Any:
        tracker = Tracker()
        tracker.start()
        try:
            return func(*args, **kwargs)
        finally:
            tracker.stop()

    return inner  # type: ignore[return-value]
