"""Reference metrics of the task e2e test (worker/task_e2e_test.go), from scikit-learn.

It reads the holdout labels and predictions the test exported (amount.rows.json: a regression
model's; grade.rows.json: a five-class model's) and writes reference.json, the metrics the test
holds Kingmaker's recorded evaluation to (1e-9 relative).

    go test ./worker -run TestARegressionAndAFiveClassModel -update-task-rows
    python worker/testdata/tasks/reference.py
"""
import json
import pathlib

import numpy as np
import sklearn
from sklearn import metrics

here = pathlib.Path(__file__).parent
out = {}

r = json.loads((here / "amount.rows.json").read_text())
y, p = np.array(r["target"]), np.array(r["values"])
nz = y != 0
out["amount"] = {
    "rmse": float(metrics.root_mean_squared_error(y, p)),
    "mae": float(metrics.mean_absolute_error(y, p)),
    "median_ae": float(metrics.median_absolute_error(y, p)),
    "r2": float(metrics.r2_score(y, p)),
    # Rows with a zero label are left out of mape (scikit-learn would divide by eps).
    "mape": float(metrics.mean_absolute_percentage_error(y[nz], p[nz])),
}

g = json.loads((here / "grade.rows.json").read_text())
t, pred, proba = np.array(g["truth"]), np.array(g["pred"]), np.array(g["proba"])
labels = list(range(proba.shape[1]))
onehot = np.eye(proba.shape[1])[t]
out["grade"] = {
    "accuracy": float(metrics.accuracy_score(t, pred)),
    "f1_macro": float(metrics.f1_score(t, pred, average="macro", zero_division=0)),
    "precision_macro": float(metrics.precision_score(t, pred, average="macro", zero_division=0)),
    "recall_macro": float(metrics.recall_score(t, pred, average="macro", zero_division=0)),
    "log_loss": float(metrics.log_loss(t, proba, labels=labels)),
    "roc_auc_ovr": float(metrics.roc_auc_score(t, proba, multi_class="ovr", average="macro", labels=labels)),
    # brier: the mean over rows and classes of the squared error of the one-hot truth.
    "brier": float(np.mean((proba - onehot) ** 2)),
    "top_k_accuracy": float(metrics.top_k_accuracy_score(t, proba, k=2, labels=labels)),
}
out["_made_by"] = {"scikit-learn": sklearn.__version__, "numpy": np.__version__}

(here / "reference.json").write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
