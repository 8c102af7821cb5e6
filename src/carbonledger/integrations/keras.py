"""Keras 3: a ``Callback`` that measures each epoch and its train / validation phases and
puts energy (J) and CO2e (g) into the epoch's ``logs`` (so ``History``, ``CSVLogger``,
TensorBoard and the progress bar show them).

::

    from carbonledger.integrations.keras import CarbonCallback

    model.fit(x, y, epochs=10, validation_split=0.2, callbacks=[CarbonCallback(project="mlp")])

The keys are those of :mod:`carbonledger.integrations._common` (``carbon/epoch_energy_j``
...). Keras calls ``on_epoch_end`` of the callbacks in the order given and ``History`` last,
so the metrics reach ``model.history``; put this callback first to have the others see them
too. Any Keras 3 backend works (the tests use ``KERAS_BACKEND=torch``).

Keras 3 needs a backend, and its default is TensorFlow, which ``carbonledger[integrations]``
does not install: the extra installs PyTorch. Set ``KERAS_BACKEND=torch`` (or ``"backend":
"torch"`` in ``~/.keras/keras.json``) before Keras is imported; when no backend is set and
TensorFlow is missing, importing this module says so instead of Keras's ``No module named
'tensorflow'``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carbonledger.integrations._common import EpochRecorder, Sink, epochs_from, require

if TYPE_CHECKING:
    from carbonledger.models import RunSummary
    from carbonledger.run import Tracker

__all__ = ["CarbonCallback", "missing_backend"]


def missing_backend(env: Mapping[str, str] | None = None) -> str | None:
    """Why Keras cannot start here, or None: no backend is chosen (``KERAS_BACKEND``, the
    ``backend`` of ``$KERAS_HOME/keras.json`` or ``~/.keras/keras.json``) and its default,
    TensorFlow, is not installed; the message names the backend to choose."""
    env = os.environ if env is None else env
    if "keras" in sys.modules or env.get("KERAS_BACKEND"):
        return None
    home = Path(env.get("KERAS_HOME") or Path(env.get("HOME") or Path.home()) / ".keras")
    try:
        chosen = json.loads((home / "keras.json").read_text()).get("backend")
    except (OSError, ValueError, AttributeError):
        chosen = None
    if chosen and chosen != "tensorflow":
        return None
    if find_spec("tensorflow") is not None:
        return None
    installed = [b for b in ("torch", "jax") if find_spec(b) is not None]
    if installed:
        return (
            "Keras 3 needs a backend and its default, TensorFlow, is not installed; "
            f"{installed[0]} is (carbonledger[integrations] installs torch): set "
            f"KERAS_BACKEND={installed[0]} before keras is imported (or pip install tensorflow)"
        )
    return (
        "Keras 3 needs a backend and none is installed: pip install torch (then set "
        "KERAS_BACKEND=torch), jax, or tensorflow"
    )


_why = missing_backend()
if _why is not None:
    raise ImportError(f"carbonledger's Keras callback: {_why}")
_keras = require("keras", "carbonledger's Keras callback", "keras>=3")


_Base: Any = _keras.callbacks.Callback


class CarbonCallback(_Base):  # type: ignore[misc]
    """Measure a Keras ``fit``: a window per epoch and per phase, logged into ``logs``.

    :param tracker: record into this :class:`~carbonledger.Tracker` (you start and stop
        it); default: one is started when training begins (with ``expected_epochs`` from
        ``fit(epochs=...)``) and stopped when it ends
    :param sinks: experiment trackers fed by rank 0 (MLflow, W&B: see their modules)
    :param tracker_options: any :class:`~carbonledger.Tracker` argument (``project=``...)
    """

    def __init__(
        self,
        tracker: Tracker | None = None,
        *,
        sinks: Sequence[Sink] = (),
        **tracker_options: Any,
    ) -> None:
        super().__init__()
        self.recorder = EpochRecorder(tracker, sinks=sinks, tracker_options=tracker_options)

    @property
    def summary(self) -> RunSummary | None:
        """The run's summary once training has ended."""
        return self.recorder.summary

    @property
    def last_metrics(self) -> Mapping[str, float]:
        return self.recorder.last_metrics

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        epochs = epochs_from(getattr(self, "params", {}).get("epochs"))
        self.recorder.begin_run(epochs)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.recorder.begin_epoch(int(epoch) + 1)
        self.recorder.begin_phase("train")

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        # during fit this is the validation pass; a bare evaluate() has no epoch open
        if self.recorder.running and self.recorder.in_epoch:
            self.recorder.begin_phase("validation")

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.recorder.running and self.recorder.in_epoch:
            self.recorder.end_phase()

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        metrics = self.recorder.end_epoch()
        if logs is not None:
            logs.update(metrics)
        if self.recorder.stop_requested and getattr(self, "model", None) is not None:
            self.model.stop_training = True  # the carbon budget says stop

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.recorder.running:
            self.recorder.end_run("completed")
