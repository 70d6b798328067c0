#!/usr/bin/env bash
# Regression and multiclass side by side with scikit-learn (BENCHMARKS.md, "Regression and
# multiclass against scikit-learn"): Kingmaker's linear and xgboost trainers against Ridge and
# HistGradientBoostingRegressor on the demo's delivery rows (a numeric label, minutes), and
# xgboost against HistGradientBoostingClassifier on the same rows with the minutes in five bands.
#
#   scripts/bench-tasks.sh [SIZES] [MULTICLASS_SIZES]     (default: 10000,100000,1000000 and the same)
#
# Each measurement is its own process (peak RSS is that training's), one after the other, each
# side held to one thread (OMP_NUM_THREADS=1 and the BLAS variables) so that the machine's load
# from other work weighs on both alike. Needs Go, libxgboost (scripts/xgboost.sh check) and
# Python 3 with numpy and scikit-learn: PYTHON (default .venv/bin/python, as scripts/bench.sh
# makes it). Grids go to bench/data (git-ignored, made once), results to
# bench/results/<UTC timestamp>-tasks.json; bench/tasks_report.py prints the tables.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${1:-10000,100000,1000000}
MULTI=${2:-$SIZES}
PYTHON=${PYTHON:-.venv/bin/python}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
mkdir -p bench/data bench/results
BIN=bench/data/bench-tasks.test
go test -c -tags xgboost -o "$BIN" ./bench
OUT=bench/results/$(date -u +%Y%m%dT%H%M%SZ)-tasks.json
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
echo "[" >"$OUT"
first=yes
add() {
  [ "$first" = yes ] || echo "," >>"$OUT"
  first=no
  cat "$1" >>"$OUT"
}
run() { # task rows algo
  local task=$1 rows=$2 algo=$3 grid=bench/data/tasks_$1_$2.npy
  [ -f "$grid" ] || (cd bench && "../$BIN" -test.run '^TestExportTaskGrid$' -kmbench.task="$task" -kmbench.rows="$rows" -kmbench.taskexport="../$grid" >/dev/null)
  echo "go     $task $rows $algo" >&2
  (cd bench && "../$BIN" -test.run '^$' -test.bench '^BenchmarkTaskTrain$' -test.benchtime 1x \
    -kmbench.task="$task" -kmbench.rows="$rows" -kmbench.algo="$algo" -kmbench.out="$TMP/go.json" >/dev/null)
  add "$TMP/go.json"
  echo "python $task $rows $algo" >&2
  "$PYTHON" bench/sklearn_bench.py task --algo "$algo" --data "$grid" --out "$TMP/py.json"
  add "$TMP/py.json"
}
IFS=, read -ra sizes <<<"$SIZES"
for n in "${sizes[@]}"; do
  run regression "$n" linear
  run regression "$n" xgboost
done
IFS=, read -ra msizes <<<"$MULTI"
for n in "${msizes[@]}"; do
  [ -n "$n" ] && run multiclass "$n" xgboost
done
echo "]" >>"$OUT"
echo "results in $OUT" >&2
"$PYTHON" bench/tasks_report.py "$OUT"
