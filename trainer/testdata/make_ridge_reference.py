#!/usr/bin/env python3
"""Writes ridge_reference.json: scikit-learn's Ridge on small fixed datasets, the reference that
trainer's TestLinearMatchesScikitLearn holds the "linear" algorithm to.

Rerun (from the repository root):

    python3 -m venv .venv
    .venv/bin/pip install scikit-learn numpy
    .venv/bin/python trainer/testdata/make_ridge_reference.py > trainer/testdata/ridge_reference.json

The datasets are generated here with a fixed seed and written into the JSON, so the Go test reads
the very rows scikit-learn saw. The Go model standardises and one-hot encodes inside the model, so
the reference is a Pipeline doing the same: each feature goes through its own transformer in
schema order (StandardScaler, i.e. the population standard deviation, for numeric features;
OneHotEncoder with fixed categories and handle_unknown="ignore" for categorical ones, so an unknown
category (-1) is all zeros), then Ridge(alpha) with fit_intercept=True. Ridge on the raw features
would give other coefficients: its penalty would act on unstandardised weights.
"""

import json
import sys

import numpy as np
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def orders(n, seed):
    """Order values: a large-scale numeric feature, a categorical one with a rare category, noise."""
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 0.5, n)  # large scale: standardisation matters
    plan = rng.choice(3, n, p=[0.5, 0.4, 0.1])
    tenure = rng.normal(0, 1, n)
    y = 40 + 0.002 * income + np.array([0.0, 15.0, -30.0])[plan] + 8 * tenure + rng.normal(0, 5, n)
    x = np.column_stack([income, plan, tenure])
    features = [
        {"name": "income", "kind": "numeric"},
        {"name": "plan", "kind": "categorical", "categories": ["basic", "plus", "pro"]},
        {"name": "tenure", "kind": "numeric"},
    ]
    return features, x, y


def wide(n, seed):
    """Fewer rows than encoded columns, a constant feature and a category no row has."""
    rng = np.random.default_rng(seed)
    a = rng.normal(3, 2, n)
    const = np.full(n, 7.0)
    region = rng.choice(4, n)  # category 4 ("far") never appears
    b = rng.exponential(100, n)
    y = 3 * a - 0.05 * b + np.array([1.0, -2.0, 0.5, 4.0, 0.0])[region] + rng.normal(0, 1, n)
    x = np.column_stack([a, const, region, b])
    features = [
        {"name": "a", "kind": "numeric"},
        {"name": "constant", "kind": "numeric"},
        {"name": "region", "kind": "categorical", "categories": ["n", "s", "e", "w", "far"]},
        {"name": "b", "kind": "numeric"},
    ]
    return features, x, y


def encoder(features):
    """Standardises numeric and one-hot encodes categorical features, each in schema order."""
    steps = []
    for j, f in enumerate(features):
        if f["kind"] == "numeric":
            steps.append((f["name"], StandardScaler(), [j]))
        else:
            cats = [list(range(len(f["categories"])))]
            steps.append((f["name"], OneHotEncoder(categories=cats, handle_unknown="ignore", sparse_output=False), [j]))
    return ColumnTransformer(steps)


def pipeline(features, alpha):
    return make_pipeline(encoder(features), Ridge(alpha=alpha, fit_intercept=True))


def main():
    datasets = {"orders": orders(120, 5), "wide": wide(6, 9)}
    probes = {
        "orders": np.array([[15000.0, 0, 0.3], [40000.0, 2, -1.5], [22000.0, -1, 0.0], [5000.0, 1, 2.5]]),
        "wide": np.array([[1.0, 7.0, 0, 50.0], [5.0, 3.0, 4, 10.0], [-2.0, 7.0, -1, 400.0]]),
    }
    out = {
        "generated_by": "trainer/testdata/make_ridge_reference.py (see its docstring to rerun)",
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "datasets": {},
        "cases": [],
    }
    for name, (features, x, y) in datasets.items():
        out["datasets"][name] = {
            "schema": {"features": features, "classes": [], "task": "regression"},
            "x": x.tolist(),
            "target": y.tolist(),
        }
        rows = np.vstack([probes[name], x[:5]])
        for alpha in [0.01, 1.0, 100.0]:
            p = pipeline(features, alpha).fit(x, y)
            ridge = p[-1]
            out["cases"].append(
                {
                    "dataset": name,
                    "alpha": alpha,
                    "coef": ridge.coef_.tolist(),
                    "intercept": float(ridge.intercept_),
                    "rows": rows.tolist(),
                    "predictions": p.predict(rows).tolist(),
                }
            )
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
