#!/usr/bin/env python3
"""Writes knn_reference.json: scikit-learn's KNeighborsRegressor on the "orders" dataset of
ridge_reference.json, the reference that trainer's TestKNNRegressionMatchesScikitLearn holds the
"knn" algorithm (task regression) to.

Rerun (from the repository root):

    python3 -m venv .venv
    .venv/bin/pip install scikit-learn numpy
    .venv/bin/python trainer/testdata/make_knn_reference.py > trainer/testdata/knn_reference.json

The rows are those of ridge_reference.json (the very rows the Go test trains on). The Go model
standardises and one-hot encodes inside the model, so the reference is a Pipeline doing the same:
each feature through its own transformer in schema order (StandardScaler, the population standard
deviation, for numeric features; OneHotEncoder with fixed categories and handle_unknown="ignore"
for categorical ones, so an unknown category (-1) is all zeros), then
KNeighborsRegressor(n_neighbors=k, weights="uniform", algorithm="brute", metric="euclidean"): the
mean target of the k nearest training rows. The Go model keeps every row (max_rows >= rows). The
features are continuous, so no two training rows are at the same distance from a probe and the
tie rules (the Go model: stored order; scikit-learn: argpartition's) never come into play.
"""

import json
import os
import sys

import numpy as np
import sklearn
from sklearn.neighbors import KNeighborsRegressor
from sklearn.pipeline import make_pipeline

from make_ridge_reference import encoder  # the same per-feature preprocessing as the ridge reference


def pipeline(features, k):
    knn = KNeighborsRegressor(n_neighbors=k, weights="uniform", algorithm="brute", metric="euclidean")
    return make_pipeline(encoder(features), knn)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "ridge_reference.json")) as f:
        data = json.load(f)["datasets"]["orders"]
    features = data["schema"]["features"]
    x, y = np.array(data["x"]), np.array(data["target"])
    probes = np.array([[15000.0, 0, 0.3], [40000.0, 2, -1.5], [22000.0, -1, 0.0], [5000.0, 1, 2.5]])
    rows = np.vstack([probes, x[:5], x[60:65] * [1.01, 1, 0.9]])
    out = {
        "generated_by": "trainer/testdata/make_knn_reference.py (see its docstring to rerun)",
        "sklearn_version": sklearn.__version__,
        "numpy_version": np.__version__,
        "dataset": "orders of ridge_reference.json",
        "rows": rows.tolist(),
        "cases": [],
    }
    for k in [1, 3, 5, 17]:
        out["cases"].append({"k": k, "predictions": pipeline(features, k).fit(x, y).predict(rows).tolist()})
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
