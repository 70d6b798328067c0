# Shared helpers for the stack scripts. Source it; do not run it.
# shellcheck shell=bash

# ROOT is the repository root; STACK holds everything the local stack writes (git-ignored).
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STACK=${KINGMAKER_STACK_DIR:-$ROOT/.stack}
BIN=$ROOT/bin

die() { echo "error: $*" >&2; exit 1; }
log() { echo "==> $*" >&2; }

# need_cmd NAME HINT: fail with a one-line message when NAME is not on PATH.
need_cmd() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"; }

# port_open PORT: true when something on 127.0.0.1 accepts connections on PORT.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# wait_port PORT SECONDS WHAT: wait until PORT accepts connections, or fail naming WHAT.
wait_port() {
  local port=$1 secs=$2 what=$3 i
  for ((i = 0; i < secs; i++)); do
    port_open "$port" && return 0
    sleep 1
  done
  die "$what did not open 127.0.0.1:$port within ${secs}s"
}

# pid_alive FILE: true when FILE names a running process.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid FILE WHAT SECONDS: TERM the process in FILE, wait, then KILL; remove FILE.
stop_pid() {
  local file=$1 what=$2 secs=${3:-30} pid i
  if ! pid_alive "$file"; then rm -f "$file"; log "$what is not running"; return 0; fi
  pid=$(cat "$file")
  log "stopping $what (pid $pid)"
  kill "$pid" 2>/dev/null || true
  for ((i = 0; i < secs; i++)); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$file"; return 0; }
    sleep 1
  done
  log "$what did not stop in ${secs}s; killing it"
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$file"
}

# http_ok URL: true when URL answers 2xx.
http_ok() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
  else
    wget -q -O /dev/null --timeout=2 "$1" 2>/dev/null
  fi
}

# quiet_debian_service NAME ADDRESS: Debian's prometheus and prometheus-alertmanager packages ship a
# service NAME (systemd unit and init.d script) that listens on the port Kingmaker's own instance
# uses (ADDRESS), with /etc/prometheus's config. The packaged one must not run: stop it if the
# postinst started it and keep it from starting at boot. (In containers /usr/sbin/policy-rc.d
# usually prevents the start.)
quiet_debian_service() {
  local name=$1 address=$2
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    if systemctl is-enabled --quiet "$name.service" 2>/dev/null ||
      systemctl is-active --quiet "$name.service" 2>/dev/null; then
      log "stopping and disabling the Debian $name.service (Kingmaker runs its own on $address)"
      systemctl disable --now "$name.service" >/dev/null 2>&1 ||
        die "cannot stop $name.service; run: systemctl disable --now $name"
    fi
  elif [ -x "/etc/init.d/$name" ]; then
    if "/etc/init.d/$name" status >/dev/null 2>&1; then
      log "stopping the Debian $name init.d service (Kingmaker runs its own on $address)"
      if command -v invoke-rc.d >/dev/null 2>&1; then
        invoke-rc.d --force "$name" stop >/dev/null 2>&1 || "/etc/init.d/$name" stop >/dev/null 2>&1 || true
      else
        "/etc/init.d/$name" stop >/dev/null 2>&1 || true
      fi
    fi
    if command -v update-rc.d >/dev/null 2>&1; then
      update-rc.d "$name" disable >/dev/null 2>&1 || true
    fi
  fi
}

# wait_ready PID_FILE LOG_FILE SECONDS WHAT UNTIL CHECK...: run CHECK every 0.25s until it succeeds;
# fail with the log's tail when the process in PID_FILE exits first ("WHAT exited during start") or
# SECONDS pass ("WHAT did not UNTIL within SECONDSs").
wait_ready() {
  local pid_file=$1 log_file=$2 secs=$3 what=$4 until=$5
  shift 5
  local deadline=$((SECONDS + secs))
  while :; do
    if ! pid_alive "$pid_file"; then
      rm -f "$pid_file"
      tail -n 20 "$log_file" >&2 || true
      die "$what exited during start; see ${log_file#"$ROOT"/}"
    fi
    "$@" && return 0
    if ((SECONDS >= deadline)); then
      tail -n 20 "$log_file" >&2 || true
      die "$what did not $until within ${secs}s; see ${log_file#"$ROOT"/}"
    fi
    sleep 0.25
  done
}

# wait_http_ready WHAT PID_FILE URL SECONDS LOG_FILE: wait_ready until URL answers 2xx.
wait_http_ready() { wait_ready "$2" "$5" "$4" "$1" "answer $3" http_ok "$3"; }

# daemon_status WHAT PID_FILE PORT URL: print whether WHAT runs (its process lives and 127.0.0.1:PORT
# accepts connections); return 0 when it does, 3 otherwise.
daemon_status() {
  local what=$1 pid_file=$2 port=$3 url=$4
  if pid_alive "$pid_file" && port_open "$port"; then
    echo "$what: running (pid $(cat "$pid_file")) at $url"
    return 0
  fi
  if pid_alive "$pid_file"; then
    echo "$what: starting or unhealthy (pid $(cat "$pid_file")), 127.0.0.1:$port closed"
  else
    echo "$what: stopped"
  fi
  return 3
}

# apt_install_service PACKAGE PORT PID_FILE: install Debian's PACKAGE with apt-get (as root), whose
# service of the same name listens on PORT; keep that service from running (quiet_debian_service),
# and fail if, after the install, something other than Kingmaker's own instance (PID_FILE) took PORT.
apt_install_service() {
  local pkg=$1 port=$2 pid_file=$3 busy_before=0
  port_open "$port" && busy_before=1
  apt_install "$pkg"
  quiet_debian_service "$pkg" "127.0.0.1:$port"
  if [ "$busy_before" = 0 ] && port_open "$port" && ! pid_alive "$pid_file"; then
    die "after installing $pkg, something listens on 127.0.0.1:$port (the Debian $pkg service?); stop it: systemctl disable --now $pkg, or /etc/init.d/$pkg stop"
  fi
}

# apt_install PACKAGE: apt-get install PACKAGE without its recommends (as root), running
# apt-get update first when apt knows no candidate for it yet.
apt_install() {
  local pkg=$1
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
    log "apt-get update (no candidate for package $pkg yet)"
    apt-get update -qq || die "apt-get update failed"
  fi
  log "apt-get install -y --no-install-recommends $pkg"
  apt-get install -y -qq --no-install-recommends "$pkg" >&2 || die "apt-get install $pkg failed"
}

# install_prometheus_tools PACKAGE SCRIPT PORT PID_FILE DAEMON TOOL: the install command of a script
# that runs DAEMON of the Prometheus project with its command-line TOOL, both from Debian's PACKAGE:
# nothing when both are on PATH, apt-get install as root (apt_install_service), else say how to
# install them. The script defines have_tools and versions.
install_prometheus_tools() {
  local pkg=$1 script=$2 port=$3 pid_file=$4 daemon=$5 tool=$6
  if have_tools; then
    log "$daemon and $tool already installed: $(versions)"
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "$daemon and $tool are not on PATH; install them (Debian/Ubuntu: sudo apt-get install -y --no-install-recommends $pkg; elsewhere the release tarball from https://prometheus.io/download/ puts both binaries on PATH), then run $script again"
  fi
  local t0=$SECONDS
  apt_install_service "$pkg" "$port" "$pid_file"
  have_tools || die "package $pkg installed but $daemon/$tool are still not on PATH"
  log "installed in $((SECONDS - t0))s: $(versions)"
}

# prepare_start WHAT PACKAGE TITLE PID_FILE URL PORT CONFIG DATA_DIR: the checks before a script
# starts its daemon WHAT (Debian's PACKAGE; TITLE in prose): it does not run yet, 127.0.0.1:PORT is
# free, it is installed (the script's have_tools and cmd_install), CONFIG exists; then make DATA_DIR.
prepare_start() {
  local what=$1 pkg=$2 title=$3 pid_file=$4 url=$5 port=$6 config=$7 data_dir=$8
  if pid_alive "$pid_file"; then
    die "$what is already running (pid $(cat "$pid_file")) at $url; use stop or restart"
  fi
  rm -f "$pid_file"
  if port_open "$port"; then
    die "port $port on 127.0.0.1 is already in use by another process (a Debian $pkg service? try: systemctl disable --now $pkg); free it before starting $title"
  fi
  have_tools || cmd_install
  [ -f "$config" ] || die "missing $config"
  mkdir -p "$data_dir"
}

# start_daemon WHAT SCRIPT PID_FILE URL CONFIG LOG_FILE TIMEOUT NOTE COMMAND...: start WHAT (the
# daemon SCRIPT runs, COMMAND with its arguments) in the background, its output appended to LOG_FILE
# and its pid in PID_FILE; wait up to TIMEOUT seconds for URL/-/ready to answer, then say how long it
# took (NOTE follows the URL).
start_daemon() {
  local what=$1 script=$2 pid_file=$3 url=$4 config=$5 log_file=$6 timeout=$7 note=$8
  shift 8
  local t0=$SECONDS
  log "starting $what on $url (config ${config#"$ROOT"/}, log ${log_file#"$ROOT"/})"
  echo "=== $(date -u +%FT%TZ) $script start" >>"$log_file"
  nohup "$@" >>"$log_file" 2>&1 </dev/null &
  echo $! >"$pid_file"

  wait_http_ready "$what" "$pid_file" "$url/-/ready" "$timeout" "$log_file"
  log "$what ready in $((SECONDS - t0))s (pid $(cat "$pid_file")): $url$note"
}
