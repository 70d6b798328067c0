#!/usr/bin/env bash
# Headless Chromium for Kingmaker's browser checks of the Temporal Web UI (deploy/temporal-ui):
# Debian's `chromium` package, installed by apt-get unless a Chromium is already on PATH.
#
#   scripts/chromium.sh install|path|version|dump URL|shot URL FILE.png [WxH]
#
#   install  install Debian's chromium (as root, apt-get) unless one is on PATH
#   path     print the binary the tests use ($CHROMIUM, else chromium/chromium-browser on PATH)
#   version  print its version
#   dump     print the DOM of URL after its scripts ran (--dump-dom)
#   shot     save a PNG screenshot of URL (window WxH, default 1400x900)
#
# Environment: CHROMIUM (binary to use), CHROMIUM_BUDGET_MS (virtual time budget for dump and
# shot, default 15000), CHROMIUM_TIMEOUT (seconds before a dump or shot is killed, default 60).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

BUDGET_MS=${CHROMIUM_BUDGET_MS:-15000}
TIMEOUT=${CHROMIUM_TIMEOUT:-60}

usage() {
  cat >&2 <<EOF
usage: $(basename "$0") install|path|version|dump URL|shot URL FILE.png [WxH]
  install  install Debian's chromium package (apt-get, as root) unless chromium is on PATH
  path     print the Chromium binary
  version  print its version
  dump     print the rendered DOM of URL (headless, --dump-dom)
  shot     write a PNG screenshot of URL to FILE.png (window WxH, default 1400x900)
EOF
  exit 2
}

# find_chromium: print the binary, or nothing.
find_chromium() {
  if [ -n "${CHROMIUM:-}" ]; then
    command -v "$CHROMIUM" 2>/dev/null || true
    return 0
  fi
  local name
  for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
}

version() { "$1" --version 2>/dev/null | head -n 1; }

cmd_install() {
  local bin
  bin=$(find_chromium)
  if [ -z "$bin" ] && [ -n "${CHROMIUM:-}" ]; then
    die "CHROMIUM=$CHROMIUM is not an executable on PATH; unset it to install Debian's chromium"
  fi
  if [ -n "$bin" ]; then
    log "chromium already installed: $bin ($(version "$bin"))"
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "chromium is not on PATH; install it (Debian/Ubuntu as root: apt-get install -y --no-install-recommends chromium; elsewhere any Chromium or Chrome, then point CHROMIUM at it), then run scripts/chromium.sh again"
  fi
  local t0=$SECONDS
  apt_install chromium
  bin=$(find_chromium)
  [ -n "$bin" ] || die "package chromium installed but no chromium on PATH"
  log "installed in $((SECONDS - t0))s: $bin ($(version "$bin"))"
}

need_chromium() {
  local bin
  bin=$(find_chromium)
  if [ -z "$bin" ]; then
    [ -z "${CHROMIUM:-}" ] || die "CHROMIUM=$CHROMIUM is not an executable on PATH"
    die "chromium not found; run scripts/chromium.sh install"
  fi
  echo "$bin"
}

# run_headless ARGS...: Chromium headless with the flags this machine needs (no sandbox as root, no
# GPU, no network of its own beyond the page, a throwaway profile), killed after $TIMEOUT seconds.
run_headless() {
  local bin profile rc=0
  bin=$(need_chromium)
  profile=$(mktemp -d "${TMPDIR:-/tmp}/kingmaker-chromium.XXXXXX")
  timeout --kill-after=5 "$TIMEOUT" "$bin" \
    --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --disable-dev-shm-usage --hide-scrollbars --mute-audio \
    --user-data-dir="$profile" \
    --virtual-time-budget="$BUDGET_MS" \
    "$@" || rc=$?
  rm -rf "$profile"
  return "$rc"
}

cmd_dump() {
  [ $# -eq 1 ] || usage
  run_headless --dump-dom "$1" 2>/dev/null
}

cmd_shot() {
  if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
  local url=$1 out=$2 size=${3:-1400x900}
  case $out in /*) ;; *) out=$PWD/$out ;; esac
  rm -f "$out"
  run_headless --window-size="${size/x/,}" --screenshot="$out" "$url" 2>/dev/null
  [ -s "$out" ] || die "no screenshot written to $out"
  log "wrote $out ($(wc -c <"$out") bytes)"
}

case ${1:-} in
  install) cmd_install ;;
  path) need_chromium ;;
  version) version "$(need_chromium)" ;;
  dump) shift && cmd_dump "$@" ;;
  shot) shift && cmd_shot "$@" ;;
  *) usage ;;
esac
