# Sourced by scripts/cassandra.sh and scripts/cassandra-cluster.sh (after lib.sh): finding Java 17
# and starting a Cassandra JVM, the same way for the dev node and the nodes of the local cluster.
# shellcheck shell=bash

MAIN_CLASS=org.apache.cassandra.service.CassandraDaemon

# java_major BIN: the major version of the java at BIN (e.g. 17), empty when it does not run.
java_major() {
  "$1" -version 2>&1 | sed -n '1s/.*version "\([0-9]*\).*/\1/p'
}

# find_java17: set JAVA (and export JAVA_HOME) to a Java 17, or fail.
find_java17() {
  local cand
  for cand in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java || true)" \
    /usr/lib/jvm/java-17-openjdk-amd64/bin/java; do
    if [ -z "$cand" ] || [ ! -x "$cand" ]; then continue; fi
    if [ "$(java_major "$cand")" = 17 ]; then
      JAVA=$cand
      JAVA_HOME=$(cd "$(dirname "$(readlink -f "$cand")")/.." && pwd)
      export JAVA_HOME
      return 0
    fi
  done
  die "Java 17 not found (java -version is not 17 and /usr/lib/jvm/java-17-openjdk-amd64 is missing): apt-get install openjdk-17-jdk-headless"
}

# start_cassandra_jvm PIDFILE CONF DATA LOGS JMX_PORT MALLOC_ARENAS SETUP_DELAY_MS: start Cassandra
# (the jars in $LIB, $HEAP of heap, the options of $SRC/jvm17.options) with its config in CONF,
# detached from this shell, its output in LOGS/stdout.log; returns once PIDFILE names the JVM. Needs
# JAVA. SETUP_DELAY_MS is how long the node waits before creating the default superuser, and between
# tries while other nodes of its cluster are not ready: 0 suits a single node, where it succeeds at
# once; on a cluster 0 retries in a tight loop (hundreds of thousands of log lines a minute).
start_cassandra_jvm() {
  local pidfile=$1 conf=$2 data=$3 logs=$4 jmx=$5 arenas=$6 setup_delay=$7 jamm opts=() nolock=() i
  jamm=$(find "$LIB" -maxdepth 1 -name 'jamm-*.jar' | head -n 1)
  [ -n "$jamm" ] || die "no jamm jar in $LIB (run scripts/cassandra.sh fetch)"
  mapfile -t opts < <(grep -E '^-' "$SRC/jvm17.options" | sed 's/[[:space:]]*$//')
  local args=(
    -Xms"$HEAP" -Xmx"$HEAP"
    "${opts[@]}"
    -XX:HeapDumpPath="$logs"
    -javaagent:"$jamm"
    -Dcassandra.config="file://$conf/cassandra.yaml"
    -Dcassandra-foreground=yes
    -Dcassandra.storagedir="$data"
    -Dcassandra.logdir="$logs"
    -Dlogback.configurationFile="$conf/logback.xml"
    -Dcassandra.jmx.local.port="$jmx"
    -Dcom.sun.management.jmxremote.authenticate=false
    -Dcassandra.skip_wait_for_gossip_to_settle=0
    -Dcassandra.ring_delay_ms=1000
    -Dcassandra.superuser_setup_delay_ms="$setup_delay"
    -Dcassandra.triggers_dir="$conf/triggers"
    -cp "$conf:$LIB/*"
    "$MAIN_CLASS"
  )
  # Cassandra mlockall()s its memory at startup, which as root makes the whole heap resident at
  # once. A dev node on a machine without swap gains nothing from that: where we may, drop the
  # capability (CAP_IPC_LOCK) so the lock fails (a logged warning) and memory is used as needed.
  if command -v setpriv >/dev/null 2>&1 && setpriv --inh-caps=-ipc_lock --bounding-set=-ipc_lock true 2>/dev/null; then
    nolock=(setpriv --inh-caps=-ipc_lock --bounding-set=-ipc_lock)
  fi
  mkdir -p "$data" "$logs" "$conf/triggers"
  [ -f "$logs/stdout.log" ] && mv -f "$logs/stdout.log" "$logs/stdout.log.1"
  # setsid: the node outlives this shell and its process group; the inner shell writes its own pid
  # and then becomes the JVM (exec), so the pid file names the JVM.
  # shellcheck disable=SC2016 # $$, $0 and $@ expand in the inner shell
  MALLOC_ARENA_MAX=$arenas nohup setsid "${nolock[@]}" bash -c 'echo $$ >"$0"; exec "$@"' "$pidfile" "$JAVA" "${args[@]}" \
    >"$logs/stdout.log" 2>&1 </dev/null 9>&- &
  for ((i = 0; i < 50; i++)); do
    [ -s "$pidfile" ] && return 0
    sleep 0.1
  done
  die "could not start the JVM of $conf/cassandra.yaml (no pid file)"
}
