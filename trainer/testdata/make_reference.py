#!/usr/bin/env python3
"""Writes logistic_reference.json: scikit-learn's LogisticRegression on small fixed datasets,
the reference that trainer's TestLogisticMatchesScikitLearn holds the "logistic" algorithm to.

Rerun (from the repository root):

    python3 -m venv /tmp/venv-trainer
    /tmp/venv-trainer/bin/pip install scikit-learn numpy
    /tmp/venv-trainer/bin/python trainer/testdata/make_reference.py > trainer/testdata/logistic_reference.json

The datasets are generated here with a fixed seed and written into the JSON, so the Go test reads
the very rows scikit-learn saw. Each feature goes through its own transformer in schema order
(StandardScaler for numeric features, OneHotEncoder with fixed categories and
handle_unknown="ignore" for categorical ones), which is the column layout of the Go model:
numeric -> one standardised column, categorical -> one column per category, all zero for an
unknown category (-1). LogisticRegression(C=1/l2) with the newton-cholesky solver and a tight tol
fits the same objective as the Go model; see trainer/logistic.go.
"""

import json
import sys
import warnings

import numpy as np
import sklearn
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def dataset(n, classes, seed):
    rng = np.random.default_rng(seed)
    income = rng.lognormal(10, 0.5, n)  # large scale: standardisation matters
    plan = rng.choice(3, n, p=[0.5, 0.4, 0.1])  # a rare category
    tenure = rng.normal(0, 1, n)
    z = 0.8 * (np.log(income) - 10) / 0.5 + np.array([0.5, -0.3, 1.0])[plan] - 1.2 * tenure
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)  # noisy: not separable
    if classes == 3:
        y[(y == 0) & (tenure > 0.5)] = 2
    x = np.column_stack([income, plan, tenure])
    schema = {
        "features": [
            {"name": "income", "kind": "numeric"},
            {"name": "plan", "kind": "categorical", "categories": ["basic", "plus", "pro"]},
            {"name": "tenure", "kind": "numeric"},
        ],
        "classes": ["stay", "churn", "pause"][:classes],
    }
    return schema, x, y


def pipeline(l2):
    features = ColumnTransformer(
        [
            ("income", StandardScaler(), [0]),
            ("plan", OneHotEncoder(categories=[[0, 1, 2]], handle_unknown="ignore", sparse_output=False), [1]),
            ("tenure", StandardScaler(), [2]),
        ]
    )
    model = LogisticRegression(C=1 / l2, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    return make_pipeline(features, model)


def main():
    datasets = {"binary": dataset(80, 2, 7), "three_classes": dataset(90, 3, 11)}
    probe = np.array(
        [
            [15000.0, 0, 0.3],
            [40000.0, 2, -1.5],
            [22000.0, -1, 0.0],  # unknown category
            [5000.0, 1, 2.5],
        ]
    )
    out = {
        "generated_by": "trainer/testdata/make_reference.py (see its docstring to rerun)",
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "datasets": {},
        "cases": [],
    }
    for name, (schema, x, y) in datasets.items():
        out["datasets"][name] = {"schema": schema, "x": x.tolist(), "y": y.tolist()}
    for name, l2 in [("binary", 1.0), ("binary", 0.05), ("binary", 20.0), ("three_classes", 1.0), ("three_classes", 0.2)]:
        _, x, y = datasets[name]
        p = pipeline(l2).fit(x, y)
        lr = p[-1]
        coef = lr.coef_.copy()
        intercept = lr.intercept_.copy()
        if len(intercept) > 1:
            intercept -= intercept.mean()  # defined up to a constant; the Go model centres them
        rows = np.vstack([x, probe])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # OneHotEncoder warns about the unknown category
            proba = p.predict_proba(rows)
        out["cases"].append(
            {
                "dataset": name,
                "l2": l2,
                "coef": coef.tolist(),
                "intercept": intercept.tolist(),
                "rows": rows.tolist(),
                "proba": proba.tolist(),
                "iterations": int(np.max(lr.n_iter_)),
            }
        )
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
