"""`make demo`: a real, small ML workload tracked by carbonledger on the default ledger.

Trains a scikit-learn random forest on a synthetic classification task, one window per
cross-validation fold, records the run in the embedded default SQLite ledger and prints
its footprint: energy per device with how it was obtained, and the CO2e with its basis.
"""

from __future__ import annotations

import os
import sys

from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold

import carbonledger as cl
from carbonledger.report import format_summary


def main() -> None:
    x, y = make_classification(n_samples=6000, n_features=40, n_informative=12, random_state=0)
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=0)
    country = os.environ.get("CARBONLEDGER_COUNTRY")  # unset: the location is reported as unknown
    with cl.Tracker(
        project="demo", experiment="random-forest", country=country, expected_epochs=3
    ) as run:
        scores = []
        for i, (train, test) in enumerate(folds.split(x, y), start=1):
            with run.window(f"fold-{i}"):
                model = RandomForestClassifier(n_estimators=120, n_jobs=-1, random_state=i)
                model.fit(x[train], y[train])
                scores.append(model.score(x[test], y[test]))
    summary = run.summary()
    print(f"random forest: mean accuracy {sum(scores) / len(scores):.3f} over {len(scores)} folds")
    print(format_summary(summary))
    print(f"recorded in the ledger {run.ledger_location or summary.extra.get('ledger')}")
    print("see it again with:", _cli(), "show", summary.run_id[:12])


def _cli() -> str:
    """The `carbonledger` command as it can be typed from here: this interpreter's script
    (``.venv/bin/carbonledger`` after ``make demo``), relative when that is shorter."""
    script = os.path.join(os.path.dirname(sys.executable), "carbonledger")
    if not os.path.exists(script):
        return f"{sys.executable} -m carbonledger"
    relative = os.path.relpath(script)
    return relative if len(relative) < len(script) else script


if __name__ == "__main__":
    main()
