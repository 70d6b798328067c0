#!/usr/bin/env python3
"""Drift detection of Kingmaker against Evidently and NannyML on the same simulated streams.

scripts/bench.sh runs it (`scripts/bench.sh quick|full drift-compare`, and as part of
every quick or full run) with the venv's Python, which has numpy, pandas, evidently and
nannyml at the versions of bench/requirements-drift.txt:

    drift_compare.py --mode quick|full --gobin BIN --out bench/results/<ts>-drift-compare.json

For every window size n it writes the streams (numpy, from --seed) into
bench/data/drift_compare/n<n>/ as .npy arrays of reps x n values, runs the Go test
binary's BenchmarkDriftCompare on them (Kingmaker's drift report, one per window), and
runs Evidently's DataDriftPreset and NannyML's UnivariateDriftCalculator on the very
same arrays. Each window has 4 columns: numeric x1 and x2 (standard normal), a
categorical c of K categories (Zipf-like proportions, p_k proportional to 1/(k+1)) and a
binary label (30% positive); the reference has n rows drawn the same way. The streams
change one column of the window:

    none            nothing
    mean_shift      x1 ~ N(0.2, 1)
    variance_shift  x1 ~ N(0, 1.3^2)
    new_category    c: 2% of the rows take a category the reference never had
    category_mix    c: the most frequent category gives 0.10 of probability to the
                    others, in proportion to theirs (total variation 0.10)
    label_shift     label: 38% positive instead of 30%

A drifted window is the no-drift window of the same repetition with the shifted column
replaced, so the three other columns are the no-drift ones. Evidently and NannyML judge
each column on its own (their per-column tests do not look at the other columns), so each
column's verdict is computed once, many repetitions side by side in one report; Evidently's
dataset-level verdict (share of drifted columns >= its drift_share, 0.5) is then computed
per window from its 4 column verdicts, which is what its preset does (checked against
its own share on the timed windows). Kingmaker reports every window on its own: its
Benjamini-Hochberg adjustment looks at all 4 p-values of a window.

NannyML computes its thresholds on chunks of the reference: reference and window are each
cut into 10 chunks of n/10 rows (chunk_size), and a column of a window is flagged when any
of the window's chunks alerts.

Times are one window each (reference + window of n rows, 4 columns, no drift, repetition
0): Evidently's Dataset.from_pandas and Report.run, NannyML's fit and calculate, and
Kingmaker's profile, window and report (the median over the repetitions); wall and CPU
seconds, medians of the plan's timing repeats (3 in full, 1 in quick; one window at
K = 20 only from 1M rows, which costs Evidently tens of seconds).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from datetime import datetime, timezone

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # NannyML's usage statistics
os.environ.setdefault("DO_NOT_TRACK", "1")

import numpy as np  # noqa: E402

from run import loadavg, sh  # noqa: E402  (bench/run.py, beside this file)

BENCH = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH)

STREAMS = ["none", "mean_shift", "variance_shift", "new_category", "category_mix", "label_shift"]
SHIFTED = {"none": None, "mean_shift": "x1", "variance_shift": "x1", "new_category": "c",
           "category_mix": "c", "label_shift": "label"}
MEAN_SHIFT = 0.2
SD_FACTOR = 1.3
NEW_SHARE = 0.02
MIX_MOVE = 0.10
POSITIVE, POSITIVE_SHIFTED = 0.30, 0.38
KS = [2, 20, 200]

# Repetitions per window size: each repetition is one reference and one window of each
# stream. The 1M-row windows cost seconds per tool and column, so they have few.
PLANS = {
    "quick": {"sizes": {500: 12, 10_000: 6}, "timing": 1},
    "full": {"sizes": {500: 100, 10_000: 60, 1_000_000: 1}, "timing": 3},
}
# From this size on, one timed window (K = 20) instead of one per K: Evidently takes
# 25-55 s for one window of a million rows here.
BIG = 1_000_000
# Values per Evidently/NannyML batch (columns x rows), to bound memory.
BATCH_VALUES = 12_000_000


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


def category_probs(k):
    p = 1.0 / np.arange(1, k + 1)
    return p / p.sum()


def mixed_probs(k):
    p = category_probs(k)
    q = p.copy()
    q[0] -= MIX_MOVE
    q[1:] += MIX_MOVE * p[1:] / p[1:].sum()
    return q


def rng_for(seed, n, name):
    """A generator of its own for each array, so that arrays do not depend on each other."""
    return np.random.default_rng([seed, n, int.from_bytes(name.encode()[:16].ljust(16, b"\0"), "little") % (2**63)])


def generate(seed, n, reps):
    """The arrays of one window size: name -> reps x n array (float64 or int32 codes)."""
    a = {}
    for side in ("ref", "win"):
        for x in ("x1", "x2"):
            a[f"{side}_{x}"] = rng_for(seed, n, f"{side}_{x}").standard_normal((reps, n))
        a[f"{side}_label"] = (rng_for(seed, n, f"{side}_label").random((reps, n)) < POSITIVE).astype(np.int32)
    a["win_x1_mean_shift"] = MEAN_SHIFT + rng_for(seed, n, "mean").standard_normal((reps, n))
    a["win_x1_variance_shift"] = SD_FACTOR * rng_for(seed, n, "variance").standard_normal((reps, n))
    a["win_label_label_shift"] = (rng_for(seed, n, "label_shift").random((reps, n)) < POSITIVE_SHIFTED).astype(np.int32)
    for k in KS:
        p = category_probs(k)
        for side in ("ref", "win"):
            a[f"{side}_c{k}"] = rng_for(seed, n, f"{side}_c{k}").choice(k, size=(reps, n), p=p).astype(np.int32)
        g = rng_for(seed, n, f"new{k}")
        c = g.choice(k, size=(reps, n), p=p).astype(np.int32)
        c[g.random((reps, n)) < NEW_SHARE] = k
        a[f"win_c{k}_new_category"] = c
        a[f"win_c{k}_category_mix"] = rng_for(seed, n, f"mix{k}").choice(k, size=(reps, n), p=mixed_probs(k)).astype(np.int32)
    return a


def window_files(k, stream):
    """The array of each column of a window of stream at K categories."""
    files = {"x1": "win_x1", "x2": "win_x2", "c": f"win_c{k}", "label": "win_label"}
    col = SHIFTED[stream]
    if col:
        files[col] = f"{files[col]}_{stream}"
    return files


def ref_files(k):
    return {"x1": "ref_x1", "x2": "ref_x2", "c": f"ref_c{k}", "label": "ref_label"}


def write_streams(d, arrays, n, reps):
    os.makedirs(d, exist_ok=True)
    for name, arr in arrays.items():
        np.save(os.path.join(d, name + ".npy"), arr)
    cases = [{"k": k, "stream": s, "shifted": SHIFTED[s] or "",
              "ref": {c: f + ".npy" for c, f in ref_files(k).items()},
              "window": {c: f + ".npy" for c, f in window_files(k, s).items()}} for k in KS for s in STREAMS]
    with open(os.path.join(d, "manifest.json"), "w") as f:
        json.dump({"rows": n, "reps": reps, "numeric": ["x1", "x2"], "categorical": ["c"], "cases": cases}, f, indent=1)


def kingmaker(gobin, d, out):
    argv = [gobin, "-test.run", "^$", "-test.bench", "^BenchmarkDriftCompare$", "-test.benchtime", "1x",
            "-test.timeout", "1h", "-kmbench.streams", d, "-kmbench.out", out]
    t = time.perf_counter()
    p = subprocess.run(argv, cwd=BENCH, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"BenchmarkDriftCompare failed (exit {p.returncode}):\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    with open(out) as f:
        res = json.load(f)
    res["wall_seconds"] = wall
    return res


# Each column judgement: (key, kind, reference array name, window array name). The keys
# are the window array names: one verdict per repetition.
def judgements(arrays):
    out = []
    for name in arrays:
        if not name.startswith("win_"):
            continue
        col = name[4:].split("_")[0]  # x1, x2, label, c<k>
        ref = "ref_" + col
        kind = "numeric" if col.startswith("x") else "categorical"
        out.append((name, kind, ref, name))
    return out


def batches(jobs, reps, n):
    """Jobs x repetitions as columns, at most BATCH_VALUES values per frame."""
    cols = [(job, r) for job in jobs for r in range(reps)]
    per = max(1, BATCH_VALUES // n)
    for i in range(0, len(cols), per):
        yield cols[i:i + per]


def frames(batch, arrays):
    import pandas as pd
    ref, cur, num, cat = {}, {}, [], []
    for (key, kind, rname, wname), r in batch:
        col = f"{key}__{r}"
        ref[col], cur[col] = arrays[rname][r], arrays[wname][r]
        (num if kind == "numeric" else cat).append(col)
    return pd.DataFrame(ref), pd.DataFrame(cur), num, cat


def evidently_report(ref, cur, num, cat):
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset
    dd = DataDefinition(numerical_columns=num, categorical_columns=cat)
    snap = Report([DataDriftPreset()], include_tests=True).run(Dataset.from_pandas(cur, data_definition=dd),
                                                               Dataset.from_pandas(ref, data_definition=dd))
    d = snap.dict()
    drifted, methods, share, drift_share = {}, {}, None, None
    for t in d["tests"]:
        params = t["metric_config"]["params"]
        if params["type"].endswith("ValueDrift"):
            drifted[params["column"]] = t["status"] == "FAIL"
            methods[params["column"]] = f"{params['method']} (threshold {params['threshold']})"
    for m in d["metrics"]:
        if m["config"]["type"].endswith("DriftedColumnsCount"):
            share, drift_share = m["value"]["share"], m["config"]["drift_share"]
    return drifted, methods, share, drift_share


def nannyml_report(ref, cur, num, cat, chunk):
    from nannyml.drift.univariate import UnivariateDriftCalculator
    calc = UnivariateDriftCalculator(column_names=num + cat, treat_as_categorical=cat, chunk_size=chunk)
    calc.fit(ref)
    df = calc.calculate(cur).filter(period="analysis").to_df()
    drifted, methods, chunks = {}, {}, {}
    for col in num + cat:
        method = next(m for (c, m, f) in df.columns if c == col and f == "alert")
        alerts = df[(col, method, "alert")]
        drifted[col] = bool(alerts.any())
        chunks[col] = [int(alerts.sum()), len(alerts)]
        methods[col] = method
    return drifted, methods, chunks


def run_python(tool, arrays, n, reps, chunk):
    """Every column verdict of tool: key -> [verdict per repetition], and the methods used."""
    verdicts, methods, chunks = {}, {}, {}
    t, c = time.perf_counter(), time.process_time()
    for batch in batches(judgements(arrays), reps, n):
        ref, cur, num, cat = frames(batch, arrays)
        if tool == "evidently":
            drifted, meth, _, _ = evidently_report(ref, cur, num, cat)
        else:
            drifted, meth, alerts = nannyml_report(ref, cur, num, cat, chunk)
        for (job, r) in batch:
            col = f"{job[0]}__{r}"
            verdicts.setdefault(job[0], [None] * reps)[r] = drifted[col]
            methods.setdefault(job[0], meth[col])
            if tool == "nannyml":
                chunks.setdefault(job[0], [None] * reps)[r] = alerts[col]
    return verdicts, methods, chunks, time.perf_counter() - t, time.process_time() - c


def one_window(arrays, k, stream, r):
    import pandas as pd
    rf, wf = ref_files(k), window_files(k, stream)
    ref = pd.DataFrame({c: arrays[f][r] for c, f in rf.items()})
    cur = pd.DataFrame({c: arrays[f][r] for c, f in wf.items()})
    return ref, cur


def time_windows(arrays, repeats, chunk, ks):
    """Seconds of one no-drift window per tool at each K of ks; checks Evidently's dataset share against the per-column rule."""
    out = {}
    for k in ks:
        ref, cur = one_window(arrays, k, "none", 0)
        ev, nm, ev_cpu, nm_cpu = [], [], [], []
        for _ in range(repeats):
            t, c = time.perf_counter(), time.process_time()
            drifted, _, share, drift_share = evidently_report(ref, cur, ["x1", "x2"], ["c", "label"])
            ev.append(time.perf_counter() - t)
            ev_cpu.append(time.process_time() - c)
            t, c = time.perf_counter(), time.process_time()
            nannyml_report(ref, cur, ["x1", "x2"], ["c", "label"], chunk)
            nm.append(time.perf_counter() - t)
            nm_cpu.append(time.process_time() - c)
        mine = sum(drifted.values()) / len(drifted)
        if abs(mine - share) > 1e-12:
            raise RuntimeError(f"Evidently's share of drifted columns {share} differs from its column verdicts' {mine}")
        out[str(k)] = {"evidently": float(np.median(ev)), "nannyml": float(np.median(nm)),
                       "evidently_cpu": float(np.median(ev_cpu)), "nannyml_cpu": float(np.median(nm_cpu)), "drift_share": drift_share}
    return out


def none_case(km, k):
    return next(c for c in km["cases"] if c["k"] == k and c["stream"] == "none")


def clopper_pearson(k, n):
    """The Clopper-Pearson 95% interval of a rate k/n."""
    from scipy.stats import beta
    lo = 0.0 if k == 0 else float(beta.ppf(0.025, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(0.975, k + 1, n - k))
    return [lo, hi]


def rate(flags):
    k, n = int(sum(flags)), len(flags)
    return {"flagged": k, "of": n, "rate": k / n, "ci95": clopper_pearson(k, n)}


def summarise(n, reps, km, ev, nm, nm_chunks, drift_share):
    """Per (K, stream): each tool's verdicts turned into rates."""
    cells = []
    kcase = {(c["k"], c["stream"]): c for c in km["cases"]}
    for k in KS:
        for s in STREAMS:
            files = window_files(k, s)
            col = SHIFTED[s]
            cell = {"rows": n, "k": k, "stream": s, "shifted": col, "reps": reps}
            kc = kcase[(k, s)]
            window = {"kingmaker": [r["drifted"] for r in kc["reps"]]}
            per_col = {"kingmaker": {c: [r["columns"][c]["drifted"] for r in kc["reps"]] for c in files}}
            for tool, v in (("evidently", ev), ("nannyml", nm)):
                per_col[tool] = {c: v[f] for c, f in files.items()}
                window[tool] = [any(per_col[tool][c][r] for c in files) for r in range(reps)]
            dataset = [sum(per_col["evidently"][c][r] for c in files) / len(files) >= drift_share for r in range(reps)]
            cell["window_flagged"] = {t: rate(f) for t, f in window.items()}
            cell["evidently_dataset_flagged"] = rate(dataset)
            cell["kingmaker_model_flagged"] = rate([r["model_drifted"] for r in kc["reps"]])
            # What Kingmaker's tests alone would flag (adjusted p-value at or below the stated
            # rate, enough rows), without its effect-size floor: where the power goes.
            level = km["options"].get("false_alarm_rate", km["options"].get("alpha"))
            alone = [{c: r["sufficient"] and r["columns"][c]["adjusted_p_value"] <= level for c in files} for r in kc["reps"]]
            cell["kingmaker_test_alone"] = rate([a[col] for a in alone]) if col else rate([any(a.values()) for a in alone])
            if col:
                cell["column_flagged"] = {t: rate(per_col[t][col]) for t in per_col}
            else:
                cell["column_false_alarms"] = {t: rate([f for c in files for f in per_col[t][c]]) for t in per_col}
                cell["column_false_alarms_by_column"] = {t: {c: rate(per_col[t][c]) for c in files} for t in per_col}
                alerted = [nm_chunks[f][r] for f in files.values() for r in range(reps)]
                k_, n_ = sum(a for a, _ in alerted), sum(b for _, b in alerted)
                cell["nannyml_chunk_alerts"] = {"flagged": k_, "of": n_, "rate": k_ / n_, "ci95": clopper_pearson(k_, n_)}
            cell["kingmaker_seconds"] = kc["seconds"]
            cells.append(cell)
    return cells


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=sorted(PLANS), required=True)
    ap.add_argument("--gobin", required=True, help="the test binary: go test -c -o BIN ./bench")
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--data", default=os.path.join(BENCH, "data", "drift_compare"))
    ap.add_argument("--sizes", default="", help="rows:reps,... instead of the mode's (e.g. 500:5 to try the harness)")
    args = ap.parse_args()
    args.out, args.data = os.path.abspath(args.out), os.path.abspath(args.data)
    warnings.filterwarnings("ignore")
    import logging
    logging.disable(logging.WARNING)
    import evidently
    import nannyml
    import pandas
    import scipy

    plan = dict(PLANS[args.mode])
    if args.sizes:
        plan["sizes"] = {int(a): int(b) for a, b in (x.split(":") for x in args.sizes.split(","))}
    started = datetime.now(timezone.utc)
    t0 = time.perf_counter()
    res = {"run": {"mode": args.mode, "command": f"scripts/bench.sh {args.mode} drift-compare", "seed": args.seed,
                   "started": started.isoformat(timespec="seconds"), "loadavg_start": loadavg(),
                   "nproc": os.cpu_count(), "python": platform.python_version(),
                   "versions": {m.__name__: m.__version__ for m in (evidently, nannyml, pandas, np, scipy)},
                   "go": sh("go", "version"), "git_commit": sh("git", "rev-parse", "--short", "HEAD"),
                   "git_dirty_files": len([l for l in sh("git", "status", "--porcelain", "--untracked-files=no").splitlines() if l.strip()]),
                   "plan": {str(n): r for n, r in plan["sizes"].items()}},
           "streams": {"mean_shift": MEAN_SHIFT, "sd_factor": SD_FACTOR, "new_share": NEW_SHARE, "mix_move": MIX_MOVE,
                       "positive": POSITIVE, "positive_shifted": POSITIVE_SHIFTED, "ks": KS},
           "sizes": {}, "cells": []}
    for n, reps in plan["sizes"].items():
        s = time.perf_counter()
        log(f"drift compare: {n:,} rows, {reps} repetitions of {len(STREAMS)} streams at K = {', '.join(map(str, KS))}")
        arrays = generate(args.seed, n, reps)
        d = os.path.join(args.data, f"n{n}")
        write_streams(d, arrays, n, reps)
        gen = time.perf_counter() - s
        chunk = n // 10
        km = kingmaker(args.gobin, d, args.out + f".kingmaker-{n}.json")
        log(f"  kingmaker: {km['wall_seconds']:.1f} s")
        ev, ev_methods, _, ev_s, ev_cpu = run_python("evidently", arrays, n, reps, chunk)
        log(f"  evidently: {ev_s:.1f} s ({ev_cpu:.1f} s CPU)")
        nm, nm_methods, nm_chunks, nm_s, nm_cpu = run_python("nannyml", arrays, n, reps, chunk)
        log(f"  nannyml: {nm_s:.1f} s ({nm_cpu:.1f} s CPU)")
        times = time_windows(arrays, plan["timing"] if n < BIG else 1, chunk, KS if n < BIG else [20])
        drift_share = next(iter(times.values()))["drift_share"]
        res["sizes"][str(n)] = {
            "reps": reps, "nannyml_chunk_size": chunk, "seconds": {"generate": gen, "kingmaker": km["wall_seconds"], "evidently": ev_s, "nannyml": nm_s,
                                                                  "evidently_cpu": ev_cpu, "nannyml_cpu": nm_cpu,
                                                                  "all": time.perf_counter() - s},
            "window_seconds": {str(k): {"kingmaker": none_case(km, k)["seconds"], "kingmaker_cpu": none_case(km, k)["cpu_seconds"],
                                        **times.get(str(k), {})} for k in KS},
            "kingmaker_options": km["options"], "kingmaker_max_drifted_features": km["max_drifted_features"],
            "kingmaker_peak_rss_mib": km["peak_rss_mib"], "evidently_methods": ev_methods, "nannyml_methods": nm_methods,
            "commands": {"kingmaker": f"cd bench && $KMBENCH -test.run '^$' -test.bench '^BenchmarkDriftCompare$' -test.benchtime 1x -kmbench.streams data/drift_compare/n{n}"},
        }
        res["cells"] += summarise(n, reps, km, ev, nm, nm_chunks, drift_share)
        os.remove(args.out + f".kingmaker-{n}.json")
    # The rate Kingmaker's report states: its false_alarm_rate, or before that option existed, its alpha.
    opts = res["sizes"][str(next(iter(plan["sizes"])))]["kingmaker_options"]
    res["stated_false_alarm_rate"] = opts.get("false_alarm_rate", opts.get("alpha"))
    res["run"]["seconds"] = time.perf_counter() - t0
    res["run"]["loadavg_end"] = loadavg()
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    log(f"drift compare: results in {os.path.relpath(args.out, REPO)} ({res['run']['seconds'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
