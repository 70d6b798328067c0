#!/usr/bin/env python3
"""The Python side of Kingmaker's benchmarks: scikit-learn, numpy and scipy on
the very data the Go side reads (the .npy grids bench.TestExport writes).

scripts/bench.sh runs it in the venv it makes (.venv), one measurement per
process, interleaved with the Go side (bench/run.py), so that peak RSS is that
measurement's and ratios are taken side by side:

    .venv/bin/python bench/sklearn_bench.py train --algo logistic --data bench/data/bench_100000.npy
    .venv/bin/python bench/sklearn_bench.py drift --data bench/data/bench_1000000.npy \\
        --window bench/data/bench_drifted_1000000.npy

Each command prints one JSON object (or writes it to --out) with the fields of
the Go side's result (bench/train_test.go trainResult, bench/drift_test.go
driftResult).

The estimators match Kingmaker's algorithms (trainer/doc.go) with their
default parameters:

    logistic     LogisticRegression(C=1) on standardised numeric + one-hot categorical
    id3          DecisionTreeClassifier(criterion="entropy") on 10 quantile bins + category codes
    forest       RandomForestClassifier(31 trees, entropy, max_features=3, min_samples_split=5), same bins
    naive_bayes  BernoulliNB on numeric > training median + one-hot categorical
    knn          KNeighborsClassifier(5) on standardised numeric + one-hot categorical
    xgboost      HistGradientBoostingClassifier(100 rounds, learning rate 0.1, early_stopping=False) on one-hot

Preprocessing is fitted on the training rows and counted in the training time,
as the Go trainers do it inside Train.
"""

import argparse
import json
import os
import resource
import sys
import time

import numpy as np


def proc_status_mib(field):
    """A kB field of /proc/self/status, in MiB; None where there is none."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) / 1024
    return None


def rss_mib():
    """Current resident set size (VmRSS) in MiB."""
    return proc_status_mib("VmRSS:") or 0.0


def peak_rss_mib():
    """Peak resident set size (VmHWM): getrusage's ru_maxrss would include what
    the parent had between fork and exec."""
    return proc_status_mib("VmHWM:") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds():
    """CPU time (user and system) of this process so far, every thread included."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def manifest_of(path):
    with open(path[: -len(".npy")] + ".json") as f:
        return json.load(f)


def load(path):
    """The grid as numpy arrays: features, labels and the holdout mask."""
    man = manifest_of(path)
    arr = np.load(path)
    nfeat = len(man["schema"]["features"])
    if arr.shape != (man["rows"], nfeat + 2):
        raise SystemExit(f"{path}: shape {arr.shape}, the manifest says ({man['rows']}, {nfeat + 2})")
    return man, arr[:, :nfeat], arr[:, nfeat].astype(np.int64), arr[:, nfeat + 1] == 1


def kinds(man):
    feats = man["schema"]["features"]
    num = [j for j, f in enumerate(feats) if f["kind"] == "numeric"]
    cat = [j for j, f in enumerate(feats) if f["kind"] == "categorical"]
    cats = [list(range(len(feats[j]["categories"]))) for j in cat]
    return num, cat, cats


def estimator(algo, man):
    """The scikit-learn pipeline matching a Kingmaker algorithm."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import BernoulliNB
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import Binarizer, FunctionTransformer, KBinsDiscretizer, OneHotEncoder, StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    num, cat, cats = kinds(man)

    def onehot():
        return OneHotEncoder(categories=cats, handle_unknown="ignore", sparse_output=False)

    def standardised():
        return ColumnTransformer([("num", StandardScaler(), num), ("cat", onehot(), cat)])

    def binned():
        bins = KBinsDiscretizer(n_bins=10, encode="ordinal", strategy="quantile", subsample=None)
        return ColumnTransformer([("num", bins, num), ("cat", "passthrough", cat)])

    if algo == "logistic":
        return "LogisticRegression(C=1)", make_pipeline(standardised(), LogisticRegression(C=1.0))
    if algo == "id3":
        return "DecisionTreeClassifier(entropy)", make_pipeline(
            binned(), DecisionTreeClassifier(criterion="entropy", min_samples_split=2, random_state=1))
    if algo == "forest":
        return "RandomForestClassifier(31, entropy)", make_pipeline(
            binned(),
            RandomForestClassifier(n_estimators=31, criterion="entropy", max_features=3, min_samples_split=5,
                                   random_state=1, n_jobs=1))
    if algo == "naive_bayes":
        return "BernoulliNB", make_pipeline(
            ColumnTransformer([("num", make_pipeline(MedianCentre(), Binarizer(threshold=0.0)), num), ("cat", onehot(), cat)]),
            BernoulliNB())
    if algo == "knn":
        return "KNeighborsClassifier(5)", make_pipeline(standardised(), KNeighborsClassifier(n_neighbors=5))
    if algo == "xgboost":
        return "HistGradientBoostingClassifier", make_pipeline(
            ColumnTransformer([("num", "passthrough", num), ("cat", onehot(), cat)]),
            HistGradientBoostingClassifier(max_iter=100, learning_rate=0.1, early_stopping=False, random_state=1))
    raise SystemExit(f"unknown algorithm {algo!r}")


try:
    from sklearn.base import BaseEstimator, TransformerMixin

    class MedianCentre(TransformerMixin, BaseEstimator):
        """Subtracts the training median, so that Binarizer(0) marks values above it."""

        def fit(self, x, y=None):
            self.median_ = np.median(x, axis=0)
            return self

        def transform(self, x):
            return x - self.median_
except ImportError:  # the drift command needs no scikit-learn
    pass


def cmd_train(args):
    import sklearn
    from sklearn.metrics import accuracy_score, roc_auc_score
    from threadpoolctl import threadpool_info

    from sklearn import compose, ensemble, linear_model, naive_bayes, neighbors, pipeline, preprocessing, tree  # noqa: F401

    at_start = rss_mib()
    began = time.perf_counter()
    man, x, y, hold = load(args.data)
    xtr, ytr, xte, yte = x[~hold], y[~hold], x[hold], y[hold]
    loaded = time.perf_counter()
    name, est = estimator(args.algo, man)
    rss_before = rss_mib()
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    est.fit(xtr, ytr)
    t1 = time.perf_counter()
    proba = est.predict_proba(xte)
    pred = (proba[:, 1] > proba[:, 0]).astype(np.int64)  # argmax, ties to class 0
    t2 = time.perf_counter()
    acc = accuracy_score(yte, pred)
    auc = roc_auc_score(yte, proba[:, 1])
    t3 = time.perf_counter()
    cpu = cpu_seconds() - cpu0
    threads = max([p.get("num_threads", 1) for p in threadpool_info()] or [1])
    return {
        "side": "python", "algorithm": args.algo, "estimator": name, "sklearn": sklearn.__version__,
        "rows": int(len(y)), "train_rows": int(len(ytr)), "holdout_rows": int(len(yte)),
        "load_seconds": loaded - began, "train_seconds": t1 - t0, "predict_seconds": t2 - t1,
        "score_seconds": t3 - t2, "seconds": t3 - t0, "cpu_seconds": cpu, "accuracy": float(acc), "roc_auc": float(auc),
        "rss_at_start_mib": at_start, "rss_before_train_mib": rss_before,
        "omp_threads": int(os.environ.get("OMP_NUM_THREADS") or 0), "peak_rss_mib": peak_rss_mib(), "threads": threads,
    }


# --- drift: what drift.ProfileBuilder, drift.Tally and Tally.Report do, column-wise.

BINS, SKETCH, MAX_CATEGORIES, EPS, SMOOTHING = 10, 500, 200, 1e-4, 0.5


def numeric_profile(col):
    v = col[~np.isnan(col)]
    v.sort()
    n = len(v)
    p = {"count": n, "missing": len(col) - n, "min": v[0], "max": v[-1], "mean": v.mean(), "std": v.std(), "sorted": v}
    e = v[[(k * n) // BINS for k in range(1, BINS)]]
    p["edges"] = np.unique(e[e > v[0]])
    below = np.searchsorted(v, p["edges"], side="left")
    p["counts"] = np.diff(np.concatenate(([0], below, [n])))
    first = np.concatenate(([True], v[1:] != v[:-1]))
    if np.count_nonzero(first) <= SKETCH:
        p["sketch"], p["sketch_below"] = v[first], np.flatnonzero(first)
    else:
        s = np.unique(v[[(k * n) // SKETCH for k in range(SKETCH)]])
        p["sketch"], p["sketch_below"] = s, np.searchsorted(v, s, side="left")
    return p


def categorical_profile(col):
    names, counts = np.unique(col[col != ""], return_counts=True)
    p = {"missing": int(np.count_nonzero(col == "")), "unseen": 0}
    if len(names) > MAX_CATEGORIES:
        keep = np.sort(np.lexsort((names, -counts))[:MAX_CATEGORIES])
        p["unseen"] = int(counts.sum() - counts[keep].sum())
        names, counts = names[keep], counts[keep]
    p["names"], p["counts"] = names, counts
    return p


def numeric_window(col, p):
    """Counts per grid cell (edges, sketch and the float above the reference maximum) and the summary."""
    grid = np.union1d(np.union1d(p["edges"], p["sketch"]), [np.nextafter(p["max"], np.inf)])
    missing = np.isnan(col)
    present = col[~missing]
    cells = np.bincount(np.searchsorted(grid, present, side="right"), minlength=len(grid) + 1)
    return {"grid": grid, "cells": cells, "missing": int(np.count_nonzero(missing)),
            "mean": present.mean(), "std": present.std(), "min": present.min(), "max": present.max()}


def categorical_window(col, p):
    names = p["names"]
    idx = np.searchsorted(names, col)
    idx[idx == len(names)] = 0
    known = names[idx] == col
    missing = col == ""
    idx[~known] = len(names)  # the unseen bucket
    counts = np.bincount(idx[~missing], minlength=len(names) + 1)
    return {"counts": counts, "missing": int(np.count_nonzero(missing))}


def psi(ref, win):
    p = np.maximum(ref / ref.sum(), EPS)
    q = np.maximum(win / win.sum(), EPS)
    return float(np.sum((q - p) * np.log(q / p)))


def numeric_stats(p, w):
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import kstwo

    grid, cells = w["grid"], w["cells"]
    # Bins: cell c (c >= 1) starts at grid[c-1] and falls in the bin of the edges <= grid[c-1].
    bin_of = np.concatenate(([0], np.searchsorted(p["edges"], grid, side="right")))
    ref_bins = np.append(p["counts"], p["missing"]).astype(float)
    win_bins = np.append(np.bincount(bin_of, weights=cells, minlength=len(p["counts"])), w["missing"])
    out = {"psi": psi(ref_bins, win_bins), "js": float(jensenshannon(ref_bins, win_bins, base=2))}
    ref_below = np.searchsorted(p["sorted"], grid, side="left")
    nr, nw = p["count"], cells.sum()
    d = np.abs(ref_below / nr - np.cumsum(cells)[:-1] / nw).max()
    n = round(max(nr, nw) * min(nr, nw) / (nr + nw))
    out["ks"], out["p"] = float(d), float(kstwo.sf(d, n))
    return out


def categorical_stats(p, w):
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import chisquare

    k = len(p["names"])
    ref = np.zeros(k + 2)
    ref[:k], ref[k], ref[k + 1] = p["counts"], p["unseen"], p["missing"]
    win = np.zeros(k + 2)
    win[: k + 1], win[k + 1] = w["counts"], w["missing"]
    out = {"psi": psi(ref, win), "js": float(jensenshannon(ref, win, base=2))}
    used = (ref > 0) | (win > 0)
    exp = ref[used] + SMOOTHING
    exp = exp / exp.sum() * win.sum()
    stat, pv = chisquare(win[used], exp)
    out["chi2"], out["p"] = float(stat), float(pv)
    return out


def cmd_drift(args):
    from scipy.stats import false_discovery_control

    man, ref_x, ref_y, _ = load(args.data)
    _, win_x, win_y, _ = load(args.window)
    num, cat, _ = kinds(man)
    feats = man["schema"]["features"]
    classes = np.array(man["schema"]["classes"])

    def strings(x, y):
        cols = [np.array(feats[j]["categories"])[x[:, j].astype(np.int64)] for j in cat]
        return [np.ascontiguousarray(x[:, j]) for j in num], cols + [classes[y]]

    ref_num, ref_cat = strings(ref_x, ref_y)
    win_num, win_cat = strings(win_x, win_y)
    times = []
    for _ in range(args.passes):
        t0 = time.perf_counter()
        profiles = ([numeric_profile(c) for c in ref_num], [categorical_profile(c) for c in ref_cat])
        t1 = time.perf_counter()
        windows = ([numeric_window(c, p) for c, p in zip(win_num, profiles[0])],
                   [categorical_window(c, p) for c, p in zip(win_cat, profiles[1])])
        t2 = time.perf_counter()
        stats = [numeric_stats(p, w) for p, w in zip(profiles[0], windows[0])] + \
                [categorical_stats(p, w) for p, w in zip(profiles[1], windows[1])]
        adjusted = false_discovery_control([s["p"] for s in stats], method="bh")
        t3 = time.perf_counter()
        times.append((t1 - t0, t2 - t1, t3 - t2, t3 - t0))
    median = [float(np.median([t[i] for t in times])) for i in range(4)]
    names = [feats[j]["name"] for j in num] + [feats[j]["name"] for j in cat] + ["label"]
    return {
        "side": "python", "reference_rows": int(len(ref_y)), "window_rows": int(len(win_y)),
        "distributions": len(names), "passes": args.passes, "profile_seconds": median[0], "window_seconds": median[1],
        "report_seconds": median[2], "seconds": median[3],
        "psi": {n: s["psi"] for n, s in zip(names, stats)},
        "ks": {n: s["ks"] for n, s in zip(names, stats) if "ks" in s},
        "adjusted_p": {n: float(a) for n, a in zip(names, adjusted)},
        "numpy": np.__version__, "peak_rss_mib": peak_rss_mib(),
    }


# --- task: regression and multiclass on the delivery grid (bench/tasks_test.go).


def task_estimator(algo, task, man):
    """The scikit-learn pipeline matching a Kingmaker algorithm for a task."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    num, cat, cats = kinds(man)

    def onehot():
        return OneHotEncoder(categories=cats, handle_unknown="ignore", sparse_output=False)

    if algo == "linear" and task == "regression":
        return "Ridge(alpha=1)", make_pipeline(
            ColumnTransformer([("num", StandardScaler(), num), ("cat", onehot(), cat)]), Ridge(alpha=1.0))
    if algo == "xgboost":
        hgb = HistGradientBoostingRegressor if task == "regression" else HistGradientBoostingClassifier
        return hgb.__name__, make_pipeline(
            ColumnTransformer([("num", "passthrough", num), ("cat", onehot(), cat)]),
            hgb(max_iter=100, learning_rate=0.1, early_stopping=False, random_state=1))
    raise SystemExit(f"no estimator for algorithm {algo!r} and task {task!r}")


def cmd_task(args):
    import sklearn
    from threadpoolctl import threadpool_info

    man = manifest_of(args.data)
    task = man["task"]
    arr = np.load(args.data)
    nfeat = len(man["schema"]["features"])
    x, label, hold = arr[:, :nfeat], arr[:, nfeat], arr[:, nfeat + 1] == 1
    xtr, xte = x[~hold], x[hold]
    name, est = task_estimator(args.algo, task, man)
    cpu0 = cpu_seconds()
    t0 = time.perf_counter()
    res = {"side": "python", "task": task, "algorithm": args.algo, "estimator": name, "sklearn": sklearn.__version__,
           "rows": int(len(label)), "train_rows": int((~hold).sum())}
    if task == "regression":
        est.fit(xtr, label[~hold])
        t1 = time.perf_counter()
        pred = est.predict(xte)
        res["rmse"] = float(np.sqrt(np.mean((pred - label[hold]) ** 2)))
    else:
        ytr, yte = label[~hold].astype(np.int64), label[hold].astype(np.int64)
        est.fit(xtr, ytr)
        t1 = time.perf_counter()
        proba = np.zeros((len(yte), len(man["schema"]["classes"])))
        proba[:, est.classes_] = est.predict_proba(xte)
        res["accuracy"] = float(np.mean(proba.argmax(axis=1) == yte))
        res["log_loss"] = float(-np.mean(np.log(np.maximum(proba[np.arange(len(yte)), yte], 1e-15))))
    t2 = time.perf_counter()
    threads = max([p.get("num_threads", 1) for p in threadpool_info()] or [1])
    res.update({"train_seconds": t1 - t0, "predict_seconds": t2 - t1, "cpu_seconds": cpu_seconds() - cpu0,
                "peak_rss_mib": peak_rss_mib(), "threads": threads,
                "omp_threads": int(os.environ.get("OMP_NUM_THREADS") or 0)})
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    tr = sub.add_parser("train", help="train and evaluate one estimator on an exported grid")
    tr.add_argument("--algo", required=True)
    tr.add_argument("--data", required=True)
    tr.add_argument("--out")
    dr = sub.add_parser("drift", help="profile a grid, count a window against it and compute the drift statistics")
    dr.add_argument("--data", required=True, help="the reference grid")
    dr.add_argument("--window", required=True, help="the window's grid")
    dr.add_argument("--passes", type=int, default=1, help="do it all this many times; the seconds are the medians")
    dr.add_argument("--out")
    tk = sub.add_parser("task", help="train and evaluate one estimator on an exported delivery grid (regression or multiclass)")
    tk.add_argument("--algo", required=True)
    tk.add_argument("--data", required=True)
    tk.add_argument("--out")
    args = ap.parse_args()
    res = {"train": cmd_train, "drift": cmd_drift, "task": cmd_task}[args.cmd](args)
    text = json.dumps(res, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    sys.exit(main())
