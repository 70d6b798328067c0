"""Train the "bring your own model" fixtures with Python's xgboost.

Reads churn_rows.csv (4000 demo rows, written by `go test ./demo -run TestBYOMRows
-write-byom-rows`) and writes, for the demo model `churn` of kingmaker.example.yaml:

  churn_good.json / .ubj     binary:logistic on every feature (one-hot as Kingmaker's contract
                             says: columns feature=category in the config's category order)
  churn_good_expect.csv      50 rows of features + xgboost's own P(churned=true), column prediction
  churn_bad.json             the same setup trained on shuffled labels: no better than chance
  churn_bad_expect.csv
  churn_other_features.json  trained without the device columns (another feature set)
  churn_multiclass.json      multi:softprob with 3 classes (the model has 2)
  churn_good_expect_wrong.csv  churn_good_expect.csv with row 7's prediction off by 1e-3

With --suffix S (for another xgboost version) it writes only churn_good_S.json,
churn_good_S.ubj and churn_good_S_expect.csv, for the test of which producer versions load.

Rerun: /work/venv/bin/python make_byom.py   (xgboost 1.7.6, numpy, pandas)
       python -m venv /tmp/x21 && /tmp/x21/bin/pip install xgboost==2.1.4 pandas
       /tmp/x21/bin/python make_byom.py --suffix xgb21   (likewise xgboost==3.2.0 --suffix xgb32)
"""
import argparse
import os

import numpy as np
import pandas as pd
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
NUMERIC = ["tenure_months", "monthly_charges", "support_calls", "logins_30d", "avg_session_minutes", "payment_delays"]
CATEGORIES = {"plan": ["basic", "standard", "premium"], "region": ["north", "south", "east", "west"], "device": ["ios", "android", "web"]}
PARAMS = {"objective": "binary:logistic", "max_depth": 3, "eta": 0.1, "tree_method": "hist", "seed": 1, "nthread": 1}


def columns(df, categories=CATEGORIES):
    """Kingmaker's XGBoost columns: numeric features as they are, then each categorical one-hot."""
    out = df[NUMERIC].astype("float64").copy()
    for name, cats in categories.items():
        for c in cats:
            out[f"{name}={c}"] = (df[name] == c).astype("float64")
    return out


def expect(booster, df, X, path, wrong_row=None):
    rows = df.drop(columns=["churned"]).iloc[:50].copy()
    pred = booster.predict(xgb.DMatrix(X.iloc[:50])).astype("float64")
    if wrong_row is not None:
        pred[wrong_row] += 1e-3
    rows["prediction"] = [repr(float(p)) for p in pred]
    rows.to_csv(path, index=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suffix", default="")
    args = ap.parse_args()
    df = pd.read_csv(os.path.join(HERE, "churn_rows.csv"), keep_default_na=False)
    y = (df["churned"] == True).astype(int) if df["churned"].dtype == bool else (df["churned"] == "true").astype(int)  # noqa: E712
    X = columns(df)
    good = xgb.train(PARAMS, xgb.DMatrix(X, label=y), num_boost_round=40)
    if args.suffix:
        for ext in ("json", "ubj"):
            good.save_model(os.path.join(HERE, f"churn_good_{args.suffix}.{ext}"))
        expect(good, df, X, os.path.join(HERE, f"churn_good_{args.suffix}_expect.csv"))
        print("xgboost", xgb.__version__, "wrote churn_good_%s.{json,ubj} and its _expect.csv" % args.suffix)
        return
    good.save_model(os.path.join(HERE, "churn_good.json"))
    good.save_model(os.path.join(HERE, "churn_good.ubj"))
    expect(good, df, X, os.path.join(HERE, "churn_good_expect.csv"))
    expect(good, df, X, os.path.join(HERE, "churn_good_expect_wrong.csv"), wrong_row=7)

    shuffled = np.random.default_rng(3).permutation(y.to_numpy())
    bad = xgb.train(PARAMS, xgb.DMatrix(X, label=shuffled), num_boost_round=40)
    bad.save_model(os.path.join(HERE, "churn_bad.json"))
    expect(bad, df, X, os.path.join(HERE, "churn_bad_expect.csv"))

    other = columns(df, {k: v for k, v in CATEGORIES.items() if k != "device"})
    xgb.train(PARAMS, xgb.DMatrix(other, label=y), num_boost_round=5).save_model(os.path.join(HERE, "churn_other_features.json"))

    three = np.minimum(df["support_calls"].to_numpy(), 2)
    multi = dict(PARAMS, objective="multi:softprob", num_class=3)
    xgb.train(multi, xgb.DMatrix(X, label=three), num_boost_round=5).save_model(os.path.join(HERE, "churn_multiclass.json"))
    print("xgboost", xgb.__version__, "wrote the fixtures in", HERE)


if __name__ == "__main__":
    main()
