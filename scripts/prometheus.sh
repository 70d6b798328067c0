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

cmd_install() {
  if have_tools; then
    log "prometheus and promtool already installed: $(versions)"
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "prometheus and promtool are not on PATH; install them (Debian/Ubuntu: sudo apt-get install -y --no-install-recommends prometheus; elsewhere the release tarball from https://prometheus.io/download/ puts both binaries on PATH), then run scripts/prometheus.sh again"
  fi
  local t0=$SECONDS
  apt_install_service prometheus "$PORT" "$PID_FILE"
  have_tools || die "package prometheus installed but prometheus/promtool are still not on PATH"
  log "installed in $((SECONDS - t0))s: $(versions)"
}

cmd_start() {
  if pid_alive "$PID_FILE"; then
    die "prometheus is already running (pid $(cat "$PID_FILE")) at $URL; use stop or restart"
  fi
  rm -f "$PID_FILE"
  if port_open "$PORT"; then
    die "port $PORT on 127.0.0.1 is already in use by another process (a Debian prometheus service? try: systemctl disable --now prometheus); free it before starting Prometheus"
  fi
  have_tools || cmd_install
  [ -f "$CONFIG" ] || die "missing $CONFIG"
  mkdir -p "$DATA_DIR"

  local t0=$SECONDS
  log "starting prometheus on $URL (config ${CONFIG#"$ROOT"/}, log ${LOG_FILE#"$ROOT"/})"
  echo "=== $(date -u +%FT%TZ) scripts/prometheus.sh start" >>"$LOG_FILE"
  nohup prometheus \
    --config.file "$CONFIG" \
    --storage.tsdb.path "$DATA_DIR" \
    --web.listen-address "$ADDRESS" \
    --web.enable-lifecycle \
    >>"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"

  wait_http_ready prometheus "$PID_FILE" "$URL/-/ready" "$START_TIMEOUT" "$LOG_FILE"
  log "prometheus ready in $((SECONDS - t0))s (pid $(cat "$PID_FILE")): $URL (targets $URL/targets, alerts $URL/alerts)"
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
