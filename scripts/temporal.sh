#!/usr/bin/env bash
# Temporal dev server for Kingmaker: builds the pinned Temporal CLI into bin/ and runs
# `temporal server start-dev` on 127.0.0.1 (frontend :7233, Web UI :8233) with a SQLite file
# under .stack/temporal, so workflow history survives a stop/start (`reset` wipes it).
#
#   scripts/temporal.sh build|start|stop|restart|status|reset|logs
#
# Environment: TEMPORAL_START_TIMEOUT (seconds, default 60).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

TEMPORAL_VERSION=1.5.1
TEMPORAL_PKG=github.com/temporalio/cli/cmd/temporal
TEMPORAL_BIN=$BIN/temporal
FRONTEND_PORT=7233
UI_PORT=8233
ADDRESS=127.0.0.1:$FRONTEND_PORT
UI_URL=http://127.0.0.1:$UI_PORT
NAMESPACE=default
SEARCH_ATTRIBUTES=(KingmakerModel KingmakerDecision KingmakerChampion)
START_TIMEOUT=${TEMPORAL_START_TIMEOUT:-60}

DIR=$STACK/temporal
PID_FILE=$DIR/temporal.pid
LOG_FILE=$DIR/temporal.log
DB_FILE=$DIR/temporal.db

usage() {
  cat >&2 <<EOF
usage: $(basename "$0") build|start|stop|restart|status|reset|logs
  build    install the Temporal CLI v$TEMPORAL_VERSION into bin/ (once; ~2 min)
  start    start the dev server ($ADDRESS, UI $UI_URL), db in ${DB_FILE#"$ROOT"/}
  stop     stop it (the db stays: history survives restarts)
  restart  stop, then start
  status   running/stopped (exit 0/3)
  reset    stop and delete the db
  logs     tail the server log
EOF
  exit 2
}

installed_version() {
  # `temporal --version` prints e.g. "temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)". A plain
  # `go install` leaves it at "0.0.0-DEV" (releases stamp it with -ldflags); then trust the module
  # version recorded in the binary's build info instead.
  [ -x "$TEMPORAL_BIN" ] || return 0
  local v
  v=$("$TEMPORAL_BIN" --version 2>/dev/null | awk '{print $3; exit}') || true
  if [ "$v" = 0.0.0-DEV ] && command -v go >/dev/null 2>&1; then
    v=$(go version -m "$TEMPORAL_BIN" 2>/dev/null | awk '$1 == "mod" && $2 == "github.com/temporalio/cli" {sub(/^v/, "", $3); print $3}') || true
  fi
  echo "$v"
}

cmd_build() {
  local have
  have=$(installed_version)
  if [ "$have" = "$TEMPORAL_VERSION" ]; then
    log "temporal $TEMPORAL_VERSION already in ${TEMPORAL_BIN#"$ROOT"/}"
    return 0
  fi
  need_cmd go "install Go (see go.mod for the version) to build the Temporal CLI"
  log "building Temporal CLI v$TEMPORAL_VERSION into ${TEMPORAL_BIN#"$ROOT"/}${have:+ (found $have)}; this takes ~2 min"
  mkdir -p "$BIN"
  # Outside the repo module, so the project's go.mod/go.sum stay untouched.
  # The -X stamps the version the way release builds do, so `temporal --version` says 1.5.1.
  (cd / && GOBIN=$BIN GOFLAGS=-buildvcs=false go install \
    -ldflags "-s -w -X github.com/temporalio/cli/temporalcli.Version=$TEMPORAL_VERSION" \
    "$TEMPORAL_PKG@v$TEMPORAL_VERSION") ||
    die "go install $TEMPORAL_PKG@v$TEMPORAL_VERSION failed"
  have=$(installed_version)
  [ "$have" = "$TEMPORAL_VERSION" ] || die "built temporal reports version '${have:-?}', want $TEMPORAL_VERSION"
  log "temporal $TEMPORAL_VERSION ready"
}

# t ARGS...: the CLI against our dev server.
t() { "$TEMPORAL_BIN" "$@" --address "$ADDRESS"; }

running() { pid_alive "$PID_FILE" && port_open "$FRONTEND_PORT"; }

# namespace_ready: true when the dev server answers for our namespace.
namespace_ready() { port_open "$FRONTEND_PORT" && t operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; }

ensure_search_attributes() {
  local list name missing=0
  list=$(t operator search-attribute list --namespace "$NAMESPACE" 2>&1) ||
    die "cannot list search attributes: $list"
  for name in "${SEARCH_ATTRIBUTES[@]}"; do
    if grep -qw "$name" <<<"$list"; then continue; fi
    missing=1
    log "creating search attribute $name (Keyword)"
    t operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type Keyword >/dev/null ||
      die "cannot create search attribute $name"
  done
  if [ "$missing" = 1 ]; then
    list=$(t operator search-attribute list --namespace "$NAMESPACE" 2>&1) || die "cannot list search attributes: $list"
    for name in "${SEARCH_ATTRIBUTES[@]}"; do
      grep -qw "$name" <<<"$list" || die "search attribute $name still missing after create"
    done
  fi
  log "search attributes present: ${SEARCH_ATTRIBUTES[*]}"
}

cmd_start() {
  if running; then
    log "temporal dev server already running (pid $(cat "$PID_FILE")) at $ADDRESS; UI $UI_URL"
    return 0
  fi
  if pid_alive "$PID_FILE"; then
    # Our process is alive but not listening: a half-started or wedged server. Start over.
    log "temporal (pid $(cat "$PID_FILE")) is alive but $ADDRESS is closed; restarting it"
    stop_pid "$PID_FILE" temporal 30
  fi
  rm -f "$PID_FILE"
  local port
  for port in "$FRONTEND_PORT" "$UI_PORT"; do
    if port_open "$port"; then
      die "port $port on 127.0.0.1 is already in use by another process; free it before starting Temporal"
    fi
  done
  cmd_build
  mkdir -p "$DIR"

  local sa_flags=() name
  for name in "${SEARCH_ATTRIBUTES[@]}"; do sa_flags+=(--search-attribute "$name=Keyword"); done
  local t0=$SECONDS
  log "starting temporal dev server (db ${DB_FILE#"$ROOT"/}, log ${LOG_FILE#"$ROOT"/})"
  echo "=== $(date -u +%FT%TZ) scripts/temporal.sh start" >>"$LOG_FILE"
  # Workflow Updates (incl. waiting for Accepted) and eager workflow start are already on by
  # default in the server inside CLI 1.5.1 (Server 1.29.1); they are pinned here anyway so the
  # workers' Update handlers never depend on a default that a future pin might change.
  nohup "$TEMPORAL_BIN" server start-dev \
    --ip 127.0.0.1 --port "$FRONTEND_PORT" \
    --ui-ip 127.0.0.1 --ui-port "$UI_PORT" \
    --db-filename "$DB_FILE" \
    --namespace "$NAMESPACE" \
    --log-level warn \
    "${sa_flags[@]}" \
    --dynamic-config-value frontend.enableUpdateWorkflowExecution=true \
    --dynamic-config-value frontend.enableUpdateWorkflowExecutionAsyncAccepted=true \
    --dynamic-config-value system.enableEagerWorkflowStart=true \
    >>"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"

  wait_ready "$PID_FILE" "$LOG_FILE" "$START_TIMEOUT" "temporal dev server" "serve namespace $NAMESPACE on $ADDRESS" namespace_ready
  ensure_search_attributes
  wait_port "$UI_PORT" 30 "temporal Web UI"
  log "temporal dev server up in $((SECONDS - t0))s (pid $(cat "$PID_FILE")): $ADDRESS, namespace $NAMESPACE"
  log "Web UI: $UI_URL"
}

cmd_stop() { stop_pid "$PID_FILE" "temporal dev server" 30; }

cmd_status() { daemon_status temporal "$PID_FILE" "$FRONTEND_PORT" "$ADDRESS, UI $UI_URL"; }

cmd_reset() {
  cmd_stop
  rm -f "$DB_FILE" "$DB_FILE-wal" "$DB_FILE-shm" "$DB_FILE-journal"
  log "deleted ${DB_FILE#"$ROOT"/}"
}

case ${1:-} in
  build) cmd_build ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop && cmd_start ;;
  status) cmd_status ;;
  reset) cmd_reset ;;
  logs) tail -n "${2:-100}" -f "$LOG_FILE" ;;
  *) usage ;;
esac
