#!/usr/bin/env python3
"""Writes xgboost_regression_reference.json: Python xgboost's reg:squarederror predictions, the
reference that trainer's TestXGBoostRegressionMatchesPythonXGBoost holds the "xgboost" algorithm
(task regression) to, with scikit-learn's HistGradientBoostingRegressor's holdout RMSE beside it.

Rerun (from the repository root; xgboost pinned to Debian bookworm's libxgboost-dev, 1.7.4):

    python3 -m venv .venv
    .venv/bin/pip install xgboost==1.7.4 'numpy<2' scikit-learn
    .venv/bin/python trainer/testdata/xgboost_regression_reference.py \\
        > trainer/testdata/xgboost_regression_reference.json

The rows are the "orders" data of make_ridge_reference.py (a large-scale numeric feature, a
categorical one with a rare category, noise), generated here with fixed seeds and written into the
JSON, so the Go test trains on the very rows Python did. Each row is laid out as the Go model does
(xgboost_reference.py's encode: numeric features as they are, categorical ones one 0/1 column per
category, all zero for the unknown category -1, as float32); the targets become float32 in the
DMatrix on both sides. xgboost.train runs with the Go model's parameters (trainer/xgboost.go):
hist, eta, depth, lambda, min_child_weight, subsample, colsample_bytree, 256 bins, seed, and
reg:squarederror from base_score = the mean target (XGBoost 1.7 would start from 0.5).
"""

import json
import sys

import numpy as np
import sklearn
import xgboost as xgb
from sklearn.ensemble import HistGradientBoostingRegressor

from make_ridge_reference import orders
from xgboost_reference import PARAMS, encode

CASES = [
    ("defaults", {}),
    ("shallow, sampled", {"n_estimators": 50, "max_depth": 3, "learning_rate": 0.3, "subsample": 0.8,
                          "colsample_bytree": 0.7, "min_child_weight": 3, "reg_lambda": 5, "seed": 7}),
]


def run(name, over, schema, x, y, hx, hy):
    p = dict(PARAMS, **over)
    params = {
        "tree_method": "hist",
        "eta": p["learning_rate"],
        "max_depth": p["max_depth"],
        "subsample": p["subsample"],
        "colsample_bytree": p["colsample_bytree"],
        "min_child_weight": p["min_child_weight"],
        "lambda": p["reg_lambda"],
        "max_bin": p["max_bin"],
        "seed": p["seed"],
        "verbosity": 0,
        "objective": "reg:squarederror",
        "base_score": float(np.mean(y)),
    }
    dtrain = xgb.DMatrix(encode(schema, x.tolist()), label=y, missing=np.nan)
    booster = xgb.train(params, dtrain, num_boost_round=p["n_estimators"])
    pred = booster.inplace_predict(encode(schema, hx.tolist()), strict_shape=True)[:, 0].astype(np.float64)
    categorical = [f["kind"] == "categorical" for f in schema["features"]]
    hgb = HistGradientBoostingRegressor(max_iter=p["n_estimators"], learning_rate=p["learning_rate"],
                                        early_stopping=False, categorical_features=categorical, random_state=1)
    hgb.fit(x, y)
    rmse = lambda v: float(np.sqrt(np.mean((v - hy) ** 2)))
    return {
        "name": name,
        "params": p,
        "predictions": pred.tolist(),  # float32 values, exact in float64
        "rmse": rmse(pred),
        "hgb_rmse": rmse(hgb.predict(hx)),
    }


def main():
    features, x, y = orders(1500, 11)
    _, hx, hy = orders(500, 12)
    hx[:20, 1] = -1  # unknown category
    schema = {"features": features, "classes": [], "task": "regression"}
    out = {
        "xgboost_version": xgb.__version__,
        "sklearn_version": sklearn.__version__,
        "schema": schema,
        "train_x": x.tolist(),
        "train_target": y.tolist(),
        "holdout_x": hx.tolist(),
        "holdout_target": hy.tolist(),
        "cases": [run(name, over, schema, x, y, hx, hy) for name, over in CASES],
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
