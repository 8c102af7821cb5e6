"""Random forests of 100, 500 and 1000 trees compared by energy and accuracy.

scikit-learn needs no callback: each scenario is one run of the tracker's context manager
(``@carbonledger.track`` works the same for a function), its accuracy kept beside its
footprint with ``log_metric``, so the runs can be weighed by CO2e against quality.

    python examples/sklearn_forests.py            # 100 / 500 / 1000 trees
    python examples/sklearn_forests.py --quick    # 5 / 10 / 20 trees on less data
"""

from __future__ import annotations

import argparse

from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

import carbonledger as cl


def main(argv: list[str] | None = None) -> list[tuple[int, float, float, float]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a reduced size, for tests")
    parser.add_argument("--country", help="where the work runs (ISO code), else unknown")
    args = parser.parse_args(argv)
    trees = (5, 10, 20) if args.quick else (100, 500, 1000)
    samples = 600 if args.quick else 20_000
    x, y = make_classification(n_samples=samples, n_features=30, n_informative=10, random_state=0)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0)
    rows = []
    for n in trees:
        with cl.Tracker(project="forests", experiment=f"trees-{n}", country=args.country) as run:
            model = RandomForestClassifier(n_estimators=n, n_jobs=-1, random_state=0)
            model.fit(x_train, y_train)
            accuracy = float(model.score(x_test, y_test))
            run.log_metric("accuracy", accuracy)
        summary = run.summary()
        rows.append((n, accuracy, summary.energy_j, summary.co2e_g))
    print(
        f"{'trees':>6} {'accuracy':>9} {'energy J':>10} {'gCO2e':>9}  (energy: see `carbonledger show`)"
    )
    for n, accuracy, energy_j, co2e_g in rows:
        print(f"{n:>6} {accuracy:>9.3f} {energy_j:>10.1f} {co2e_g:>9.4f}")
    return rows


if __name__ == "__main__":
    main()
