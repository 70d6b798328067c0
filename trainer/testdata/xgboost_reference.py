#!/usr/bin/env python3
"""Writes xgboost_reference.json: Python xgboost's predictions and scikit-learn's
HistGradientBoostingClassifier's accuracy on the datasets of xgboost_dataset.json.gz, the reference
that trainer's TestXGBoostMatchesPythonXGBoost holds the "xgboost" algorithm to.

Rerun (from the repository root; xgboost pinned to Debian bookworm's libxgboost-dev, 1.7.4):

    go test -tags xgboost ./trainer -run TestWriteXGBoostTestdata -write-xgboost-testdata
    python3 -m venv /tmp/venv-xgb
    /tmp/venv-xgb/bin/pip install xgboost==1.7.4 'numpy<2' scikit-learn
    /tmp/venv-xgb/bin/python trainer/testdata/xgboost_reference.py \
        trainer/testdata/xgboost_dataset.json.gz > trainer/testdata/xgboost_reference.json

xgboost_dataset.json.gz holds the package's synthetic sets (rounded to float32, XGBoost's precision).
Each row is laid out as the Go model does: numeric features as they are, categorical features one
0/1 column per category (all zero for the unknown category, -1), as float32. xgboost.train runs
with the Go model's defaults (trainer/xgboost.go): hist, 100 rounds, eta 0.1, depth 6, lambda 1,
min_child_weight 1, 256 bins, seed 1; binary:logistic from base_score = the class-1 share, or
multi:softprob over the trained classes.

HistGradientBoostingClassifier gets the raw columns with native categorical features, 100
iterations at learning rate 0.1 and no early stopping (the Go model has none): the comparison a
user choosing between the two would make.
"""

import gzip
import json
import sys

import numpy as np
import sklearn
import xgboost as xgb
from sklearn.ensemble import HistGradientBoostingClassifier

PARAMS = {  # the Go names and defaults
    "n_estimators": 100,
    "max_depth": 6,
    "learning_rate": 0.1,
    "subsample": 1,
    "colsample_bytree": 1,
    "min_child_weight": 1,
    "reg_lambda": 1,
    "max_bin": 256,
    "nthread": 0,
    "seed": 1,
}


def encode(schema, rows):
    cols = []
    for j, f in enumerate(schema["features"]):
        v = np.array([r[j] for r in rows])
        if f["kind"] == "numeric":
            cols.append(v[:, None])
        else:
            k = len(f["categories"])
            cols.append((v[:, None] == np.arange(k)[None, :]).astype(np.float64))
    return np.hstack(cols).astype(np.float32)


def run(case):
    schema = case["schema"]
    y = np.array(case["train_y"])
    hy = np.array(case["holdout_y"])
    present = sorted(set(y.tolist()))
    index = {c: i for i, c in enumerate(present)}
    params = {
        "tree_method": "hist",
        "eta": PARAMS["learning_rate"],
        "max_depth": PARAMS["max_depth"],
        "subsample": PARAMS["subsample"],
        "colsample_bytree": PARAMS["colsample_bytree"],
        "min_child_weight": PARAMS["min_child_weight"],
        "lambda": PARAMS["reg_lambda"],
        "max_bin": PARAMS["max_bin"],
        "seed": PARAMS["seed"],
        "verbosity": 0,
    }
    if len(present) == 2:
        params["objective"] = "binary:logistic"
        params["base_score"] = float(np.mean(y == present[1]))
    else:
        params["objective"] = "multi:softprob"
        params["num_class"] = len(present)
    dtrain = xgb.DMatrix(encode(schema, case["train_x"]), label=np.array([index[c] for c in y]), missing=np.nan)
    booster = xgb.train(params, dtrain, num_boost_round=PARAMS["n_estimators"])
    proba = booster.inplace_predict(encode(schema, case["holdout_x"]), strict_shape=True).astype(np.float64)
    if len(present) == 2:
        pred = np.where(proba[:, 0] > 0.5, present[1], present[0])
    else:
        pred = np.array(present)[np.argmax(proba, axis=1)]

    categorical = [f["kind"] == "categorical" for f in schema["features"]]
    hgb = HistGradientBoostingClassifier(
        max_iter=100, learning_rate=0.1, early_stopping=False, categorical_features=categorical, random_state=1
    )
    hgb.fit(np.array(case["train_x"]), y)
    return {
        "name": case["name"],
        "params": PARAMS,
        "proba": proba.tolist(),  # float32 values, exact in float64
        "accuracy": float(np.mean(pred == hy)),
        "hgb_accuracy": float(hgb.score(np.array(case["holdout_x"]), hy)),
    }


def main():
    with gzip.open(sys.argv[1], "rt") as f:
        data = json.load(f)
    out = {
        "xgboost_version": xgb.__version__,
        "sklearn_version": sklearn.__version__,
        "cases": [run(c) for c in data["cases"]],
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
