#!/usr/bin/env bash
# Stops the worker and the prediction server `make demo` leaves running
# (scripts/demo.sh starts them).
#   scripts/worker.sh stop|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PID_FILE=$STACK/worker.pid
case "${1:-}" in
  stop)
    stop_pid "$STACK/serve.pid" "demo server" 15
    stop_pid "$PID_FILE" "demo worker" 40
    ;;
  status) if pid_alive "$PID_FILE"; then echo "demo worker: running (pid $(cat "$PID_FILE"))"; else echo "demo worker: stopped"; exit 3; fi ;;
  *) echo "usage: $(basename "$0") stop|status" >&2; exit 2 ;;
esac
