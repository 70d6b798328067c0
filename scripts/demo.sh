#!/usr/bin/env bash
# The demo: the whole champion/challenger story on the local stack.
#   1. schema, and 30 days of churn data whose distributions and label rule
#      shift from day 20 on;
#   2. a worker;
#   3. a retrain on the window before the drift: the first champion;
#   4. a retrain on the drifted window: the champion has decayed, a
#      challenger wins, and the reasons say why;
#   5. status, versions, and where to see the runs in the Temporal UI.
# Run through `make demo`, which starts the stack and builds bin/kingmaker.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
CONFIG=${CONFIG:-kingmaker.example.yaml}
DAYS=30
DRIFT_FROM=20
km() { bin/kingmaker --config "$CONFIG" "$@"; }

mkdir -p "$STACK"
WORKER_PID=$STACK/worker.pid
WORKER_LOG=$STACK/worker.log
stop_worker() { stop_pid "$WORKER_PID" "demo worker" 40; }
trap stop_worker EXIT

log "schema"
km schema apply
start=$(date -u -d "$((DAYS - 1)) days ago" +%F)
drift_day=$(date -u -d "$start + $((DRIFT_FROM - 1)) days" +%F)
log "seeding $DAYS days x 2000 rows of churn data from $start, drifted from day $DRIFT_FROM ($drift_day)"
km seed --days "$DAYS" --rows-per-day 2000 --start "$start" --drift-from "$DRIFT_FROM" --seed 42

if pid_alive "$WORKER_PID"; then stop_worker; fi
log "starting a worker (log: $WORKER_LOG)"
nohup bin/kingmaker --config "$CONFIG" worker >"$WORKER_LOG" 2>&1 &
echo $! >"$WORKER_PID"
sleep 2
pid_alive "$WORKER_PID" || { tail -5 "$WORKER_LOG" >&2; die "the worker did not start"; }

log "retrain on the week before the drift (window ends $drift_day): the first champion"
km retrain churn --as-of "$drift_day" --reason demo-before-drift --wait
log "retrain on the last week, all of it drifted: the champion has decayed"
km retrain churn --reason demo-after-drift --wait

log "status"
km status churn --days 3
log "versions"
km models list churn --limit 6
echo
echo "See both runs in the Temporal UI: http://127.0.0.1:8233/namespaces/default/workflows?query=KingmakerModel%3D%22churn%22"
echo "Roll back with: bin/kingmaker --config $CONFIG rollback churn --reason 'why'"
