#!/usr/bin/env bash
# Kingmaker's benchmarks (make bench): window loads against a plain gocql scan, every trainer
# against scikit-learn, drift statistics against numpy/scipy, the orchestration overhead of a
# retrain, the promotion compare-and-set and a load test of kingmaker serve on loopback, each
# comparison measured side by side in one run.
#
#   scripts/bench.sh [quick|full] [SECTION,...]
#
# SECTION (bench/run.py's names: window_load, window_profile, train, train_all_cores, drift,
# retrain, promote, serve; and drift-compare, many-models) runs only those sections and
# regenerates only their tables.
#
# drift-compare (bench/drift_compare.py) measures drift detection against Evidently and NannyML
# on the same simulated streams; it is part of every quick and full run, needs no stack, and
# installs evidently and nannyml (bench/requirements-drift.txt) into .venv. Its quick variant
# has fewer repetitions and no million-row windows (BENCHMARKS.md section 8 gives the times of
# both). It writes bench/results/<UTC timestamp>-drift-compare.json and regenerates its table
# (bench/drift_report.py).
#
# quick (the default) is CI-sized, about 3 minutes; full is what BENCHMARKS.md reports, 20-30
# minutes on 2 cores (each without drift-compare, which adds its own). Results go to bench/results/<UTC timestamp>.json and the tables of
# BENCHMARKS.md are regenerated from them (bench/report.py; the prose around them is kept).
#
# Needs the local stack (make stack-up; this script never starts or stops it; drift-compare alone
# does not), Go and Python 3.
# It makes .venv (git-ignored) with numpy, scipy and scikit-learn from PyPI: they are never a
# runtime dependency of Kingmaker. With libxgboost (scripts/xgboost.sh check) the test binary is
# built with -tags xgboost and the xgboost trainer is measured too. The benchmark data is
# exported once into bench/data (git-ignored) and seeded once into the Cassandra keyspace
# kingmaker_bench; later runs reuse both.
#
# many-models (bench/manymodels_test.go, BenchmarkManyModels) runs many models with small windows
# on one `kingmaker worker` process built from this tree: `kingmaker schedule sync` of all of them
# (the schedules are deleted at once), one retrain and one drift check of every model started at
# once, registry latencies meanwhile, the worker's peak RSS and the CPU split between the worker,
# Cassandra, Temporal and the rest of the machine. full: 200 models of 2,000 rows (a few minutes);
# quick: 20 models of 1,000 rows (under a minute on a quiet machine). Its rows live in the keyspace
# kingmaker_bench_many, seeded once; it writes bench/results/<UTC timestamp>-many-models.json.
#
# Environment: KINGMAKER_TEST_CASSANDRA, KINGMAKER_TEST_TEMPORAL (host:port of the stack) and
# KINGMAKER_CASSANDRA_USERNAME/PASSWORD, defaulting as in the Makefile.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

MODE=${1:-quick}
ONLY=${2:-}
case $MODE in
  quick | full) ;;
  *)
    echo "usage: $(basename "$0") [quick|full] [SECTION,...]" >&2
    exit 2
    ;;
esac

# The Makefile exports these; the same defaults when the script is run by hand.
export KINGMAKER_TEST_CASSANDRA=${KINGMAKER_TEST_CASSANDRA:-127.0.0.1:9042}
export KINGMAKER_TEST_TEMPORAL=${KINGMAKER_TEST_TEMPORAL:-127.0.0.1:7233}
export KINGMAKER_CASSANDRA_USERNAME=${KINGMAKER_CASSANDRA_USERNAME:-cassandra}
export KINGMAKER_CASSANDRA_PASSWORD=${KINGMAKER_CASSANDRA_PASSWORD:-cassandra}

# drift-compare and many-models are not run.py's sections: split them off the list.
DRIFT_COMPARE=yes MANY_MODELS=yes RUNPY=yes RUNPY_ONLY=$ONLY
if [ -n "$ONLY" ]; then
  DRIFT_COMPARE=no MANY_MODELS=no
  rest=()
  IFS=, read -ra parts <<<"$ONLY"
  for s in "${parts[@]}"; do
    case $s in
      drift-compare) DRIFT_COMPARE=yes ;;
      many-models) MANY_MODELS=yes ;;
      *) rest+=("$s") ;;
    esac
  done
  RUNPY_ONLY=$(IFS=,; echo "${rest[*]}")
  [ -n "$RUNPY_ONLY" ] || RUNPY=no
fi

need_cmd go "install Go 1.26 (see go.mod)"
need_cmd python3 "install Python 3 with venv (Debian: apt-get install python3-venv)"
if [ "$RUNPY" = yes ] || [ "$MANY_MODELS" = yes ]; then
  port_open "${KINGMAKER_TEST_CASSANDRA##*:}" || die "no Cassandra at $KINGMAKER_TEST_CASSANDRA: start the stack with make stack-up"
  port_open "${KINGMAKER_TEST_TEMPORAL##*:}" || die "no Temporal at $KINGMAKER_TEST_TEMPORAL: start the stack with make stack-up"
fi
cd "$ROOT"
t0=$SECONDS

VENV=$ROOT/.venv
if [ "$RUNPY" = yes ] || [ "$DRIFT_COMPARE" = yes ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    log "making $VENV"
    python3 -m venv "$VENV"
  fi
  if ! "$VENV/bin/python" -c 'import numpy, scipy, sklearn, threadpoolctl' 2>/dev/null; then
    log "installing numpy, scipy and scikit-learn into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check numpy scipy scikit-learn
  fi
  if [ "$DRIFT_COMPARE" = yes ] && ! "$VENV/bin/python" -c 'import evidently, nannyml' 2>/dev/null; then
    log "installing evidently and nannyml (bench/requirements-drift.txt) into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r bench/requirements-drift.txt
  fi
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kmbench.XXXXXX")
BIN=$WORK/kmbench
tags="" xgb=""
if [ "$RUNPY" = no ]; then
  :
elif xgb=$(scripts/xgboost.sh check 2>&1); then
  log "building the test binary with the xgboost trainer ($xgb)"
  if go test -c -tags xgboost -o "$BIN" ./bench 2>"$WORK/build.log"; then
    tags=xgboost
  else
    xgb="libxgboost is usable but go test -c -tags xgboost ./bench failed: $(grep -m1 -v '^#' "$WORK/build.log" || true)"
    log "$xgb; measuring without xgboost"
  fi
else
  log "xgboost not measured: $xgb"
fi
if [ -z "$tags" ]; then
  go test -c -o "$BIN" ./bench
fi

mkdir -p bench/results
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=bench/results/$STAMP.json
rc=0
if [ "$RUNPY" = yes ]; then
  "$VENV/bin/python" bench/run.py --mode "$MODE" --gobin "$BIN" --python "$VENV/bin/python" --tags "$tags" --xgboost "$xgb" --out "$OUT" --only "$RUNPY_ONLY" || rc=$?
  if [ -f "$OUT" ]; then
    "$VENV/bin/python" bench/report.py "$OUT" BENCHMARKS.md
    log "BENCHMARKS.md regenerated from $OUT"
  fi
fi
if [ "$DRIFT_COMPARE" = yes ]; then
  DOUT=bench/results/$STAMP-drift-compare.json
  "$VENV/bin/python" bench/drift_compare.py --mode "$MODE" --gobin "$BIN" --out "$DOUT" || rc=$?
  if [ -f "$DOUT" ]; then
    "$VENV/bin/python" bench/drift_report.py "$DOUT" BENCHMARKS.md
    log "BENCHMARKS.md's drift-detection comparison regenerated from $DOUT"
  fi
fi
if [ "$MANY_MODELS" = yes ]; then
  MOUT=bench/results/$STAMP-many-models.json
  if [ "$MODE" = full ]; then models=200 rows=2000; else models=20 rows=1000; fi
  log "many models: $models models of $rows rows on one kingmaker worker"
  go build -o "$WORK/kingmaker" ./cmd/kingmaker
  (cd bench && "$BIN" -test.run '^$' -test.bench '^BenchmarkManyModels$' -test.benchtime 1x -test.timeout 30m \
    -kmbench.models "$models" -kmbench.modelrows "$rows" -kmbench.kingmaker "$WORK/kingmaker" \
    -kmbench.stack "${KINGMAKER_STACK_DIR:-$ROOT/.stack}" -kmbench.out "$ROOT/$MOUT") || rc=$?
  [ -f "$MOUT" ] && log "many models: results in $MOUT (BENCHMARKS.md, \"Scale: many models\", says how to read them)"
fi
log "done in $(((SECONDS - t0) / 60)) min $(((SECONDS - t0) % 60)) s"
rm -rf "$WORK"
exit "$rc"
