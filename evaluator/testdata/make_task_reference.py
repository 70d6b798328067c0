#!/usr/bin/env python3
"""Reference values for the regression metrics, the metrics of probability
matrices (multiclass) and the paired tests on per-row losses, computed with
scikit-learn, SciPy and numpy. The Go tests (task_reference_test.go) load
task_reference.json and compare within 1e-9, relative.

Rerun (from the repository root) after changing a case:

    python3 -m venv .venv
    .venv/bin/pip install numpy scipy scikit-learn
    .venv/bin/python evaluator/testdata/make_task_reference.py > evaluator/testdata/task_reference.json

The output records the library versions it was made with. The inputs are
drawn from fixed seeds, so a rerun with the same versions gives the same file.

Conventions pinned here, as the Go code implements them:
- rmse, mae, median_ae are root_mean_squared_error, mean_absolute_error,
  median_absolute_error;
- r2 is r2_score(force_finite=False); None when the labels are constant
  (scikit-learn then gives NaN or -inf);
- mape is mean_absolute_percentage_error on the rows whose label is not 0
  (a fraction, not a percentage), None when every label is 0; the rows left
  out are counted;
- log_loss is log_loss(truth, P, labels=range(K)) (probabilities clipped to
  [eps, 1 - eps], eps = numpy.finfo(float64).eps);
- roc_auc_ovr is roc_auc_score(truth, P, multi_class="ovr",
  average="macro", labels=range(K));
- brier is the mean over rows and classes of (1[y = c] - P[i, c])^2, checked
  here three ways: by numpy, as the mean over classes of
  brier_score_loss(truth == c, P[:, c]), and as scikit-learn's multiclass
  brier_score_loss(truth, P, labels=range(K)) (a sum over classes) / K;
- top_k_accuracy is top_k_accuracy_score(truth, P, k=k, labels=range(K));
- paired tests take d = champion loss - challenger loss and test
  alternative="greater" (the challenger's loss is lower):
  ttest_rel(champion, challenger, alternative="greater") and
  wilcoxon(champion, challenger, alternative="greater") with its defaults
  (zero_method="wilcox", correction=False, method="auto"); every case with
  zeros or ties has more than 13 rows, where "auto" uses the normal
  approximation, as the Go code does.
"""

import json
import math
import sys

import numpy as np
import scipy
import sklearn
from scipy.stats import ttest_rel, wilcoxon
from sklearn.metrics import (
    brier_score_loss,
    log_loss,
    mean_absolute_error,
    mean_absolute_percentage_error,
    median_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
    top_k_accuracy_score,
)


def finite_or_none(x):
    x = float(x)
    return x if math.isfinite(x) else None


def regression_case(name, truth, pred):
    truth = np.asarray(truth, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    nz = truth != 0
    want = {
        "rows": len(truth),
        "rmse": float(root_mean_squared_error(truth, pred)),
        "mae": float(mean_absolute_error(truth, pred)),
        "median_ae": float(median_absolute_error(truth, pred)),
        "r2": finite_or_none(r2_score(truth, pred, force_finite=False)),
        "mape": float(mean_absolute_percentage_error(truth[nz], pred[nz])) if nz.any() else None,
        "mape_zero_labels": int((~nz).sum()),
    }
    return {"name": name, "truth": truth.tolist(), "pred": pred.tolist(), "want": want}


def regression_cases():
    rng = np.random.default_rng(14)
    truth = rng.normal(50, 20, 200)
    truth[[3, 17, 90]] = 0.0
    pred = truth + rng.normal(0, 5, 200)
    yield regression_case("200 rows with three zero labels", truth, pred)

    yield regression_case(
        "seven rows with negative labels and an odd median",
        [-3.5, 2.0, 7.25, -0.5, 10.0, 4.0, -8.0],
        [-2.0, 2.5, 6.0, 0.5, 12.5, 4.0, -7.0],
    )
    yield regression_case(
        "six rows, an even median",
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        [1.5, 1.0, 3.0, 6.0, 4.0, 9.0],
    )
    yield regression_case("constant labels leave r2 undefined", [3.0] * 5, [2.0, 3.0, 4.0, 3.5, 3.0])
    yield regression_case("all labels zero leave mape undefined", [0.0] * 4, [0.1, -0.2, 0.0, 0.3])


def brier_three_ways(truth, proba):
    k = proba.shape[1]
    onehot = np.eye(k)[truth]
    by_numpy = float(np.mean((onehot - proba) ** 2))
    by_columns = float(np.mean([brier_score_loss(truth == c, proba[:, c]) for c in range(k)]))
    by_sklearn = float(brier_score_loss(truth, proba, labels=list(range(k)))) / k
    for other in (by_columns, by_sklearn):
        assert math.isclose(by_numpy, other, rel_tol=1e-12), (by_numpy, other)
    return by_numpy


def multiclass_case(name, truth, proba, ks):
    truth = np.asarray(truth)
    proba = np.asarray(proba, dtype=np.float64)
    k = proba.shape[1]
    labels = list(range(k))
    present = len(np.unique(truth)) == k
    want = {
        "rows": len(truth),
        "classes": k,
        "log_loss": float(log_loss(truth, proba, labels=labels)),
        "roc_auc_ovr": float(roc_auc_score(truth, proba, multi_class="ovr", average="macro", labels=labels))
        if present
        else None,
        "brier": brier_three_ways(truth, proba),
        "top_k_accuracy": {
            str(kk): float(top_k_accuracy_score(truth, proba, k=kk, labels=labels)) for kk in ks
        },
    }
    return {"name": name, "truth": truth.tolist(), "proba": proba.tolist(), "want": want}


def multiclass_cases():
    rng = np.random.default_rng(5)
    proba = rng.dirichlet(np.ones(5), 300)
    truth = np.array([rng.choice(5, p=p) for p in proba])
    yield multiclass_case("300 rows of five classes, Dirichlet probabilities", truth, proba, [1, 2, 3, 5])

    # Rows drawn from a few vectors: ties within a row (the top-k tie rule)
    # and across rows (midranks in the AUC).
    shapes = np.array(
        [
            [0.2, 0.2, 0.2, 0.2, 0.2],
            [0.4, 0.3, 0.1, 0.1, 0.1],
            [0.1, 0.1, 0.1, 0.3, 0.4],
            [0.25, 0.25, 0.25, 0.25, 0.0],
            [0.0, 0.5, 0.0, 0.5, 0.0],
        ]
    )
    pick = rng.integers(0, len(shapes), 120)
    proba = shapes[pick]
    truth = rng.integers(0, 5, 120)
    truth[:5] = np.arange(5)
    yield multiclass_case("120 rows of tied probabilities, some zero", truth, proba, [1, 2, 3, 4])

    yield multiclass_case(
        "a class absent from the truth leaves roc_auc_ovr undefined",
        [0, 1, 0, 1],
        [[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.3, 0.3, 0.4], [0.1, 0.1, 0.8]],
        [1, 2],
    )


def paired_case(name, loss, truth, champ, chal):
    truth = np.asarray(truth, dtype=np.float64)
    champ = np.asarray(champ, dtype=np.float64)
    chal = np.asarray(chal, dtype=np.float64)
    if loss == "squared":
        a, b = (truth - champ) ** 2, (truth - chal) ** 2
    else:
        a, b = np.abs(truth - champ), np.abs(truth - chal)
    d = a - b
    nz = d[d != 0]
    ties = len(np.unique(np.abs(nz))) < len(nz)
    exact = len(d) <= 50 and len(nz) == len(d) and not ties
    assert exact or len(d) > 13, "scipy's auto would run a permutation test"
    t = ttest_rel(a, b, alternative="greater")
    w = wilcoxon(a, b, alternative="greater")
    return {
        "name": name,
        "loss": loss,
        "truth": truth.tolist(),
        "champion": champ.tolist(),
        "challenger": chal.tolist(),
        "want": {
            "rows": len(d),
            "non_zero": len(nz),
            "t": float(t.statistic),
            "t_p_value": float(t.pvalue),
            "wilcoxon_test": "wilcoxon_exact" if exact else "wilcoxon_normal",
            "w_plus": float(w.statistic),
            "wilcoxon_p_value": float(w.pvalue),
        },
    }


def paired_cases():
    rng = np.random.default_rng(3)
    truth = rng.normal(100, 10, 30)
    champ = truth + rng.normal(0, 4, 30)
    chal = truth + rng.normal(0, 3, 30)
    yield paired_case("30 rows, no ties: exact Wilcoxon, squared errors", "squared", truth, champ, chal)
    yield paired_case("the same 30 rows on absolute errors", "absolute", truth, champ, chal)
    yield paired_case("the same rows with the models swapped: no evidence", "absolute", truth, chal, champ)

    truth = rng.normal(100, 10, 25)
    champ = truth + rng.normal(0, 4, 25)
    chal = truth + rng.normal(0, 2, 25)
    yield paired_case("25 rows, a better challenger: exact Wilcoxon, small p", "squared", truth, champ, chal)

    truth = rng.normal(0, 1, 400)
    champ = truth + rng.normal(0, 1.0, 400)
    chal = truth + rng.normal(0, 0.95, 400)
    yield paired_case("400 rows: normal approximation", "squared", truth, champ, chal)

    truth = rng.integers(0, 10, 60).astype(float)
    champ = truth + rng.integers(-3, 4, 60)
    chal = truth + rng.integers(-2, 3, 60)
    yield paired_case("60 integer rows with zero and tied differences", "absolute", truth, champ, chal)

    truth = rng.normal(10, 2, 20)
    champ = truth + rng.normal(0, 1, 20)
    chal = champ.copy()
    chal[::3] = truth[::3] + rng.normal(0, 0.5, 7)
    yield paired_case("20 rows, 13 of them unchanged: zeros dropped", "squared", truth, champ, chal)


def main():
    out = {
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "regression": list(regression_cases()),
        "multiclass": list(multiclass_cases()),
        "paired": list(paired_cases()),
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
