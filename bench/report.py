#!/usr/bin/env python3
"""Regenerates the tables of BENCHMARKS.md from one results file of bench/run.py.

    python3 bench/report.py bench/results/<timestamp>.json BENCHMARKS.md

Only the blocks between <!-- BEGIN GENERATED: name --> and
<!-- END GENERATED: name --> are rewritten; the prose around them is kept. A
missing BENCHMARKS.md is created with every block and placeholder prose. A
results file of some sections only (scripts/bench.sh MODE SECTION,...)
rewrites only those sections' blocks.
Standard library only.
"""

import json
import os
import re
import statistics
import sys

TARGETS = {"window": 0.8, "xgb_time": 1.5, "xgb_acc_points": -0.5, "drift": 1.0, "overhead": 0.25, "rss_gib": 1.5}
ALGOS = ["logistic", "id3", "forest", "naive_bayes", "knn", "xgboost"]
GO_CMD = "$KMBENCH"


def med(xs):
    return statistics.median(xs) if xs else None


def num(x, digits=3):
    """x to `digits` significant digits, without exponent for ordinary sizes."""
    if x is None:
        return "–"
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 10 ** digits:
        return f"{x:,.0f}"
    decimals = max(0, digits - 1 - int(f"{a:e}".split("e")[1]))
    return f"{x:,.{decimals}f}"


def spread(xs, unit="", digits=3):
    """median [min–max] of xs."""
    if not xs:
        return "–"
    if len(xs) == 1:
        return f"{num(xs[0], digits)}{unit}"
    return f"{num(med(xs), digits)}{unit} [{num(min(xs), digits)}–{num(max(xs), digits)}]"


def verdict(ok):
    return "met" if ok else "**missed**"


def overhead_verdict(x, ov):
    """The overhead target's verdict for one retrain row. With more than one
    training at once the worker overlaps trainings on the cores while the
    pure baseline runs them one after another: that ratio says nothing about
    the overhead, so it gets no verdict."""
    if x["trainings"] > 1:
        return f"not comparable: e2e overlaps {x['trainings']} trainings, pure runs them one after another"
    return verdict(med(ov) < TARGETS["overhead"])


def rows_label(n):
    n = int(n)
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k" if n >= 1000 else str(n)


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def code(lines):
    return "```sh\n" + "\n".join(lines) + "\n```"


# --- sections


def run_block(r, path):
    run = r["run"]
    x = run.get("xgboost", {})
    xgb = f"xgboost trainer built (`-tags xgboost`; {x.get('detail', '')})" if x.get("built") else f"xgboost **not measured**: {x.get('detail') or 'not built'}"
    la = lambda v: "/".join(f"{a:.1f}" for a in v) if v else "?"
    tags = f" -tags {run['build_tags']}" if run.get("build_tags") else ""
    fails = r.get("failures") or []
    lines = [
        f"Figures from **`{run['command']}`** ({run['mode']} run), started {run['started'].replace('T', ' ')}, "
        f"{run['seconds'] / 60:.1f} min in all; results in [`{path}`]({path}).",
        "",
        f"- Machine: {run['nproc']} × {run['cpu']}, {run['ram_gib']} GiB RAM, Linux {run['kernel']}; "
        f"load average (1/5/15 min) {la(run.get('loadavg_start'))} at the start, {la(run.get('loadavg_end'))} at the end "
        "(other people's tests share the machine: absolute times are noisy, ratios are taken between runs made side by side).",
        f"- Software: {run['go']}; Python {run['python']}, numpy {run.get('numpy')}, scipy {run.get('scipy')}, "
        f"scikit-learn {run.get('sklearn')}; {xgb}; {run.get('temporal_cli', 'Temporal dev server')}; "
        f"commit {run['git_commit']} ({run['git_dirty_files']} files modified in the working tree).",
        f"- The Go side is the test binary `go test -c{tags} -o $KMBENCH ./bench`, each figure a process of its own run from "
        "`bench/` (commands below); the Python side `bench/sklearn_bench.py` in `.venv`, run from the repository root. "
        "Peak RSS is each process's own high-water mark (VmHWM).",
        "- Time per section: " + ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in r.get("timings", {}).items()) + ".",
    ]
    if fails:
        lines.append("- **Failed sections**: " + "; ".join(f"{f['section']}: {f['error'].splitlines()[0]}" for f in fails))
    return "\n".join(lines)


def train_groups(r):
    """(algo, rows, side) -> list of results, and paired ratios."""
    g = {}
    for t in r.get("train", []):
        g.setdefault((t["algorithm"], t["rows"], t["side"]), []).append(t)
    return g


def paired(go, py, key):
    """Per-round ratios go/py of key, pairing rounds by number."""
    by = {t["rep"]: t for t in py}
    return [t[key] / by[t["rep"]][key] for t in go if t["rep"] in by and by[t["rep"]][key] > 0]


def peak(t):
    return t.get("peak_rss_mib") or t.get("child_peak_rss_mib")


def server_cpu(w):
    """The Cassandra CPU time per row of a window's reads, pooled over every read (they ask the same of it)."""
    v = [x for s in (w.get("server_cpu_us_per_row") or {}).values() for x in s["values"]]
    return med(v)


def cpu_bound_ratio(w, read):
    """rows/s of read over the plain scan's when the machine is CPU-bound: (server + plain client) / (server + client)."""
    s = server_cpu(w)
    c = w.get("cpu_us_per_row", {})
    if s is None or read not in c or "gocql" not in c:
        return None
    return (s + c["gocql"]["median"]) / (s + c[read]["median"])


def parallel_label(x):
    """The model's parallel_trainings in a retrain result ("all" for 0; results from before the setting started all)."""
    p = x.get("parallel_trainings", 0)
    return "all" if p == 0 else str(p)


def window_block(r):
    wl = r.get("window_load")
    if not wl:
        return "_Not measured in this run._"
    reads = [("gocql", "plain gocql scan (the reference)"), ("gocql-raw", "gocql, cells left undecoded"),
             ("dataset.Scan", "dataset.Source.Scan"), ("dataset.LoadTrain", "dataset.Source.LoadTrain")]
    rows = []
    for n, w in sorted(wl.items(), key=lambda kv: int(kv[0])):
        for read, label in reads:
            if read not in w["rows_per_second"]:
                continue
            ratio = w["ratio"].get(read, {}).get("values", [])
            target = ""
            if read in ("dataset.Scan", "dataset.LoadTrain"):
                target = f"{verdict(med(ratio) >= TARGETS['window'])} (target ≥ {TARGETS['window']})"
                if med(ratio) < TARGETS["window"]:
                    target += f", short by {100 * (1 - med(ratio) / TARGETS['window']):.0f}%"
            cpu = w.get("cpu_us_per_row", {}).get(read, {}).get("values", [])
            srv = (w.get("server_cpu_us_per_row") or {}).get(read, {}).get("values", [])
            est = cpu_bound_ratio(w, read)
            rows.append([rows_label(n), label, spread(w["rows_per_second"][read]["values"], digits=3), spread(ratio), spread(cpu),
                         spread(srv, digits=2), num(est) if est else "–", target])
    cmds = sorted({w["command"] for w in wl.values()})
    first = next(iter(wl.values()))
    return "\n".join([
        table(["rows", "read", "rows/s", "ratio to the plain scan", "client CPU µs/row", "Cassandra CPU µs/row",
               "ratio when CPU-bound (estimate)", "vs target"], rows), "",
        f"{first['days']} day partitions, page size {first['page_size']}, parallelism {first['parallelism']} (the example config's), "
        f"{first['rounds']} rounds per size, each round every read once in a rotating order; ratios are per round. "
        "Client CPU is the benchmark process's CPU time per row read (all its threads): what the reading costs the worker, "
        "which the load of the machine changes much less than wall time. Cassandra CPU is the local node's CPU time per row "
        "over the same stretch (other clients' queries included, so it scatters). On this machine client and server share 2 "
        "cores, so when the cores are saturated rows/s goes as 1 / (server + client CPU per row): the estimate is "
        "(S + C_gocql) / (S + C_read), with S the median Cassandra CPU per row over every read. "
        "The rows were seeded once with `demo.Write` into the keyspace `kingmaker_bench` and are reused.", "",
        code(cmds)])


PROFILE_FUNCS = [
    ("gocql.(*Iter).Scan", "gocql.(*Iter).Scan: the driver's row decoding, all of it"),
    ("gocql.scanColumn", "gocql.scanColumn: a cell handed to its target"),
    ("dataset.(*cell).UnmarshalCQL", "dataset.(*cell).UnmarshalCQL: dataset's own decoding of a cell"),
    ("dataset.(*converter).features", "dataset.(*converter).features: a row's features, category lookups"),
    ("dataset.(*cell).appendText", "dataset.(*cell).appendText: key, label and category text"),
    ("dataset.Holdout", "dataset.Holdout (FNV hash of the key)"),
    ("runtime.mallocgc", "runtime.mallocgc: allocation"),
    ("runtime.gcBgMarkWorker", "runtime.gcBgMarkWorker: garbage collection"),
]


def profile_share(text, func):
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[-1].endswith(func):
            return parts[4]
    return "–"


def profile_block(r):
    prof = r.get("window_profile")
    if not prof:
        return "_No profile in this run (taken in full runs and whenever the target is missed)._"
    reads = [k for k in ("dataset.Scan", "gocql") if k in prof]
    rows = [[label] + [profile_share(prof[k]["top_cum"], f) for k in reads] for f, label in PROFILE_FUNCS]
    out = [f"CPU profiles of {rows_label(prof[reads[0]]['rows'])} rows read 3 times by each (cumulative share of the samples "
           "of the process, which also waits on the network):", "",
           table(["function"] + [f"in {k}" for k in reads], rows), ""]
    for k in reads:
        out += [f"<details><summary>pprof -top of {k}</summary>", "", "```", prof[k]["top"].strip(), "```", "", "</details>", ""]
    out.append(code(sorted(p["command"] for p in prof.values())))
    return "\n".join(out)


def train_block(r):
    g = train_groups(r)
    sizes = sorted({k[1] for k in g})
    rows = []
    for algo in ALGOS:
        prev = None
        for n in sizes:
            go = g.get((algo, n, "go"))
            if not go:
                continue
            total = [t["seconds"] for t in go]
            growth = f"×{num(med(total) / prev, 3)}" if prev else ""
            prev = med(total)
            rows.append([algo, rows_label(n), f"{go[0]['train_rows']:,}", spread([t["train_seconds"] for t in go]),
                         spread([t["predict_seconds"] + t["score_seconds"] for t in go]), spread(total),
                         spread([t.get("cpu_seconds") for t in go if t.get("cpu_seconds") is not None]), growth,
                         num(med([peak(t) for t in go]), 3), f"{go[0]['accuracy']:.4f}", f"{go[0]['roc_auc']:.4f}", len(go)])
    skipped = r.get("train_skipped") or []
    out = [table(["algorithm", "rows", "train rows", "train s", "holdout eval s", "total s", "CPU s", "growth vs 10× fewer rows",
                  "peak RSS MiB", "accuracy", "ROC AUC", "runs"], rows), ""]
    if skipped:
        out.append("Not run:")
        out += [f"- **{s['algorithm']} at {rows_label(s['rows'])} rows**: {s['reason']}." for s in skipped]
        out.append("")
    out.append("Accuracy and AUC are on the holdout (25% of the rows by a hash of the row key, as the pipeline splits); "
               "they do not vary between runs (every trainer is deterministic). Every process runs one thread "
               "(`OMP_NUM_THREADS=1`; the Go trainers other than xgboost use one anyway). Growth is the median total time over the "
               "median at the size 10× smaller: ×10 is linear. Peak RSS includes the data (the process reads the grid, "
               "8 bytes × 11 columns per row) and the test binary itself.")
    cmd = next((t["command"] for t in r.get("train", []) if t["side"] == "go"), None)
    if cmd:
        out += ["", code([re.sub(r"bench_\d+\.npy", "bench_<rows>.npy", re.sub(r"-kmbench\.algo \S+", "-kmbench.algo <algorithm>", cmd)),
                          "# the grid: $KMBENCH -test.run '^TestExport$' -kmbench.export data -kmbench.rows <rows>"])]
    return "\n".join(out)


def sklearn_rows(g, sizes, algos):
    rows = []
    for algo in algos:
        for n in sizes:
            go, py = g.get((algo, n, "go")), g.get((algo, n, "python"))
            if not go or not py:
                continue
            time_ratio = paired(go, py, "seconds")
            cpu_ratio = paired(go, py, "cpu_seconds") if all("cpu_seconds" in t for t in go + py) else []
            train_ratio = paired(go, py, "train_seconds")
            rss_go, rss_py = med([peak(t) for t in go]), med([peak(t) for t in py])
            dacc = 100 * (go[0]["accuracy"] - py[0]["accuracy"])
            rows.append([algo, rows_label(n), py[0]["estimator"], spread([t["seconds"] for t in go]), spread([t["seconds"] for t in py]),
                         spread(time_ratio), spread(cpu_ratio), spread(train_ratio), f"{num(rss_go)} / {num(rss_py)}", num(rss_go / rss_py),
                         f"{go[0]['accuracy']:.4f} / {py[0]['accuracy']:.4f}", f"{dacc:+.2f}",
                         f"{go[0]['roc_auc']:.4f} / {py[0]['roc_auc']:.4f}"])
    return rows


SKLEARN_HEADER = ["algorithm", "rows", "scikit-learn", "Go s", "sklearn s", "time Go/sklearn", "CPU Go/sklearn", "training only Go/sklearn",
                  "peak RSS MiB Go / sklearn", "RSS Go/sklearn", "accuracy Go / sklearn", "Δ accuracy (points)", "ROC AUC Go / sklearn"]


def sklearn_block(r):
    g = train_groups(r)
    sizes = sorted({k[1] for k in g})
    py_cmd = next((t["command"] for t in r.get("train", []) if t["side"] == "python"), None)
    out = [table(SKLEARN_HEADER, sklearn_rows(g, sizes, ALGOS)), "",
           "Times are training plus holdout evaluation (prediction and scoring), one thread per process on both sides; ratios "
           "are per round (the Go run and the scikit-learn run made one after the other), below 1 means Go is faster or "
           "smaller. CPU is each process's CPU time over the same stretch. The Python process's RSS includes the interpreter, "
           "numpy and scikit-learn (about 100 MiB before any data). Go trains with every default except that id3, forest and "
           "knn see every training row (`max_rows` raised to the training rows), as scikit-learn does."]
    if py_cmd:
        out += ["", code([re.sub(r"bench_\d+\.npy", "bench_<rows>.npy", re.sub(r"--algo \S+", "--algo <algorithm>", py_cmd))])]
    allc = r.get("train_all_cores")
    if allc:
        ga = {}
        for t in allc:
            ga.setdefault((t["algorithm"], t["rows"], t["side"]), []).append(t)
        n = max(k[1] for k in ga)
        out += ["", f"The fast trainer and its reference with every core ({allc[0].get('omp_threads') or 'all'} OpenMP threads), "
                "as users run them, side by side in the same way:", "",
                table(SKLEARN_HEADER, sklearn_rows(ga, [n], ["xgboost"])), "",
                code(sorted({t["command"] for t in allc}))]
    return "\n".join(out)


def drift_block(r):
    d = r.get("drift")
    if not d:
        return "_Not measured in this run._"
    go = [x for x in d if x["side"] == "go"]
    py = [x for x in d if x["side"] == "python"]
    rows = []
    for stage, key, rowkey in [("profile (ProfileBuilder over the reference, Build)", "profile_seconds", "reference_rows"),
                               ("window (count every window row)", "window_seconds", "window_rows"),
                               ("report (PSI, JS, KS, χ², Benjamini-Hochberg)", "report_seconds", None),
                               ("all", "seconds", None)]:
        speed = [1 / x for x in paired(go, py, key)]
        rate = lambda xs: spread([x[rowkey] / x[key] for x in xs], digits=3) if rowkey else ""
        ok = ""
        if key in ("profile_seconds", "seconds"):
            ok = verdict(med(speed) >= TARGETS["drift"])
        rows.append([stage, spread([x[key] for x in go]), spread([x[key] for x in py]), spread(speed), rate(go), rate(py), ok])
    dpsi = max(abs(g["psi"][k] - p["psi"][k]) for g in go for p in py for k in g["psi"])
    dks = max(abs(g["ks"][k] - p["ks"][k]) for g in go for p in py for k in g["ks"])
    return "\n".join([
        table(["stage", "Go s", "numpy/scipy s", "speed Go vs numpy (numpy time / Go time)", "Go rows/s", "numpy rows/s", "target ≥ 1"], rows), "",
        f"{go[0]['reference_rows']:,} reference rows (the undrifted grid) and {go[0]['window_rows']:,} window rows (every day drifted), "
        f"{go[0]['distributions']} distributions (6 numeric, 3 categorical, the label); {len(go)} processes per side, alternating, "
        f"each doing it all {go[0].get('passes', 1)} times (the seconds are each process's medians; ranges over the processes). "
        f"Both sides compute the same statistics: the largest difference of a PSI is {dpsi:.1e} and of a KS statistic {dks:.1e}. "
        f"Peak RSS: Go {num(med([x['peak_rss_mib'] for x in go]))} MiB, Python {num(med([x['peak_rss_mib'] for x in py]))} MiB "
        "(both hold both grids).", "",
        code([go[0]["command"], py[0]["command"]])])


def retrain_rows(r):
    return [x for x in r.get("retrain", []) if x["plan"].get("pure")]


def retrain_block(r):
    rs = r.get("retrain")
    if not rs:
        return "_Not measured in this run._"
    rows, cmds = [], []
    for x in retrain_rows(r):
        loads = [sum(p["load_seconds"].values()) for p in x["pure"]]
        trains = [sum(p["train_seconds"].values()) for p in x["pure"]]
        evals = [p["evaluate_seconds"] for p in x["pure"]]
        acts = {}
        for tl in x["timeline"]:
            for a in tl["activities"]:
                acts.setdefault(a["type"], []).append(a["run_seconds"])
        train_wall = [tl["train_wall_seconds"] for tl in x["timeline"]]
        snap = acts.get("SnapshotWindow", [])
        ev = acts.get("Evaluate", [])
        rest = [tl["span_seconds"] - tl["train_wall_seconds"] - tl["evaluate_seconds"] for tl in x["timeline"]]
        ov = x["overhead"]["values"]
        ovc = x.get("overhead_cpu", {}).get("values", [])
        rows.append([rows_label(x["rows"]), ", ".join(c.split(" ")[0] for c in x["candidates"]), x["trainings"], parallel_label(x),
                     spread(x["e2e_seconds"]["values"]), spread(x["pure_seconds"]["values"]),
                     f"{spread([100 * o for o in ov], '%', 2)}", overhead_verdict(x, ov),
                     f"{spread(x.get('e2e_cpu_seconds', {}).get('values', []))} / {spread(x.get('pure_cpu_seconds', {}).get('values', []))}",
                     spread([100 * o for o in ovc], "%", 2),
                     f"{spread(loads)} / {spread(trains)} / {spread(evals)}",
                     f"{spread(train_wall)} / {spread(ev)} / {spread(snap)} / {spread(rest)}",
                     num(x["peak_rss_after_retrain_mib"])])
        cmds.append(x["command"])
    out = [table(["rows", "candidates", "worker's trainings at once", "model's parallel_trainings", "e2e s", "pure s", "overhead (e2e − pure) / pure", "target < 25%",
                  "CPU s e2e / pure", "overhead in CPU",
                  "pure: load / train / evaluate s", "e2e (history): trainings / Evaluate / SnapshotWindow / rest s",
                  "peak RSS of the retrain MiB"], rows), "",
           "e2e is from starting RetrainWorkflow to its result on the dev server, with the worker in the same process; pure is the "
           "same work done directly right after in that process: LoadTrain and Train for each candidate one after another "
           "(each training activity reads its window), then one holdout scan scored by the three models, as Evaluate does. "
           "Every round retrains a fresh model name, so every run is a first run (no champion to compare with); rounds "
           "alternate which of the two goes first (the first round retrains first, so that the peak RSS after it is the "
           "retrain's). CPU is the process's CPU time (worker, client, pure work; not the Temporal server's or Cassandra's). With one "
           "training at a time both do the same work in the same order; with two, the worker overlaps trainings on the 2 cores, "
           "which pure does not. The history columns are medians of the activities' run times taken from the workflow history; "
           "\"rest\" is the rest of the run (workflow tasks, LoadSpec, Promote, Record, queueing)."]
    for x in retrain_rows(r):
        if x["trainings"] != 1 or len(x["timeline"]) != len(x["pure"]):
            continue
        parts = {"training activities beyond LoadTrain and Train (artifact, reference profile, registry writes)": [],
                 "idle between training activities (a queued training waits after the slot frees)": [],
                 "Evaluate beyond the holdout scoring (loading the versions from the registry, recording metrics)": [],
                 "SnapshotWindow (counting the window's rows by class, which the pure path does not)": [],
                 "the rest: dispatch of the other activities and workflow tasks, LoadSpec, Promote, Record": []}
        keys = list(parts)
        for tl, p, e2e in zip(x["timeline"], x["pure"], x["e2e_seconds"]["values"]):
            run = {}
            for a in tl["activities"]:
                run[a["type"]] = run.get(a["type"], 0) + a["run_seconds"]
            train_extra = run.get("TrainCandidate", 0) - sum(p["load_seconds"].values()) - sum(p["train_seconds"].values())
            idle = tl["train_wall_seconds"] - run.get("TrainCandidate", 0)
            eval_extra = run.get("Evaluate", 0) - p["evaluate_seconds"]
            snap = run.get("SnapshotWindow", 0)
            rest = e2e - tl["train_wall_seconds"] - run.get("Evaluate", 0) - snap
            for k, v in zip(keys, (train_extra, idle, eval_extra, snap, rest)):
                parts[k].append((v, v / p["seconds"]))
        out += ["", f"Where the overhead of the {rows_label(x['rows'])}-row retrain with one training at a time "
                f"(parallel_trainings {parallel_label(x)}) goes, per round "
                "(activity run times from the workflow history against the pure run of the same round):", "",
                table(["part", "seconds", "share of pure"],
                      [[k, spread([v for v, _ in vs]), spread([100 * f for _, f in vs], "%", 2)] for k, vs in parts.items()])]
    big = [x for x in rs if not x["plan"].get("pure")]
    for x in big:
        rss = x["peak_rss_after_retrain_mib"]
        acts = {}
        for tl in x["timeline"]:
            for a in tl["activities"]:
                acts.setdefault(a["type"], []).append(a["run_seconds"])
        out += ["", f"**A {rows_label(x['rows'])}-row retrain** with {', '.join(x['candidates'])}: {x['train_rows']:,} training rows, "
                f"{x['holdout_rows']:,} holdout rows, e2e {num(med(x['e2e_seconds']['values']))} s "
                f"(training activity {num(max(acts.get('TrainCandidate', [0])))} s, Evaluate {num(max(acts.get('Evaluate', [0])))} s); "
                f"peak RSS of the process (worker, client and the run) **{num(rss / 1024)} GiB** — "
                f"{verdict(rss / 1024 < TARGETS['rss_gib'])} (target < {TARGETS['rss_gib']} GiB)."]
        cmds.append(x["command"])
    out += ["", code(cmds)]
    return "\n".join(out)


def promote_block(r):
    p = r.get("promote")
    if not p:
        return "_Not measured in this run._"
    lat = lambda l: [l["n"], num(l["p50_ms"]), num(l["p90_ms"]), num(l["p99_ms"]), num(l["max_ms"])]
    rows = [["sequential promotions (each from the previous generation)"] + lat(p["sequential"]),
            [f"winners ({p['contenders']} contenders per round)"] + lat(p["winners"]),
            ["losers (ErrCASLost)"] + lat(p["losers"]),
            ["a whole round (release to last answer)"] + lat(p["round_wall"])]
    return "\n".join([
        table(["", "n", "p50 ms", "p90 ms", "p99 ms", "max ms"], rows), "",
        f"Rounds: {p['rounds']} of {p['contenders']} goroutines released together to promote different versions from the same "
        f"generation (serial consistency {p['serial_consistency']}). Rounds with exactly one winner: "
        f"**{p['rounds_with_one_winner']} of {p['rounds']}**; rounds after which the pointer holds that winner at the next "
        f"generation: {p['pointer_matches']} of {p['rounds']}; promotions that neither won nor lost cleanly: {p['errors']}"
        + (f" ({'; '.join(p.get('error_samples') or [])})" if p['errors'] else "") +
        f"; sequential errors: {p['sequential_errors']}. A promotion is `registry.Promote`: it checks that the version is servable, then one "
        "lightweight transaction moves the pointer and writes the ledger row together; a loser reads that generation's ledger row "
        "at SERIAL to name the winner.", "",
        code([p["command"]])])


def serve_block(r, path):
    sv = r.get("serve")
    if not sv:
        return "_Not measured in this run._"
    rows = []
    for p in sorted(sv["points"], key=lambda p: (ALGOS.index(p["algorithm"]) if p["algorithm"] in ALGOS else len(ALGOS), p["batch"], p["concurrency"])):
        l = p["latency_us"]
        rows.append([p["algorithm"], p["batch"], p["concurrency"], num(p["req_per_second"]), num(p["rows_per_second"]),
                     num(l["p50"]), num(l["p99"]), num(l["p999"]), num(p["server_cpu_us_per_req"]), num(p["client_cpu_us_per_req"]),
                     f"{p['requests']:,}", p["errors"] if not p["errors"] else f"**{p['errors']}**"])
    models = [[m["algorithm"], ", ".join(f"{k} {v:g}" for k, v in sorted(m["params"].items())) or "–", num(m["artifact_bytes"] / 1024),
               f"{m['accuracy']:.4f}"] for m in sorted(sv["models"], key=lambda m: ALGOS.index(m["algorithm"]) if m["algorithm"] in ALGOS else len(ALGOS))]
    errors = sum(p["errors"] for p in sv["points"])
    samples = [e for p in sv["points"] for e in p.get("error_samples") or []]
    first = sv["points"][0] if sv["points"] else {}
    out = []
    if r["run"].get("only"):
        run = r["run"]
        out += [f"Figures from **`{run['command']}`** ({run['mode']} size, this section alone), started "
                f"{run['started'].replace('T', ' ')}, commit {run['git_commit']}, load average (1/5/15 min) "
                f"{'/'.join(f'{x:.1f}' for x in run.get('loadavg_start') or [])} at the start; results in [`{path}`]({path}).", ""]
    out += [table(["algorithm", "rows per request", "clients", "req/s", "rows/s", "p50 µs", "p99 µs", "p99.9 µs",
                   "server CPU µs/req", "client CPU µs/req", "requests", "errors"], rows), "",
            f"{sv['rows']:,} rows of the benchmark grid, {sv['train_rows']:,} of them training rows ({sv['features']} features). Each "
            "algorithm of the build is trained with the example config's parameters (the trainer's defaults for those it does not "
            f"list), stored as a version in the registry (keyspace `{sv['keyspace']}`) and promoted. The server is the test binary in a "
            "process of its own running what `kingmaker serve` runs, `serving.New` over `serving.RegistrySource` with its defaults "
            f"(champion pointer read every {sv['poll_seconds']:g} s, shadow sample 0.1, no shadow version), on 127.0.0.1:0; the load "
            "starts once every champion is loaded. The clients are goroutines of the benchmark process, each with its own keep-alive "
            "connection, sending `POST /v2/models/{model}/infer` bodies of different holdout rows (FP64 and BYTES tensors, "
            f"{first.get('request_bytes', 0):,} bytes for one row) back to back; each point is {sv['warmup_seconds']:g} s of warm-up, "
            f"then {num(first.get('seconds', 0), 2)} s measured. Latency is from sending the request to having read the whole response. "
            f"Client and server share the {sv['server_gomaxprocs']} cores (GOMAXPROCS {sv['server_gomaxprocs']} each): with one client "
            "the figures are one request at a time; with more, both processes compete for the cores and req/s can reach at most about "
            f"{sv['server_gomaxprocs']} s / (server + client CPU per request), less when other processes use the cores (see the load "
            "average): the client's CPU is part of every figure, and the CPU per request is the steadier measure. "
            f"CPU per request is each process's CPU time over the measured stretch. Errors (any status but 200, an answer from another "
            f"version, or of the wrong shape): **{errors}** in all" + (f", e.g. {samples[0]}" if samples else "") +
            f". Peak RSS of the server with every model loaded: {num(sv['server_peak_rss_mib'])} MiB.", "",
            table(["algorithm", "parameters", "artifact KiB", "holdout accuracy"], models), "",
            code([sv["command"], "# the grid: $KMBENCH -test.run '^TestExport$' -kmbench.export data -kmbench.rows " + str(sv["rows"])])]
    return "\n".join(out)


def targets_block(r):
    rows = []
    wl = r.get("window_load") or {}
    if wl:
        n = max(wl, key=int)
        for read in ("dataset.Scan", "dataset.LoadTrain"):
            v = wl[n]["ratio"].get(read, {}).get("values")
            if v:
                m = med(v)
                est = cpu_bound_ratio(wl[n], read)
                rows.append([f"window load ({read}) ≥ {TARGETS['window']} of the plain gocql scan, {rows_label(n)} rows",
                             f"{num(m)} [{num(min(v))}–{num(max(v))}]" + (f"; CPU-bound estimate {num(est)}" if est else ""),
                             verdict(m >= TARGETS["window"]) + ("" if m >= TARGETS["window"] else f": short by {100 * (1 - m / TARGETS['window']):.0f}%")])
    for res, how in ((r.get("train", []), "one thread each"), (r.get("train_all_cores", []), "every core")):
        g = {}
        for t in res:
            g.setdefault((t["algorithm"], t["rows"], t["side"]), []).append(t)
        xs = sorted(n for (a, n, s) in g if a == "xgboost" and s == "go" and (a, n, "python") in g)
        if not xs:
            continue
        n = xs[-1]
        go, py = g[("xgboost", n, "go")], g[("xgboost", n, "python")]
        t = paired(go, py, "seconds")
        dacc = 100 * (go[0]["accuracy"] - py[0]["accuracy"])
        note = "" if n >= 1_000_000 else f" (largest size of this run: {rows_label(n)})"
        rows.append([f"xgboost within {TARGETS['xgb_time']}× of HistGradientBoostingClassifier's time, 1M rows, {how}{note}",
                     f"{num(med(t))}× [{num(min(t))}–{num(max(t))}]",
                     verdict(med(t) <= TARGETS["xgb_time"]) + ("" if med(t) <= TARGETS["xgb_time"] else f": {100 * (med(t) / TARGETS['xgb_time'] - 1):.0f}% over")])
        rows.append([f"xgboost holdout accuracy no more than 0.5 points below HistGradientBoostingClassifier's, {how}{note}",
                     f"{go[0]['accuracy']:.4f} vs {py[0]['accuracy']:.4f}: {dacc:+.2f} points", verdict(dacc >= TARGETS["xgb_acc_points"])])
    if not r["run"].get("xgboost", {}).get("built"):
        rows.append(["xgboost vs HistGradientBoostingClassifier (time, accuracy)", "not measured: " + (r["run"].get("xgboost", {}).get("detail") or "not built"), "–"])
    d = r.get("drift")
    if d:
        go = [x for x in d if x["side"] == "go"]
        py = [x for x in d if x["side"] == "python"]
        for key, label in (("profile_seconds", "drift profiling"), ("seconds", "drift profiling, counting and statistics together")):
            s = [1 / x for x in paired(go, py, key)]
            rows.append([f"{label} at least as fast as numpy, {rows_label(go[0]['window_rows'])} rows",
                         f"{num(med(s))}× numpy's speed [{num(min(s))}–{num(max(s))}]", verdict(med(s) >= TARGETS["drift"])])
    for x in retrain_rows(r):
        ov = x["overhead"]["values"]
        ovc = x.get("overhead_cpu", {}).get("values", [])
        cpu = f"; in CPU time {100 * med(ovc):+.1f}% [{100 * min(ovc):+.1f}–{100 * max(ovc):+.1f}%]" if ovc else ""
        rows.append([f"orchestration overhead of a retrain < 25% of its pure compute ({rows_label(x['rows'])} rows, 3 candidates, "
                     f"{x['trainings']} training{'s' if x['trainings'] > 1 else ''} at once, parallel_trainings {parallel_label(x)})",
                     f"{100 * med(ov):+.1f}% [{100 * min(ov):+.1f}–{100 * max(ov):+.1f}%]{cpu}", overhead_verdict(x, ov)])
        rows.append([f"peak RSS of that retrain (reported)", f"{num(x['peak_rss_after_retrain_mib'])} MiB", "–"])
    for x in r.get("retrain", []):
        if not x["plan"].get("pure"):
            gib = x["peak_rss_after_retrain_mib"] / 1024
            rows.append([f"peak RSS of a {rows_label(x['rows'])}-row retrain with {x['plan']['algos']} < {TARGETS['rss_gib']} GiB",
                         f"{num(gib)} GiB", verdict(gib < TARGETS["rss_gib"])])
    if not any(x for x in r.get("retrain", []) if not x["plan"].get("pure")):
        rows.append([f"peak RSS of a 1M-row retrain < {TARGETS['rss_gib']} GiB", "not measured in a quick run", "–"])
    p = r.get("promote")
    if p:
        rows.append(["promotion CAS: exactly one winner per round of 50 contenders", f"{p['rounds_with_one_winner']} of {p['rounds']} rounds",
                     verdict(p["rounds_with_one_winner"] == p["rounds"])])
    return table(["target", "measured (median [range])", "verdict"], rows)


BLOCKS = {
    "run": run_block, "targets": targets_block, "window": window_block, "window-profile": profile_block, "train": train_block,
    "sklearn": sklearn_block, "drift": drift_block, "retrain": retrain_block, "promote": promote_block,
    "serve": serve_block,
}

# The blocks each section of bench/run.py fills: a run of some sections (run.py --only)
# regenerates only theirs and leaves the others, the run facts and the targets as they are.
SECTION_BLOCKS = {"window_load": ["window"], "window_profile": ["window-profile"], "train": ["train", "sklearn"],
                  "train_all_cores": ["sklearn"], "drift": ["drift"], "retrain": ["retrain"], "promote": ["promote"], "serve": ["serve"]}

SKELETON = """# Benchmarks

<!-- BEGIN GENERATED: run -->
<!-- END GENERATED: run -->

## Targets

<!-- BEGIN GENERATED: targets -->
<!-- END GENERATED: targets -->

## 1. Window load

<!-- BEGIN GENERATED: window -->
<!-- END GENERATED: window -->

<!-- BEGIN GENERATED: window-profile -->
<!-- END GENERATED: window-profile -->

## 2. Training and holdout evaluation

<!-- BEGIN GENERATED: train -->
<!-- END GENERATED: train -->

## 3. Side by side with scikit-learn

<!-- BEGIN GENERATED: sklearn -->
<!-- END GENERATED: sklearn -->

## 4. Drift profiling and statistics

<!-- BEGIN GENERATED: drift -->
<!-- END GENERATED: drift -->

## 5. End-to-end retrain

<!-- BEGIN GENERATED: retrain -->
<!-- END GENERATED: retrain -->

## 6. Promotion compare-and-set

<!-- BEGIN GENERATED: promote -->
<!-- END GENERATED: promote -->

## 7. Serving

<!-- BEGIN GENERATED: serve -->
<!-- END GENERATED: serve -->
"""


def main():
    if len(sys.argv) != 3:
        raise SystemExit("usage: report.py RESULTS.json BENCHMARKS.md")
    src, md = sys.argv[1], sys.argv[2]
    with open(src) as f:
        r = json.load(f)
    text = open(md).read() if os.path.exists(md) else SKELETON
    rel = os.path.relpath(os.path.abspath(src), os.path.dirname(os.path.abspath(md)))
    only = r["run"].get("only") or []
    wanted = {b for s in only for b in SECTION_BLOCKS.get(s, [])}
    for name, fn in BLOCKS.items():
        if only and name not in wanted:
            continue
        pat = re.compile(rf"(<!-- BEGIN GENERATED: {re.escape(name)} -->\n).*?(<!-- END GENERATED: {re.escape(name)} -->)", re.S)
        if not pat.search(text):
            print(f"report.py: {md} has no block {name!r}; skipped", file=sys.stderr)
            continue
        try:
            body = fn(r, rel) if name in ("run", "serve") else fn(r)
        except Exception as e:  # one broken table must not lose the others
            body = f"_Could not be generated from {rel}: {type(e).__name__}: {e}_"
        text = pat.sub(lambda m: m.group(1) + body.rstrip() + "\n" + m.group(2), text)
    with open(md, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
