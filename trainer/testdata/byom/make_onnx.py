"""Write the ONNX fixtures: a scikit-learn pipeline for the demo model churn, converted by skl2onnx.

Reads churn_rows.csv (see make_byom.py) and writes
  churn_pipeline.onnx         ColumnTransformer(StandardScaler on the numeric features,
                              OneHotEncoder(config category order, handle_unknown="ignore") on the
                              categorical ones) + LogisticRegression, converted with one input per
                              feature (FloatTensorType([None, 1]) or StringTensorType([None, 1]))
                              and zipmap off: outputs label and probabilities
  churn_pipeline_expect.csv   50 rows + onnxruntime's own P(churned=true), column prediction

Rerun: /work/venv/bin/pip install skl2onnx onnxruntime; /work/venv/bin/python make_onnx.py
(measured with scikit-learn 1.9.1, skl2onnx 1.20.0, onnxruntime 1.32.0).
"""
import os

import numpy as np
import onnxruntime as ort
import pandas as pd
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
NUMERIC = ["tenure_months", "monthly_charges", "support_calls", "logins_30d", "avg_session_minutes", "payment_delays"]
CATEGORIES = {"plan": ["basic", "standard", "premium"], "region": ["north", "south", "east", "west"], "device": ["ios", "android", "web"]}


def main():
    df = pd.read_csv(os.path.join(HERE, "churn_rows.csv"), keep_default_na=False, dtype={"churned": str})
    y = (df["churned"].str.lower() == "true").astype(int)
    X = df.drop(columns=["churned"])
    X[NUMERIC] = X[NUMERIC].astype("float32")
    pre = ColumnTransformer([
        ("num", StandardScaler(), NUMERIC),
        ("cat", OneHotEncoder(categories=list(CATEGORIES.values()), handle_unknown="ignore"), list(CATEGORIES)),
    ])
    pipe = Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=1000))]).fit(X, y)
    types = [(n, FloatTensorType([None, 1])) for n in NUMERIC] + [(n, StringTensorType([None, 1])) for n in CATEGORIES]
    onx = convert_sklearn(pipe, initial_types=types, options={id(pipe.named_steps["clf"]): {"zipmap": False}}, target_opset=17)
    path = os.path.join(HERE, "churn_pipeline.onnx")
    with open(path, "wb") as f:
        f.write(onx.SerializeToString())
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    head = X.iloc[:50]
    feeds = {n: head[n].to_numpy().astype(np.float32).reshape(-1, 1) for n in NUMERIC}
    feeds.update({n: head[n].to_numpy().astype(object).reshape(-1, 1) for n in CATEGORIES})
    proba = sess.run(["probabilities"], feeds)[0]
    rows = head.copy()
    rows["prediction"] = [repr(float(p)) for p in proba[:, 1]]
    rows.to_csv(os.path.join(HERE, "churn_pipeline_expect.csv"), index=False)
    print("wrote churn_pipeline.onnx and its expect file; inputs", [i.name for i in sess.get_inputs()], "outputs", [o.name for o in sess.get_outputs()])


if __name__ == "__main__":
    main()
