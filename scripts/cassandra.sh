#!/usr/bin/env bash
# One local Apache Cassandra 5.0 node on Java 17, its jars from Maven Central.
#
# Usage: scripts/cassandra.sh fetch|start|stop|status|wait|reset
#   fetch   copy cassandra-all and its runtime dependencies into $STACK/cassandra/lib (once per version)
#   start   fetch if needed, write the config (and the TLS files, once), start the node and wait until
#           CQL answers on 127.0.0.1:9042
#   stop    stop the node (TERM, then KILL after 60 s); data stays
#   status  print running/stopped and the pid; exit 0 when running, 3 when stopped
#   wait    wait until CQL answers
#   reset   stop the node and delete its data (keeps the jars)
#
# Environment:
#   KINGMAKER_CASSANDRA_AUTH=1       PasswordAuthenticator + CassandraAuthorizer (login cassandra/cassandra);
#                                    default AllowAllAuthenticator. Applied at the next start.
#   KINGMAKER_CASSANDRA_HEAP=1G      JVM heap (-Xms and -Xmx)
#   KINGMAKER_CASSANDRA_WAIT_SECS=180  how long start/wait wait for CQL
#   KINGMAKER_STACK_DIR              where the stack lives (default .stack in the repository; see lib.sh)
#
# Client TLS: port 9042 takes plain CQL and TLS alike (client_encryption_options optional: true), so
# the example config and most tests stay plain while the TLS tests connect encrypted. A TLS client
# must present a certificate of the local CA (require_client_auth: true); plain clients are not asked.
# The first start writes, into $STACK/cassandra/tls:
#   ca.pem                          the local CA (the ca_file of cassandra.tls)
#   server.pem, server-key.pem      the node's certificate, for 127.0.0.1 and localhost
#   client.pem, client-key.pem      a client certificate of that CA (cert_file and key_file)
#   keystore.p12, truststore.p12    the same for the JVM (PKCS12, password kingmaker-dev)
# They are kept across restarts and stack-reset, and written anew when the node certificate has less
# than 30 days left or a file is missing.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"

SRC=$ROOT/scripts/cassandra
# shellcheck source=cassandra/jvm.sh
source "$SRC/jvm.sh"
CDIR=$STACK/cassandra
LIB=$CDIR/lib
CONF=$CDIR/conf
DATA=$CDIR/data
LOGS=$CDIR/logs
PIDFILE=$CDIR/cassandra.pid
MARKER=$LIB/.complete
ADDRESS=127.0.0.1
CQL_PORT=9042
HEAP=${KINGMAKER_CASSANDRA_HEAP:-1G}
WAIT_SECS=${KINGMAKER_CASSANDRA_WAIT_SECS:-180}
TLS_DIR=$CDIR/tls
# The stores hold a throwaway key of a local dev CA; the password only satisfies the JVM.
TLS_STOREPASS=kingmaker-dev

# The Cassandra version is the one pinned in the pom.
VERSION=$(sed -n 's:.*<cassandra.version>\(.*\)</cassandra.version>.*:\1:p' "$SRC/pom.xml")
[ -n "$VERSION" ] || die "no <cassandra.version> in $SRC/pom.xml"

fetched() { [ -f "$MARKER" ] && [ "$(cat "$MARKER")" = "$VERSION" ]; }

cmd_fetch() {
  find_java17
  if fetched; then
    return 0
  fi
  need_cmd mvn "apt-get install maven"
  log "fetching Cassandra $VERSION and its dependencies with Maven into $LIB"
  mkdir -p "$CDIR"
  local tmp=$CDIR/lib.tmp
  rm -rf "$tmp"
  if ! mvn -B -q -f "$SRC/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$CDIR/mvn.log" 2>&1; then
    tail -n 30 "$CDIR/mvn.log" >&2
    die "mvn dependency:copy-dependencies failed for cassandra-all $VERSION (log: $CDIR/mvn.log)"
  fi
  [ -f "$tmp/cassandra-all-$VERSION.jar" ] || die "Maven did not produce cassandra-all-$VERSION.jar"
  echo "$VERSION" >"$tmp/.complete"
  rm -rf "$LIB"
  mv "$tmp" "$LIB"
  log "fetched $(find "$LIB" -name '*.jar' | wc -l) jars"
}

# node_alive: the pid file names a running Cassandra (not a reused pid).
node_alive() {
  pid_alive "$PIDFILE" && tr '\0' ' ' <"/proc/$(cat "$PIDFILE")/cmdline" 2>/dev/null | grep -q "$MAIN_CLASS"
}

# cql_ready: a CQL OPTIONS request (protocol v4) on 127.0.0.1:9042 gets a SUPPORTED response.
cql_ready() {
  local reply
  # shellcheck disable=SC2016 # $0 and $1 expand in the inner shell
  reply=$(timeout 5 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\x04\x00\x00\x00\x05\x00\x00\x00\x00" >&3
    head -c 5 <&3 | od -An -tx1' "$ADDRESS" "$CQL_PORT" 2>/dev/null) || return 1
  # response header: version 0x84 (v4, response), flags, stream (2 bytes), opcode 0x06 SUPPORTED
  [ "${reply//[[:space:]]/}" = 8400000006 ]
}

show_log() {
  echo "---- last 30 lines of $LOGS/stdout.log ----" >&2
  tail -n 30 "$LOGS/stdout.log" >&2 2>/dev/null || true
}

# wait_cql: wait until CQL answers; fail (with the log) when the node dies or time runs out.
wait_cql() {
  local i nopid=0
  for ((i = 0; i < WAIT_SECS; i++)); do
    cql_ready && return 0
    if [ -f "$PIDFILE" ]; then
      nopid=0
      if ! node_alive; then
        show_log
        rm -f "$PIDFILE"
        die "Cassandra exited during startup (see $LOGS/stdout.log)"
      fi
    else
      nopid=$((nopid + 1))
      ((nopid < 10)) || die "Cassandra is not running (scripts/cassandra.sh start)"
    fi
    sleep 1
  done
  show_log
  die "Cassandra did not answer CQL on $ADDRESS:$CQL_PORT within ${WAIT_SECS}s"
}

# tls_files_ok [DIR]: every TLS file exists in DIR (default $TLS_DIR) and the node certificate is
# valid for 30 more days.
tls_files_ok() {
  local dir=${1:-$TLS_DIR} f
  for f in ca.pem ca-key.pem server.pem server-key.pem client.pem client-key.pem keystore.p12 truststore.p12; do
    [ -s "$dir/$f" ] || return 1
  done
  openssl x509 -in "$dir/server.pem" -noout -checkend $((30 * 86400)) >/dev/null
}

# issue NAME SUBJECT EXTENSIONS: a P-256 key NAME-key.pem and a certificate NAME.pem signed by the
# CA, in the current directory; the tools' messages go to tls.log. Fails at the first failing step.
issue() {
  local name=$1 subject=$2 ext=$3
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subject" \
    -keyout "$name-key.pem" -out "$name.csr" 2>>tls.log &&
    printf '%s\n' "$ext" >"$name.ext" &&
    openssl x509 -req -in "$name.csr" -CA ca.pem -CAkey ca-key.pem -set_serial "0x$(openssl rand -hex 16)" \
      -days 825 -sha256 -extfile "$name.ext" -out "$name.pem" 2>>tls.log &&
    rm -f "$name.csr" "$name.ext"
}

# write_tls: a local CA, the node's certificate and a client certificate, unless they are still good.
# The files are made in a directory of their own and moved into place only when every one is there,
# so a failing step never leaves a node configured with a keystore that does not exist.
write_tls() {
  tls_files_ok && return 0
  need_cmd openssl "apt-get install openssl"
  local keytool=$JAVA_HOME/bin/keytool
  [ -x "$keytool" ] || die "keytool not found in $JAVA_HOME/bin (it comes with the JDK)"
  log "writing a local CA and the node's TLS certificate into $TLS_DIR"
  local tmp=$TLS_DIR.tmp
  rm -rf "$tmp"
  mkdir -p "$tmp"
  chmod 700 "$tmp"
  # set -e does not apply inside a subshell that is the left side of ||: every step is chained.
  if ! (
    cd "$tmp" &&
      openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 -sha256 \
        -subj "/CN=Kingmaker dev Cassandra CA" -keyout ca-key.pem -out ca.pem \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>>tls.log &&
      issue server "/CN=localhost" "$(printf '%s\n' "basicConstraints=CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" \
        "subjectAltName=IP:$ADDRESS,DNS:localhost")" &&
      issue client "/CN=kingmaker-dev-client" "$(printf '%s\n' "basicConstraints=CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=clientAuth")" &&
      openssl pkcs12 -export -name cassandra -in server.pem -inkey server-key.pem -certfile ca.pem \
        -passout "pass:$TLS_STOREPASS" -out keystore.p12 2>>tls.log &&
      "$keytool" -importcert -noprompt -alias kingmaker-dev-ca -file ca.pem -storetype PKCS12 \
        -keystore truststore.p12 -storepass "$TLS_STOREPASS" >>tls.log 2>&1 &&
      chmod 600 ./*-key.pem ./*.p12
  ) || ! tls_files_ok "$tmp"; then
    [ -s "$tmp/tls.log" ] && sed 's/^/    /' "$tmp/tls.log" >&2
    die "could not write the TLS files into $tmp (openssl and keytool said the above)"
  fi
  rm -f "$tmp/tls.log"
  rm -rf "$TLS_DIR"
  mv "$tmp" "$TLS_DIR"
}

write_config() {
  local authn=org.apache.cassandra.auth.AllowAllAuthenticator
  local authz=org.apache.cassandra.auth.AllowAllAuthorizer
  if [ "${KINGMAKER_CASSANDRA_AUTH:-0}" = 1 ]; then
    authn=org.apache.cassandra.auth.PasswordAuthenticator
    authz=org.apache.cassandra.auth.CassandraAuthorizer
  fi
  mkdir -p "$CONF"
  sed -e "s|@DATA_DIR@|$DATA|g" -e "s|@ADDRESS@|$ADDRESS|g" \
    -e "s|@AUTHENTICATOR@|$authn|g" -e "s|@AUTHORIZER@|$authz|g" \
    "$SRC/cassandra.yaml.tmpl" >"$CONF/cassandra.yaml.tmp"
  write_tls
  cat >>"$CONF/cassandra.yaml.tmp" <<EOF

# Written by scripts/cassandra.sh: plain CQL and TLS on the same port; a TLS client shows a
# certificate of the local CA in $TLS_DIR.
client_encryption_options:
  enabled: true
  optional: true
  require_client_auth: true
  store_type: PKCS12
  keystore: $TLS_DIR/keystore.p12
  keystore_password: $TLS_STOREPASS
  truststore: $TLS_DIR/truststore.p12
  truststore_password: $TLS_STOREPASS
  accepted_protocols: [TLSv1.2, TLSv1.3]
EOF
  mv "$CONF/cassandra.yaml.tmp" "$CONF/cassandra.yaml"
  cp "$SRC/logback.xml" "$CONF/logback.xml"
}

cmd_start() {
  mkdir -p "$CDIR"
  # One start at a time; the JVM does not inherit the lock (9>&- below).
  exec 9>"$CDIR/.lock"
  flock -w 300 9 || die "another scripts/cassandra.sh start holds $CDIR/.lock"

  if node_alive; then
    if cql_ready; then
      log "Cassandra is already running (pid $(cat "$PIDFILE")), CQL on $ADDRESS:$CQL_PORT"
      if ! grep -q '^client_encryption_options:' "$CONF/cassandra.yaml" 2>/dev/null; then
        log "it was started by an older scripts/cassandra.sh, without client TLS; for TLS, restart it: scripts/cassandra.sh stop && scripts/cassandra.sh start"
      fi
      return 0
    fi
    log "Cassandra is starting (pid $(cat "$PIDFILE")); waiting for CQL"
    wait_cql
    log "Cassandra is up (pid $(cat "$PIDFILE")), CQL on $ADDRESS:$CQL_PORT"
    return 0
  fi
  rm -f "$PIDFILE"
  local port
  for port in "$CQL_PORT" 7000 7199; do
    if port_open "$port"; then
      die "port $port on 127.0.0.1 is taken by another process; Cassandra needs 9042, 7000 and 7199"
    fi
  done

  cmd_fetch
  write_config
  log "starting Cassandra $VERSION (heap $HEAP, auth ${KINGMAKER_CASSANDRA_AUTH:-0}); log: $LOGS/stdout.log"
  start_cassandra_jvm "$PIDFILE" "$CONF" "$DATA" "$LOGS" 7199 4 0
  wait_cql
  log "Cassandra is up (pid $(cat "$PIDFILE")), CQL on $ADDRESS:$CQL_PORT (plain, or TLS with the CA $TLS_DIR/ca.pem)"
}

cmd_stop() {
  if pid_alive "$PIDFILE" && ! node_alive; then
    log "pid file names pid $(cat "$PIDFILE"), which is not Cassandra; removing the stale pid file"
    rm -f "$PIDFILE"
  fi
  stop_pid "$PIDFILE" Cassandra 60
}

cmd_status() {
  if node_alive; then
    if cql_ready; then
      echo "cassandra: running (pid $(cat "$PIDFILE")), CQL on $ADDRESS:$CQL_PORT"
    else
      echo "cassandra: running (pid $(cat "$PIDFILE")), CQL not answering yet"
    fi
    return 0
  fi
  echo "cassandra: stopped"
  return 3
}

cmd_reset() {
  cmd_stop
  log "deleting $DATA"
  rm -rf "$DATA"
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  wait) wait_cql && log "CQL answers on $ADDRESS:$CQL_PORT" ;;
  reset) cmd_reset ;;
  *) die "usage: $0 fetch|start|stop|status|wait|reset" ;;
esac
