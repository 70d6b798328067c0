#!/usr/bin/env bash
# The demo: the whole champion/challenger story on the local stack.
#   1. schema, and 30 days of churn data whose distributions and label rule
#      shift from day 20 on; a worker, Prometheus, Alertmanager and the Temporal Schedules;
#   2. a retrain on the week before the drift: the first champion;
#   3. a drift check on the last day: the data has drifted, Prometheus sees
#      it and the drift alert goes up, and a retrain starts (reason drift)
#      that waits for a person's approval (drift.approve_retrains);
#   4. the approval: the challenger trained on drifted data is promoted, and
#      a new drift check of the new champion is back under the threshold;
#   5. probation (policy.probation, 90s in the demo): the world changes after
#      the promotion (today's customers churn by the rule from before the
#      drift), live keyed traffic through `kingmaker serve` is scored by both
#      versions, the labels join by row id, the new champion does worse than
#      the one it replaced and is rolled back, and KingmakerProbationRolledBack
#      reaches Alertmanager;
#   6. the champion scores the last days into predictions;
#   7. the regression part: deliveries (minutes, a number) seeded with the
#      same drift, a first champion, a drift check of its label and
#      predictions, a retrain decided on rmse, the endpoint answering
#      minutes, a score run into predictions.value;
#   8. status, versions and where to look in the Temporal UI and Prometheus.
# Run through `make demo`, which starts the stack and builds bin/kingmaker.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
# The example config with its deliveries model and its xgboost candidates
# (commented out there, for a pure-Go build and a one-model example)
# switched on: make demo builds with libxgboost, so the first retrain trains
# the fast trainer beside the others. CONFIG=FILE runs the demo on another
# config as it is (the regression part only if it has a deliveries model).
if [ -z "${CONFIG:-}" ]; then
  mkdir -p "$STACK"
  CONFIG=$STACK/demo.yaml
  sed -E -e '/^  # - name: deliveries$/,/^$/s/^  # ?/  /' \
    -e 's/^( *)# (- \{name: xgboost, algorithm: xgboost,.*)$/\1\2/' kingmaker.example.yaml >"$CONFIG"
  grep -q '^ *- {name: xgboost, algorithm: xgboost' "$CONFIG" || die "no xgboost candidate to switch on in kingmaker.example.yaml"
  grep -q '^  - name: deliveries$' "$CONFIG" || die "no deliveries model to switch on in kingmaker.example.yaml"
  # Probation on, with a period the demo can wait for (README: "Probation after promotion").
  sed -i -E 's/^( *)# probation: \{period: 7d, (.*)$/\1probation: {period: 90s, check_every: 5s, \2/' "$CONFIG"
  grep -q '^ *probation: {period: 90s' "$CONFIG" || die "no probation to switch on in kingmaker.example.yaml"
fi
DAYS=30
DRIFT_FROM=20
PROM=http://127.0.0.1:9090
ALERTMANAGER=http://127.0.0.1:9093
km() { bin/kingmaker --config "$CONFIG" "$@"; }
SERVE=http://127.0.0.1:8080
SERVE_PID=$STACK/serve.pid
# predict asks the endpoint about two customers and prints the answer.
predict() {
  curl -s "$SERVE/v1/models/churn:predict" -H 'Content-Type: application/json' \
    --data @serving/testdata/churn_predict.json | python3 -c 'import json,sys
r = json.load(sys.stdin)
print("  version %s (generation %s): %s" % (r["model_version"], r["generation"],
      ", ".join("%s p=%.3f" % (p["class"], p.get("probability", float("nan"))) for p in r["predictions"])))'
}
step() { printf '\n\033[1m==> %s\033[0m\n' "$*" >&2; }

mkdir -p "$STACK"
WORKER_PID=$STACK/worker.pid
WORKER_LOG=$STACK/worker.log
stop_worker() { scripts/worker.sh stop; }

step "schema"
km schema apply
start=$(date -u -d "$((DAYS - 1)) days ago" +%F)
drift_day=$(date -u -d "$start + $((DRIFT_FROM - 1)) days" +%F)
step "seeding $DAYS days x 2000 rows of churn data from $start, drifted from day $DRIFT_FROM ($drift_day)"
km seed --days "$DAYS" --rows-per-day 2000 --start "$start" --drift-from "$DRIFT_FROM" --seed 42

if pid_alive "$WORKER_PID"; then stop_worker; fi
step "starting a worker (log: ${WORKER_LOG#"$ROOT"/}), Alertmanager ($ALERTMANAGER) and Prometheus ($PROM)"
nohup bin/kingmaker --config "$CONFIG" worker >"$WORKER_LOG" 2>&1 &
echo $! >"$WORKER_PID"
scripts/alertmanager.sh status >/dev/null 2>&1 || scripts/alertmanager.sh start
scripts/prometheus.sh status >/dev/null 2>&1 || scripts/prometheus.sh start
for _ in $(seq 20); do
  port_open 9464 && break
  sleep 0.5
done
pid_alive "$WORKER_PID" || { tail -5 "$WORKER_LOG" >&2; die "the worker did not start"; }

step "Temporal Schedules from the config"
km schedule sync

step "retrain on the week before the drift (window ends $drift_day): the first champion"
km retrain churn --as-of "$drift_day" --reason demo-before-drift --wait

step "serving the champion: kingmaker serve on $SERVE (follows the champion pointer)"
if pid_alive "$SERVE_PID"; then stop_pid "$SERVE_PID" "demo server" 15; fi
nohup bin/kingmaker --config "$CONFIG" serve --listen 127.0.0.1:8080 --poll 1s --shadow-sample 1 >"$STACK/serve.log" 2>&1 &
echo $! >"$SERVE_PID"
for _ in $(seq 40); do
  curl -sf "$SERVE/v2/models/churn/ready" >/dev/null && break
  sleep 0.5
done
predict

step "drift check of the last day against the champion's training profile"
# Shown as it comes and kept for the next step. Not `tee /dev/stderr`: that reopens the file stderr
# points to, truncating a log the demo's output is redirected to.
km drift churn --now --follow | tee "$STACK/demo-drift-check.out" >&2
check=$(cat "$STACK/demo-drift-check.out")
retrain=$(sed -n 's/^following \(retrain-churn-[^ ]*\)$/\1/p' <<<"$check")

step "Prometheus sees the drift (alerts on $PROM/alerts)"
for _ in $(seq 40); do
  alerts=$(curl -s "$PROM/api/v1/alerts" || true)
  grep -q '"alertname":"KingmakerDriftDetected"' <<<"$alerts" && break
  sleep 1
done
curl -s "$PROM/api/v1/query" --data-urlencode 'query=kingmaker_drift_detected' |
  python3 -c 'import json,sys; [print("  kingmaker_drift_detected{model=%s} = %s" % (r["metric"]["model"], r["value"][1])) for r in json.load(sys.stdin)["data"]["result"]]'
curl -s "$PROM/api/v1/alerts" |
  python3 -c 'import json,sys; [print("  alert %-32s %-8s model=%s %s" % (a["labels"]["alertname"], a["state"], a["labels"].get("model",""), " ".join(k + "=" + a["labels"][k] for k in ("feature", "metric") if k in a["labels"]))) for a in json.load(sys.stdin)["data"]["alerts"]]'
# Prometheus sends an alert to Alertmanager once it has been pending for its `for:` (5m for drift),
# so a quick demo may show it only in Prometheus.
printf '  Alertmanager (%s), routed by deploy/alertmanager/alertmanager.yml:\n' "$ALERTMANAGER" >&2
curl -s "$ALERTMANAGER/api/v2/alerts" |
  python3 -c 'import json,sys
alerts = json.load(sys.stdin)
for a in alerts:
    print("  alert %-32s %-10s model=%s receivers=%s" % (a["labels"]["alertname"], a["status"]["state"], a["labels"].get("model", ""), ",".join(r["name"] for r in a["receivers"])))
if not alerts:
    print("  (none firing yet: pending alerts reach Alertmanager after their for: duration)")' || true

if [ -n "$retrain" ]; then
  step "a person approves the drift-triggered retrain $retrain"
  km approve "$retrain" --reason "demo: the drift is real, the challenger was trained on it"
  for _ in $(seq 60); do
    km status churn --decisions 1 --days 1 -o json | grep -q "\"workflow_id\": \"$retrain\"" && break
    sleep 1
  done
else
  log "no retrain was started (cooldown, or one already running): see the drift output above"
fi

step "the endpoint now answers with the new champion (no restart)"
sleep 2
predict

step "drift check of the new champion"
km drift churn --now

# ---- probation: the world changes after the promotion, and the new champion is rolled back ----
# Runs when the config puts churn on probation (the demo's own config does, with a 90s period).
watching() { km probation churn -o json | grep -q '"state": "watching"'; }
probation=
grep -qE '^ *probation: \{period: [1-9]' "$CONFIG" && probation=on
if [ -n "$probation" ]; then
  step "the new champion is on probation against the one it replaced"
  for _ in $(seq 30); do
    watching && break
    sleep 1
  done
  km probation churn
  watching || { log "no probation is running (the drift retrain promoted nothing): the rest of this part is skipped"; probation=; }
fi
if [ -n "$probation" ]; then
  # serve picks the shadow (the previous champion) up at its next poll.
  for _ in $(seq 20); do
    curl -s "$SERVE/v2/models/churn" | grep -q '"shadow_version"' && break
    sleep 0.5
  done
  today=$(date -u +%F)
  live=$STACK/demo-live-instances.jsonl
  step "the world changes after the promotion: today's new customers churn by the rule from before the drift (prices stay up)"
  km seed --days 1 --rows-per-day 1500 --start "$today" --drift-from 1 --rule-reverts-from 1 --seed 7 --instances "$live"
  step "live traffic: those 1500 customers, keyed by their row id, through $SERVE"
  # Every request is shadowed (--shadow-sample 1): the previous champion scores the same rows, and
  # the row ids join the labels the rows carry (label.source row).
  python3 - "$SERVE" "$live" <<'PY'
import collections, json, sys, urllib.request
url, path = sys.argv[1] + "/v1/models/churn:predict", sys.argv[2]
rows = [json.loads(line) for line in open(path)]
answered = collections.Counter()
for i in range(0, len(rows), 50):
    req = urllib.request.Request(url, json.dumps({"instances": rows[i:i + 50]}).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        answered[json.load(r)["model_version"]] += len(rows[i:i + 50])
for v, n in answered.items():
    print("  %d rows answered by version %s" % (n, v))
PY
  step "waiting for the end of the probation (kingmaker probation churn)"
  for _ in $(seq 150); do
    watching || break
    sleep 2
  done
  km probation churn
  step "the rollback in the ledger, and the endpoint answers with the previous champion again"
  km status churn --days 1 --decisions 2
  sleep 2
  predict
  step "KingmakerProbationRolledBack in Alertmanager ($ALERTMANAGER)"
  for _ in $(seq 60); do
    curl -s "$ALERTMANAGER/api/v2/alerts" | grep -q '"alertname":"KingmakerProbationRolledBack"' && break
    sleep 1
  done
  curl -s "$ALERTMANAGER/api/v2/alerts?filter=alertname%3D%22KingmakerProbationRolledBack%22" |
    python3 -c 'import json,sys
alerts = json.load(sys.stdin)
for a in alerts:
    print("  alert %s %s model=%s receivers=%s\n    %s" % (a["labels"]["alertname"], a["status"]["state"], a["labels"].get("model", ""), ",".join(r["name"] for r in a["receivers"]), a["annotations"].get("summary", "")))
if not alerts:
    print("  (not there yet: see %s/alerts)" % sys.argv[1])' "$PROM"
fi
# ---- end of probation ----

step "the champion scores the last 3 days into predictions"
km score churn --from "$(date -u -d '2 days ago' +%F)" --to "$(date -u -d tomorrow +%F)" --wait

# The regression part: a model of delivery minutes, the same loop with
# rmse for roc_auc and a number for a class.
deliveries_demo() {
  grep -q '^  - name: deliveries$' "$CONFIG" || { log "no deliveries model in $CONFIG: the regression part is skipped"; return 0; }
  step "regression: seeding $DAYS days x 2000 deliveries (label: minutes) from $start, drifted from day $DRIFT_FROM ($drift_day)"
  km seed --table deliveries --dataset deliveries --days "$DAYS" --rows-per-day 2000 --start "$start" --drift-from "$DRIFT_FROM" --seed 42

  step "regression: retrain deliveries on the week before the drift: the first champion, the best rmse on the holdout"
  km retrain deliveries --as-of "$drift_day" --reason demo-before-drift --wait

  step "regression: drift check of deliveries: the minutes (label) and the predicted minutes drift, live rmse rises"
  km drift deliveries --now

  step "regression: retrain on the drifted week: the challenger against the champion on rmse (lower is better, paired t-test)"
  km retrain deliveries --reason demo-after-drift --wait

  step "regression: the endpoint answers minutes (a value, no class) for two orders"
  # serve follows the pointer by polling it: wait (up to 20 s) until it answers with the
  # generation the retrain just promoted, 2, as the churn part does with its pause.
  for _ in $(seq 40); do
    curl -sf "$SERVE/v1/models/deliveries:predict" -H 'Content-Type: application/json' \
      --data @serving/testdata/deliveries_predict.json 2>/dev/null | grep -q '"generation":2' && break
    sleep 0.5
  done
  curl -s "$SERVE/v1/models/deliveries:predict" -H 'Content-Type: application/json' \
    --data @serving/testdata/deliveries_predict.json | python3 -c 'import json,sys
r = json.load(sys.stdin)
print("  version %s (generation %s): %s" % (r["model_version"], r["generation"],
      ", ".join("%.1f minutes" % p["value"] for p in r["predictions"])))'

  step "regression: the champion scores the last 3 days of deliveries into predictions (predictions.value)"
  km score deliveries --from "$(date -u -d '2 days ago' +%F)" --to "$(date -u -d tomorrow +%F)" --wait
  km status deliveries --days 3 --decisions 2
}
deliveries_demo

step "status"
km status churn --days 3 --decisions 4
step "versions"
km models list churn --limit 6
cat <<EOF

The runs in the Temporal UI:  http://127.0.0.1:8233/namespaces/default/workflows?query=KingmakerModel%3D%22churn%22
Metrics and alerts:           $PROM/alerts   (worker: http://127.0.0.1:9464/metrics)
Routed alerts:                $ALERTMANAGER  (scripts/alertmanager.sh alerts)
Predictions:                  curl -s $SERVE/v1/models/churn:predict --data @serving/testdata/churn_predict.json
Minutes of a delivery:        curl -s $SERVE/v1/models/deliveries:predict --data @serving/testdata/deliveries_predict.json
The worker and the server keep running; stop everything with: make stack-down
Roll back with:               bin/kingmaker --config $CONFIG rollback churn --reason 'why'
EOF
