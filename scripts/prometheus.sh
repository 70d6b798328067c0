#!/usr/bin/env bash
# Prometheus for Kingmaker's local stack: Debian's `prometheus` package (prometheus + promtool),
# run by this script on 127.0.0.1:9090 with deploy/prometheus/prometheus.yml (scrapes the worker on
# 127.0.0.1:9464 and kingmaker serve on 127.0.0.1:8080, loads deploy/prometheus/alerts.yml), data
# and log under .stack/prometheus.
#
#   scripts/prometheus.sh install|start|stop|restart|status|check|logs
#
# Environment: PROMETHEUS_START_TIMEOUT (seconds, default 60).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

PORT=9090
ADDRESS=127.0.0.1:$PORT
URL=http://$ADDRESS
START_TIMEOUT=${PROMETHEUS_START_TIMEOUT:-60}

CONF_DIR=$ROOT/deploy/prometheus
CONFIG=$CONF_DIR/prometheus.yml
RULES=$CONF_DIR/alerts.yml
RULE_TESTS=$CONF_DIR/alerts_test.yml

DIR=$STACK/prometheus
DATA_DIR=$DIR/data
PID_FILE=$DIR/prometheus.pid
LOG_FILE=$DIR/prometheus.log

usage() {
  cat >&2 <<EOF
usage: $(basename "$0") install|start|stop|restart|status|check|logs
  install  install prometheus and promtool (Debian package 'prometheus') unless on PATH
  start    run prometheus on $URL (config ${CONFIG#"$ROOT"/}, data ${DATA_DIR#"$ROOT"/})
  stop     stop it (the data stays)
  restart  stop, then start
  status   running/stopped (exit 0/3)
  check    promtool check config, check rules and test rules (no server needed)
  logs     tail the server log
EOF
  exit 2
}

have_tools() { command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1; }

versions() {
  local p t
  p=$(prometheus --version 2>&1 | head -n 1)
  t=$(promtool --version 2>&1 | head -n 1)
  echo "$p; $t"
}

cmd_install() { install_prometheus_tools prometheus scripts/prometheus.sh "$PORT" "$PID_FILE" prometheus promtool; }

cmd_start() {
  prepare_start prometheus prometheus Prometheus "$PID_FILE" "$URL" "$PORT" "$CONFIG" "$DATA_DIR"

  start_daemon prometheus scripts/prometheus.sh "$PID_FILE" "$URL" "$CONFIG" "$LOG_FILE" "$START_TIMEOUT" \
    " (targets $URL/targets, alerts $URL/alerts)" \
    prometheus \
    --config.file "$CONFIG" \
    --storage.tsdb.path "$DATA_DIR" \
    --web.listen-address "$ADDRESS" \
    --web.enable-lifecycle
}

cmd_stop() { stop_pid "$PID_FILE" prometheus 30; }

cmd_status() { daemon_status prometheus "$PID_FILE" "$PORT" "$URL"; }

cmd_check() {
  need_cmd promtool "run scripts/prometheus.sh install (Debian package 'prometheus')"
  # Run from the config's directory: prometheus.yml names alerts.yml relative to itself, and the
  # test file names alerts.yml relative to the working directory.
  cd "$CONF_DIR"
  log "promtool check config ${CONFIG#"$ROOT"/}"
  promtool check config "$(basename "$CONFIG")" || die "promtool check config failed"
  log "promtool check rules ${RULES#"$ROOT"/}"
  promtool check rules "$(basename "$RULES")" || die "promtool check rules failed"
  log "promtool test rules ${RULE_TESTS#"$ROOT"/}"
  promtool test rules "$(basename "$RULE_TESTS")" || die "promtool test rules failed"
  log "prometheus config, rules and rule tests OK"
}

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop && cmd_start ;;
  status) cmd_status ;;
  check) cmd_check ;;
  logs) tail -n "${2:-100}" -f "$LOG_FILE" ;;
  *) usage ;;
esac
