#!/usr/bin/env python3
"""Prints the tables of BENCHMARKS.md's "Regression and multiclass against
scikit-learn" from a results file of scripts/bench-tasks.sh:

    python3 bench/tasks_report.py bench/results/<timestamp>-tasks.json
"""

import json
import sys


def main(path):
    with open(path) as f:
        results = json.load(f)
    pairs = {}
    for r in results:
        pairs.setdefault((r["task"], r["algorithm"], r["rows"]), {})[r["side"]] = r
    print("| task | Kingmaker | scikit-learn | rows | training s Go / sklearn | time Go/sklearn | CPU s Go / sklearn | CPU Go/sklearn "
          "| peak RSS MiB Go / sklearn | quality Go / sklearn | quality ratio Go/sklearn |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (task, algo, rows), p in sorted(pairs.items(), key=lambda kv: (kv[0][0] != "regression", kv[0][1], kv[0][2])):
        go, py = p.get("go"), p.get("python")
        if not go or not py:
            continue
        if task == "regression":
            quality = f"RMSE {go['rmse']:.6f} / {py['rmse']:.6f} (difference {abs(go['rmse'] - py['rmse']):.1e})"
            ratio = f"{go['rmse'] / py['rmse']:.6f}"
        else:
            quality = f"log loss {go['log_loss']:.4f} / {py['log_loss']:.4f}; accuracy {go['accuracy']:.4f} / {py['accuracy']:.4f}"
            ratio = f"{go['log_loss'] / py['log_loss']:.4f} (log loss)"
        print(f"| {task} | {algo} | {py['estimator']} | {rows:,} | {go['train_seconds']:.3f} / {py['train_seconds']:.3f} | "
              f"{go['train_seconds'] / py['train_seconds']:.2f} | {go['cpu_seconds']:.2f} / {py['cpu_seconds']:.2f} | "
              f"{go['cpu_seconds'] / py['cpu_seconds']:.2f} | {go['peak_rss_mib']:.0f} / {py['peak_rss_mib']:.0f} | {quality} | {ratio} |")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
