"""The Keras 3 callback, with the real Keras on its torch backend (a tiny model)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")  # installed by the dev extra: never skipped there
np = pytest.importorskip("numpy")

from carbonledger.integrations.keras import CarbonCallback  # noqa: E402

from .conftest import fake_sensors  # noqa: E402

POWER_W = 100.0


def _model() -> object:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _data() -> tuple[object, object]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(32, 4)).astype("float32"), rng.normal(size=(32, 1)).astype("float32")


def test_windows_per_epoch_and_phase_in_keras_logs(tmp_path: Path) -> None:
    assert keras.backend.backend() == "torch"
    callback = CarbonCallback(
        sensors=fake_sensors(POWER_W), ledger=False, grid_g_per_kwh=300, handle_signals=False
    )
    x, y = _data()
    history = _model().fit(  # type: ignore[attr-defined]
        x, y, epochs=3, batch_size=8, validation_split=0.25, callbacks=[callback], verbose=0
    )
    summary = callback.summary
    assert summary is not None and summary.status == "completed"
    paths = [w.path for w in summary.windows]
    assert paths[:3] == ["epoch-1/train", "epoch-1/validation", "epoch-1"]
    assert [p for p in paths if "/" not in p] == ["epoch-1", "epoch-2", "epoch-3"]
    epochs = [w for w in summary.windows if "/" not in w.path]
    logged = history.history["carbon/epoch_energy_j"]
    assert logged == pytest.approx([w.energy_j for w in epochs])
    assert history.history["carbon/epoch_co2e_g"] == pytest.approx([w.co2e_g for w in epochs])
    assert "carbon/validation_energy_j" in history.history
    assert epochs[-1].energy_j == pytest.approx(POWER_W * epochs[-1].duration_s, abs=0.05)
    assert summary.extra["forecast"]["windows_total"] == 3


def test_evaluate_outside_fit_opens_no_phase(tmp_path: Path) -> None:
    import carbonledger as cl

    x, y = _data()
    model = _model()
    with cl.Tracker(sensors=fake_sensors(POWER_W), ledger=False, handle_signals=False) as run:
        callback = CarbonCallback(run)
        model.fit(x, y, epochs=1, batch_size=8, callbacks=[callback], verbose=0)  # type: ignore[attr-defined]
        model.evaluate(x, y, callbacks=[callback], verbose=0)  # type: ignore[attr-defined]
        assert run.expected_epochs == 1
    assert [w.path for w in run.summary().windows] == ["epoch-1/train", "epoch-1"]


def test_without_a_backend_the_import_says_which_to_choose(tmp_path: Path) -> None:
    """Keras's default backend, TensorFlow, is not what carbonledger[integrations] installs:
    importing the callback with no backend chosen names KERAS_BACKEND=torch."""
    import importlib.util
    import os
    import subprocess
    import sys

    if importlib.util.find_spec("tensorflow") is not None:
        pytest.skip("TensorFlow is installed here: Keras's default backend works")
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "KERAS_HOME")}
    env["HOME"] = str(tmp_path)  # no ~/.keras/keras.json
    r = subprocess.run(
        [sys.executable, "-c", "import carbonledger.integrations.keras"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: carbonledger's Keras callback: Keras 3 needs a backend")
    assert "KERAS_BACKEND=torch" in last
