"""Write the LightGBM ONNX fixtures: a LightGBM classifier for the demo model churn, converted by onnxmltools.

Pinned: /work/venv/bin/pip install lightgbm==4.7.0 onnxmltools==1.16.0 onnxconverter-common==1.16.0
(with onnx 1.23.2, onnxruntime 1.32.0, scikit-learn 1.9.1). Rerun: /work/venv/bin/python make_lightgbm_onnx.py

Reads churn_rows.csv (see make_byom.py) and writes
  churn_lightgbm.onnx         LGBMClassifier (8 trees of 7 leaves) on the columns Kingmaker's XGBoost
                              import uses: each feature in config order, a numeric one as itself, a
                              categorical one as one 0/1 column per category in config order
                              (feature=category); converted by onnxmltools.convert_lightgbm with one
                              input "input" FloatTensorType([None, 16]) and zipmap off: outputs label
                              and probabilities
  churn_lightgbm_expect.csv   50 rows + LightGBM's own predict_proba P(churned=true), column prediction
  churn_lightgbm_narrow.onnx  the same model converted with an input of 15 columns (a wrong width)
"""
import os

import lightgbm as lgb
import numpy as np
import onnxruntime as ort
import pandas as pd
from onnxmltools import convert_lightgbm
from onnxmltools.convert.common.data_types import FloatTensorType

HERE = os.path.dirname(os.path.abspath(__file__))
NUMERIC = ["tenure_months", "monthly_charges", "support_calls", "logins_30d", "avg_session_minutes", "payment_delays"]
CATEGORIES = {"plan": ["basic", "standard", "premium"], "region": ["north", "south", "east", "west"], "device": ["ios", "android", "web"]}


def columns(df):
    cols = {n: df[n].astype("float32") for n in NUMERIC}
    for f, cats in CATEGORIES.items():
        for c in cats:
            cols[f + "=" + c] = (df[f] == c).astype("float32")
    return pd.DataFrame(cols)


def main():
    df = pd.read_csv(os.path.join(HERE, "churn_rows.csv"), keep_default_na=False, dtype={"churned": str})
    y = (df["churned"].str.lower() == "true").astype(int)
    X = columns(df.drop(columns=["churned"]))
    width = X.shape[1]
    clf = lgb.LGBMClassifier(n_estimators=8, num_leaves=7, learning_rate=0.3, verbose=-1).fit(X.to_numpy(), y)
    for name, w in [("churn_lightgbm.onnx", width), ("churn_lightgbm_narrow.onnx", width - 1)]:
        onx = convert_lightgbm(clf, initial_types=[("input", FloatTensorType([None, w]))], zipmap=False, target_opset=15)
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(onx.SerializeToString())
    head = df.drop(columns=["churned"]).iloc[:50]
    proba = clf.predict_proba(X.iloc[:50].to_numpy())
    sess = ort.InferenceSession(os.path.join(HERE, "churn_lightgbm.onnx"), providers=["CPUExecutionProvider"])
    got = sess.run(["probabilities"], {"input": X.iloc[:50].to_numpy()})[0]
    print("max |onnxruntime - lightgbm| =", float(np.abs(got - proba).max()))
    rows = head.copy()
    rows["prediction"] = [repr(float(p)) for p in proba[:, 1]]
    rows.to_csv(os.path.join(HERE, "churn_lightgbm_expect.csv"), index=False)
    print("wrote churn_lightgbm.onnx, churn_lightgbm_narrow.onnx and the expect file; inputs",
          [(i.name, i.shape) for i in sess.get_inputs()], "outputs", [(o.name, o.shape) for o in sess.get_outputs()])


if __name__ == "__main__":
    main()
