#!/usr/bin/env python3
"""Reference values for the evaluator package, computed with scikit-learn,
SciPy and statsmodels. The Go tests (reference_test.go) load reference.json
and compare within 1e-12.

Rerun (from the repository root) after changing a case:

    python3 -m venv /tmp/venv-eval
    /tmp/venv-eval/bin/pip install scikit-learn scipy statsmodels numpy
    /tmp/venv-eval/bin/python evaluator/testdata/make_reference.py > evaluator/testdata/reference.json

The output records the library versions it was made with. The inputs are
drawn from fixed seeds, so a rerun with the same versions gives the same file.

Conventions pinned here, as the Go code implements them:
- labels are 0..K-1; the confusion matrix and per-class figures use
  labels=range(K);
- precision/recall/F1 use zero_division=0; macro averages use scikit-learn's
  default label set (classes present in truth or predictions);
- precision/recall/f1 of a binary model are those of class 1
  (average="binary", pos_label=1);
- roc_auc is roc_auc_score on the probability of class 1, None when the
  truth has one class only (scikit-learn returns NaN and warns);
- log_loss is log_loss(truth, p, labels=[0, 1]): probabilities clipped to
  [eps, 1 - eps], eps = numpy.finfo(float64).eps (scikit-learn >= 1.5);
- brier is brier_score_loss(truth, p, pos_label=1);
- McNemar is one-sided, for "the challenger is better": with b rows where
  only the champion is right and c where only the challenger is,
  scipy.stats.binomtest(c, b + c, 0.5, alternative="greater"); its exact
  (Clopper-Pearson) one-sided lower bound for the proportion, at 95%, gives
  the lower bound of the accuracy difference, (b + c)(2 lo - 1) / rows.
  The two-sided statsmodels mcnemar values are kept beside it for the
  record (comparisons recorded by earlier versions used them).
"""

import json
import math
import sys
import warnings

import numpy as np
import scipy
import sklearn
import statsmodels
from sklearn.metrics import (
    accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
)
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar

EXACT_BELOW = 25


def clean(x):
    """NaN (an undefined metric) becomes None, JSON null."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return None
    return float(x)


def score_case(name, k, truth, pred, positive=None, note=""):
    truth = [int(t) for t in truth]
    pred = [int(p) for p in pred]
    labels = list(range(k))
    p_, r_, f_, s_ = precision_recall_fscore_support(
        truth, pred, labels=labels, zero_division=0
    )
    want = {
        "rows": len(truth),
        "confusion": confusion_matrix(truth, pred, labels=labels).tolist(),
        "accuracy": float(accuracy_score(truth, pred)),
        "per_class": [
            {
                "class": c,
                "precision": float(p_[c]),
                "recall": float(r_[c]),
                "f1": float(f_[c]),
                "support": int(s_[c]),
            }
            for c in labels
        ],
        "precision_macro": float(
            precision_score(truth, pred, average="macro", zero_division=0)
        ),
        "recall_macro": float(
            recall_score(truth, pred, average="macro", zero_division=0)
        ),
        "f1_macro": float(f1_score(truth, pred, average="macro", zero_division=0)),
        "macro_classes": len(set(truth) | set(pred)),
    }
    if k == 2:
        want["precision"] = float(
            precision_score(truth, pred, pos_label=1, average="binary", zero_division=0)
        )
        want["recall"] = float(
            recall_score(truth, pred, pos_label=1, average="binary", zero_division=0)
        )
        want["f1"] = float(
            f1_score(truth, pred, pos_label=1, average="binary", zero_division=0)
        )
    if positive is not None:
        positive = [float(x) for x in positive]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # one-class truth: NaN, by design
            want["roc_auc"] = clean(roc_auc_score(truth, positive))
        want["log_loss"] = float(log_loss(truth, positive, labels=[0, 1]))
        want["brier"] = float(brier_score_loss(truth, positive, pos_label=1))
    return {
        "name": name,
        "note": note,
        "classes": k,
        "truth": truth,
        "pred": pred,
        "positive": positive,
        "want": want,
    }


# The Go test adds 17 concordant rows (10 both right, 7 both wrong) to the b
# and c discordant ones: the holdout has b + c + 17 rows.
CONCORDANT_ROWS = 17


def mcnemar_case(name, b, c):
    table = [[10, b], [c, 7]]  # concordant cells do not matter to the test
    exact = b + c < EXACT_BELOW
    two_sided = mcnemar(table, exact=exact, correction=True)
    n = b + c
    rows = n + CONCORDANT_ROWS
    if n > 0:
        res = binomtest(c, n, 0.5, alternative="greater")
        p = float(res.pvalue)
        lo = float(res.proportion_ci(confidence_level=0.95, method="exact").low)
        bound = n * (2 * lo - 1) / rows
    else:
        p, bound = 1.0, 0.0  # nothing to test: binomtest needs n >= 1
    return {
        "name": name,
        "champion_only": b,
        "challenger_only": c,
        "rows": rows,
        "test": "mcnemar-exact-one-sided",
        "statistic": float(c),
        "p_value": p,
        "lower_bound_95": bound,
        "two_sided_statsmodels": {
            "test": "mcnemar-exact" if exact else "mcnemar-chi2",
            "statistic": float(two_sided.statistic),
            "p_value": float(two_sided.pvalue),
        },
    }


def main():
    rng = np.random.default_rng(20240601)
    cases = []

    # Binary, scores rounded to one decimal: many ties, and exact 0 and 1
    # probabilities that log_loss must clip.
    n = 60
    truth = rng.integers(0, 2, n)
    pos = np.clip(np.round(0.35 * truth + rng.uniform(0, 0.65, n), 1), 0, 1)
    pos[:3] = [0.0, 1.0, 1.0]
    truth[:3] = [1, 0, 1]
    pred = (pos >= 0.5).astype(int)
    cases.append(score_case("binary with tied scores and 0/1 probabilities", 2, truth, pred, pos))

    # Binary, continuous scores, imbalanced.
    n = 500
    truth = (rng.uniform(size=n) < 0.2).astype(int)
    pos = 1 / (1 + np.exp(-(1.5 * truth - 1.2 + rng.normal(0, 1, n))))
    pred = (pos >= 0.4).astype(int)
    cases.append(score_case("binary imbalanced with continuous scores", 2, truth, pred, pos))

    # Binary, all scores equal: AUC 0.5 from a single tie group.
    truth = [0, 1, 1, 0, 1, 0, 0, 1]
    pos = [0.5] * len(truth)
    cases.append(score_case("binary with all scores tied", 2, truth, [1] * len(truth), pos))

    # Binary, the model never predicts the positive class: precision 0/0 -> 0.
    n = 40
    truth = rng.integers(0, 2, n)
    pos = rng.uniform(0, 0.49, n)
    cases.append(score_case("binary model that never predicts the positive class", 2, truth, [0] * n, pos))

    # Binary, one class in the truth: roc_auc undefined.
    truth = [1] * 12
    pos = np.round(rng.uniform(size=12), 2)
    pred = (pos >= 0.5).astype(int)
    cases.append(score_case("binary holdout with positives only", 2, truth, pred, pos))

    # Binary, no scores.
    n = 80
    truth = rng.integers(0, 2, n)
    pred = np.where(rng.uniform(size=n) < 0.8, truth, 1 - truth)
    cases.append(score_case("binary without scores", 2, truth, pred))

    # Multiclass, no scores.
    n = 90
    truth = rng.integers(0, 3, n)
    pred = np.where(rng.uniform(size=n) < 0.6, truth, rng.integers(0, 3, n))
    cases.append(score_case("three classes without scores", 3, truth, pred))

    # Multiclass, class 3 in the truth but never predicted.
    n = 70
    truth = rng.integers(0, 4, n)
    pred = np.where(rng.uniform(size=n) < 0.7, truth, rng.integers(0, 3, n))
    pred = np.where(pred == 3, 0, pred)
    cases.append(score_case("four classes, one never predicted", 4, truth, pred))

    # Multiclass, class 4 neither in truth nor predicted: left out of macro.
    n = 50
    truth = rng.integers(0, 4, n)
    pred = np.where(rng.uniform(size=n) < 0.5, truth, rng.integers(0, 4, n))
    cases.append(score_case("five classes, one absent everywhere", 5, truth, pred))

    # A single row.
    cases.append(score_case("a single row", 2, [1], [1], [0.9]))

    mc = [
        mcnemar_case("no discordant rows", 0, 0),
        mcnemar_case("balanced small counts", 5, 5),
        mcnemar_case("small counts favouring the challenger", 2, 9),
        mcnemar_case("small counts favouring the champion", 11, 3),
        mcnemar_case("24 discordant rows", 6, 18),
        mcnemar_case("25 discordant rows", 7, 18),
        mcnemar_case("balanced large counts", 20, 20),
        mcnemar_case("large counts favouring the challenger", 60, 100),
        mcnemar_case("very large counts", 4000, 4400),
        mcnemar_case("one discordant row, for the challenger", 0, 1),
        mcnemar_case("every discordant row for the challenger", 0, 30),
        mcnemar_case("every discordant row for the champion", 30, 0),
        mcnemar_case("a p-value just below 0.05", 40, 58),
        mcnemar_case("a p-value just above 0.05", 41, 58),
        mcnemar_case("half a million discordant rows", 249_500, 250_500),
        mcnemar_case("a million discordant rows, tail far out", 497_000, 503_000),
    ]

    out = {
        "generated_by": "evaluator/testdata/make_reference.py",
        "versions": {
            "python": sys.version.split()[0],
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "scipy": scipy.__version__,
            "statsmodels": statsmodels.__version__,
        },
        "score": cases,
        "mcnemar": mc,
    }
    json.dump(out, sys.stdout, indent=1, allow_nan=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
