#!/usr/bin/env bash
# The demo: schema, 30 days of churn data with a drift from day 20, and a
# summary of what is in Cassandra. Run through `make demo` (which starts the
# stack and builds bin/kingmaker first).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
CONFIG=${CONFIG:-kingmaker.example.yaml}
km() { bin/kingmaker --config "$CONFIG" "$@"; }

log "schema"
km schema apply
log "seeding 30 days x 2000 rows of churn data, drifted from day 20"
km seed --days 30 --rows-per-day 2000 --drift-from 20 --seed 42
log "what is in Cassandra"
km status churn
