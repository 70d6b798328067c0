#!/usr/bin/env bash
# Alertmanager for Kingmaker's local stack: Debian's `prometheus-alertmanager` package (the
# alertmanager binary, installed as prometheus-alertmanager, and amtool), run by this script on
# 127.0.0.1:9093 with deploy/alertmanager/alertmanager.yml, clustering off, data and log under
# .stack/alertmanager. Prometheus (scripts/prometheus.sh) sends its firing alerts here.
#
#   scripts/alertmanager.sh install|start|stop|restart|status|check|alerts|logs
#
# Environment: ALERTMANAGER_START_TIMEOUT (seconds, default 30).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

PORT=9093
ADDRESS=127.0.0.1:$PORT
URL=http://$ADDRESS
START_TIMEOUT=${ALERTMANAGER_START_TIMEOUT:-30}

CONFIG=$ROOT/deploy/alertmanager/alertmanager.yml

DIR=$STACK/alertmanager
DATA_DIR=$DIR/data
PID_FILE=$DIR/alertmanager.pid
LOG_FILE=$DIR/alertmanager.log

usage() {
  cat >&2 <<EOF
usage: $(basename "$0") install|start|stop|restart|status|check|alerts|logs
  install  install alertmanager and amtool (Debian package 'prometheus-alertmanager') unless on PATH
  start    run alertmanager on $URL (config ${CONFIG#"$ROOT"/}, data ${DATA_DIR#"$ROOT"/})
  stop     stop it (silences and the notification log stay in the data directory)
  restart  stop, then start
  status   running/stopped (exit 0/3)
  check    amtool check-config (no server needed); the routing tests are deploy/alertmanager's go test
  alerts   the alerts the running alertmanager holds (amtool alert query)
  logs     tail the server log
EOF
  exit 2
}

# binary prints the alertmanager binary: Debian names it prometheus-alertmanager, the release
# tarball alertmanager.
binary() {
  command -v prometheus-alertmanager 2>/dev/null || command -v alertmanager 2>/dev/null
}

have_tools() { binary >/dev/null && command -v amtool >/dev/null 2>&1; }

versions() {
  local a t
  a=$("$(binary)" --version 2>&1 | head -n 1)
  t=$(amtool --version 2>&1 | head -n 1)
  echo "$a; $t"
}

cmd_install() { install_prometheus_tools prometheus-alertmanager scripts/alertmanager.sh "$PORT" "$PID_FILE" alertmanager amtool; }

cmd_start() {
  prepare_start alertmanager prometheus-alertmanager Alertmanager "$PID_FILE" "$URL" "$PORT" "$CONFIG" "$DATA_DIR"

  # An empty --cluster.listen-address turns off the gossip port (0.0.0.0:9094 by default): one
  # instance, nothing listening beyond loopback.
  start_daemon alertmanager scripts/alertmanager.sh "$PID_FILE" "$URL" "$CONFIG" "$LOG_FILE" "$START_TIMEOUT" "" \
    "$(binary)" \
    --config.file "$CONFIG" \
    --storage.path "$DATA_DIR" \
    --web.listen-address "$ADDRESS" \
    --cluster.listen-address=
}

cmd_stop() { stop_pid "$PID_FILE" alertmanager 30; }

cmd_status() { daemon_status alertmanager "$PID_FILE" "$PORT" "$URL"; }

cmd_check() {
  need_cmd amtool "run scripts/alertmanager.sh install (Debian package 'prometheus-alertmanager')"
  log "amtool check-config ${CONFIG#"$ROOT"/}"
  amtool check-config "$CONFIG" || die "amtool check-config failed"
}

cmd_alerts() {
  need_cmd amtool "run scripts/alertmanager.sh install (Debian package 'prometheus-alertmanager')"
  amtool alert query --alertmanager.url "$URL" -o extended
}

case ${1:-} in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  restart) cmd_stop && cmd_start ;;
  status) cmd_status ;;
  check) cmd_check ;;
  alerts) cmd_alerts ;;
  logs) tail -n "${2:-100}" -f "$LOG_FILE" ;;
  *) usage ;;
esac
