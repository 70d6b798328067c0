#!/usr/bin/env bash
# A local three-node Apache Cassandra 5.0 cluster for fault-injection tests (package chaos): cluster
# "kingmaker-chaos", node N on 127.0.0.(N+1) (node1 127.0.0.2, the seed; node2 127.0.0.3; node3
# 127.0.0.4), each with the usual ports on its own address (CQL 9042, storage 7000) and its own JMX
# port on 127.0.0.1 (7201-7203). It reuses the jars of scripts/cassandra.sh and leaves the
# development node on 127.0.0.1 alone. Everything lives under $STACK/cassandra-cluster/nodeN.
#
# Usage: scripts/cassandra-cluster.sh start [NODE]|stop [NODE]|status|kill NODE|restart NODE|ring|reset
#   start [N]   start every stopped node (or node N), one after another, each waited for until CQL
#               answers and the node sees itself and every running node Up/Normal (nodetool status)
#   stop [N]    stop every node (or node N): TERM (Cassandra drains), KILL after 60 s
#   kill N      kill -9 node N (a crash: no drain)
#   restart N   stop node N, start it again and wait until it is Up/Normal
#   status      one line per node (running/stopped, pid, CQL); exit 0 when all run, 3 otherwise
#   ring        nodetool status as a running node sees the ring
#   reset       stop every node and delete the cluster's data (keeps the jars)
#
# Environment:
#   KINGMAKER_CLUSTER_HEAP=512M        JVM heap of each node (-Xms and -Xmx)
#   KINGMAKER_CLUSTER_WAIT_SECS=240    how long start waits for one node
#   KINGMAKER_STACK_DIR                where the stack lives (default .stack; see lib.sh)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

NODES=(1 2 3)
SRC=$ROOT/scripts/cassandra
# shellcheck source=cassandra/jvm.sh
source "$SRC/jvm.sh"
LIB=$STACK/cassandra/lib
DIR=$STACK/cassandra-cluster
HEAP=${KINGMAKER_CLUSTER_HEAP:-512M}
WAIT_SECS=${KINGMAKER_CLUSTER_WAIT_SECS:-240}
CQL_PORT=9042
STORAGE_PORT=7000
SEEDS=127.0.0.2:$STORAGE_PORT

address() { echo "127.0.0.$(($1 + 1))"; }
jmx_port() { echo $((7200 + $1)); }
node_dir() { echo "$DIR/node$1"; }
pidfile() { echo "$DIR/node$1/cassandra.pid"; }

check_node() {
  case "${1:-}" in
    1 | 2 | 3) ;;
    *) die "NODE must be 1, 2 or 3 (got '${1:-}')" ;;
  esac
}

# ensure_jars: the jars of scripts/cassandra.sh, fetched by it when missing.
ensure_jars() {
  if [ ! -f "$LIB/.complete" ]; then
    log "no Cassandra jars in $LIB yet: running scripts/cassandra.sh fetch"
    "$ROOT/scripts/cassandra.sh" fetch
  fi
}

# node_alive N: node N's pid file names a running Cassandra of this cluster.
node_alive() {
  local f
  f=$(pidfile "$1")
  pid_alive "$f" && tr '\0' ' ' <"/proc/$(cat "$f")/cmdline" 2>/dev/null | grep -q "$(node_dir "$1")/conf/cassandra.yaml"
}

# listening ADDRESS PORT: something accepts connections there.
listening() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# cql_ready N: a CQL OPTIONS request (protocol v4) to node N gets a SUPPORTED response.
cql_ready() {
  local reply
  # shellcheck disable=SC2016 # $0 and $1 expand in the inner shell
  reply=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\x04\x00\x00\x00\x05\x00\x00\x00\x00" >&3
    head -c 5 <&3 | od -An -tx1' "$(address "$1")" "$CQL_PORT" 2>/dev/null) || return 1
  [ "${reply//[[:space:]]/}" = 8400000006 ]
}

# nodetool N ARGS...: nodetool through node N's JMX port (a short-lived client JVM).
nodetool() {
  local n=$1 jpms=()
  shift
  # The tool loads server classes too: it needs the JPMS flags of the server (jvm17.options).
  mapfile -t jpms < <(grep -E '^(--add-|-Djdk)' "$SRC/jvm17.options" | sed 's/[[:space:]]*$//')
  timeout 60 "$JAVA" -Xmx128m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC "${jpms[@]}" \
    -Dlogback.configurationFile="$(node_dir "$n")/conf/logback-tools.xml" \
    -cp "$LIB/*" org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$(jmx_port "$n")" "$@"
}

# up_normal N: the addresses node N sees Up/Normal, one a line.
up_normal() { nodetool "$1" status 2>/dev/null | awk '$1 == "UN" {print $2}'; }

show_log() {
  echo "---- last 30 lines of $(node_dir "$1")/logs/stdout.log ----" >&2
  tail -n 30 "$(node_dir "$1")/logs/stdout.log" >&2 2>/dev/null || true
}

# wait_node N: wait until node N answers CQL and sees itself and every running node Up/Normal.
wait_node() {
  local n=$1 i want seen addr missing
  for ((i = 0; i < WAIT_SECS; i++)); do
    if ! node_alive "$n"; then
      show_log "$n"
      rm -f "$(pidfile "$n")"
      die "node$n exited during startup (see $(node_dir "$n")/logs/stdout.log)"
    fi
    if cql_ready "$n"; then
      break
    fi
    sleep 1
  done
  ((i < WAIT_SECS)) || { show_log "$n"; die "node$n did not answer CQL on $(address "$n"):$CQL_PORT within ${WAIT_SECS}s"; }
  for (( ; i < WAIT_SECS; i += 2)); do
    want=()
    for m in "${NODES[@]}"; do
      node_alive "$m" && want+=("$(address "$m")")
    done
    seen=$(up_normal "$n" || true)
    missing=
    for addr in "${want[@]}"; do
      grep -qx "$addr" <<<"$seen" || missing="$missing $addr"
    done
    [ -z "$missing" ] && return 0
    sleep 2
  done
  show_log "$n"
  die "node$n does not see${missing} Up/Normal after ${WAIT_SECS}s (scripts/cassandra-cluster.sh ring)"
}

write_config() {
  local n=$1 conf
  conf=$(node_dir "$n")/conf
  mkdir -p "$conf/triggers"
  sed -e "s|@DATA_DIR@|$(node_dir "$n")/data|g" -e "s|@ADDRESS@|$(address "$n")|g" -e "s|@SEEDS@|$SEEDS|g" \
    "$SRC/cluster.yaml.tmpl" >"$conf/cassandra.yaml.tmp"
  mv "$conf/cassandra.yaml.tmp" "$conf/cassandra.yaml"
  cp "$SRC/logback.xml" "$conf/logback.xml"
  # nodetool logs nothing worth reading; keep its warnings off the terminal.
  cat >"$conf/logback-tools.xml" <<'EOF'
<configuration><root level="OFF"/></configuration>
EOF
}

start_node() {
  local n=$1 began addr ndir port
  began=$(date +%s)
  addr=$(address "$n")
  ndir=$(node_dir "$n")
  if node_alive "$n"; then
    log "node$n is already running (pid $(cat "$(pidfile "$n")")); waiting until it is Up/Normal"
    wait_node "$n"
    return 0
  fi
  rm -f "$(pidfile "$n")"
  for port in "$CQL_PORT" "$STORAGE_PORT"; do
    listening "$addr" "$port" && die "$addr:$port is taken by another process; node$n needs it"
  done
  listening 127.0.0.1 "$(jmx_port "$n")" && die "127.0.0.1:$(jmx_port "$n") (JMX of node$n) is taken by another process"
  write_config "$n"
  log "starting node$n on $addr (heap $HEAP, JMX 127.0.0.1:$(jmx_port "$n")); log: $ndir/logs/stdout.log"
  start_cassandra_jvm "$(pidfile "$n")" "$ndir/conf" "$ndir/data" "$ndir/logs" "$(jmx_port "$n")" 2 200
  wait_node "$n"
  log "node$n is Up/Normal on $addr:$CQL_PORT (pid $(cat "$(pidfile "$n")")) after $(($(date +%s) - began))s"
}

stop_node() {
  local f
  f=$(pidfile "$1")
  if pid_alive "$f" && ! node_alive "$1"; then
    log "$f names pid $(cat "$f"), which is not node$1; removing the stale pid file"
    rm -f "$f"
  fi
  stop_pid "$f" "node$1" 60
}

kill_node() {
  local f pid i
  f=$(pidfile "$1")
  if ! node_alive "$1"; then
    rm -f "$f"
    log "node$1 is not running"
    return 0
  fi
  pid=$(cat "$f")
  log "killing node$1 (kill -9 $pid)"
  kill -9 "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  rm -f "$f"
}

lock() {
  mkdir -p "$DIR"
  # One command at a time; the JVMs do not inherit the lock (9>&- above).
  exec 9>"$DIR/.lock"
  flock -w 600 9 || die "another scripts/cassandra-cluster.sh command holds $DIR/.lock"
}

cmd_start() {
  local began n
  began=$(date +%s)
  find_java17
  ensure_jars
  lock
  if [ -n "${1:-}" ]; then
    check_node "$1"
    start_node "$1"
    return 0
  fi
  for n in "${NODES[@]}"; do
    start_node "$n"
  done
  log "cluster kingmaker-chaos is up: 127.0.0.2-4:$CQL_PORT in $(($(date +%s) - began))s"
}

cmd_stop() {
  lock
  if [ -n "${1:-}" ]; then
    check_node "$1"
    stop_node "$1"
    return 0
  fi
  local n
  # Stop in parallel: a node waiting for its peers to drain gains nothing from order.
  for n in "${NODES[@]}"; do
    stop_node "$n" &
  done
  wait
}

cmd_kill() {
  check_node "${1:-}"
  lock
  kill_node "$1"
}

cmd_restart() {
  check_node "${1:-}"
  find_java17
  ensure_jars
  lock
  stop_node "$1"
  start_node "$1"
}

cmd_status() {
  local n all=0
  for n in "${NODES[@]}"; do
    if node_alive "$n"; then
      if cql_ready "$n"; then
        echo "node$n $(address "$n"): running (pid $(cat "$(pidfile "$n")")), CQL on $(address "$n"):$CQL_PORT"
      else
        echo "node$n $(address "$n"): running (pid $(cat "$(pidfile "$n")")), CQL not answering"
        all=3
      fi
    else
      echo "node$n $(address "$n"): stopped"
      all=3
    fi
  done
  return $all
}

cmd_ring() {
  local n
  find_java17
  for n in "${NODES[@]}"; do
    if node_alive "$n"; then
      nodetool "$n" status
      return 0
    fi
  done
  die "no node of the cluster is running (scripts/cassandra-cluster.sh start)"
}

cmd_reset() {
  cmd_stop
  log "deleting the data of every node under $DIR"
  rm -rf "$DIR"/node*/data
}

case "${1:-}" in
  start) cmd_start "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  kill) cmd_kill "${2:-}" ;;
  restart) cmd_restart "${2:-}" ;;
  status) cmd_status ;;
  ring) cmd_ring ;;
  reset) cmd_reset ;;
  *) die "usage: $0 start [NODE]|stop [NODE]|status|kill NODE|restart NODE|ring|reset" ;;
esac
