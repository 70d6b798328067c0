#!/usr/bin/env bash
# libxgboost for Kingmaker's "xgboost" trainer (trainer/xgboost.go, build tag xgboost): XGBoost's C
# API, Debian's libxgboost-dev (1.7 on bookworm: /usr/include/xgboost/c_api.h, libxgboost.so).
# The default build needs none of it; `go build -tags xgboost` / `go test -tags xgboost` do.
#
#   scripts/xgboost.sh check|install
#
# check exits 0 when a C compiler finds the header and links and loads the library (what cgo will
# do, with CGO_CFLAGS/CGO_LDFLAGS as given), 3 when it does not, and prints which.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

PACKAGE=libxgboost-dev

usage() {
  cat >&2 <<EOF
usage: $(basename "$0") check|install
  check    is libxgboost usable by cgo (header + shared library)? exit 0 yes, 3 no
  install  apt-get install -y --no-install-recommends $PACKAGE (as root), unless check passes
EOF
  exit 2
}

# probe compiles, links and runs a program that prints the library's version; it prints the
# version on success and the compiler's or loader's complaint on failure.
probe() {
  local cc=${CC:-cc} dir out
  command -v "$cc" >/dev/null 2>&1 || { echo "no C compiler ($cc) on PATH: cgo needs one (Debian: apt-get install gcc)"; return 1; }
  dir=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$dir'" RETURN
  cat >"$dir/probe.c" <<'EOF'
#include <stdio.h>
#include <xgboost/c_api.h>
int main(void) {
  int major, minor, patch;
  XGBoostVersion(&major, &minor, &patch);
  printf("%d.%d.%d\n", major, minor, patch);
  return 0;
}
EOF
  # shellcheck disable=SC2086 # CGO_* hold several flags
  if ! out=$("$cc" ${CGO_CFLAGS:-} "$dir/probe.c" -o "$dir/probe" ${CGO_LDFLAGS:-} -lxgboost 2>&1); then
    echo "$out" | grep -m1 -E 'xgboost|error' || echo "$out" | head -n 1
    return 1
  fi
  "$dir/probe" 2>&1 | head -n 1
}

cmd_check() {
  local out
  if out=$(probe); then
    echo "libxgboost $out: usable (go build -tags xgboost)"
    return 0
  fi
  echo "libxgboost: not usable: $out; run scripts/xgboost.sh install (Debian/Ubuntu package $PACKAGE)"
  return 3
}

cmd_install() {
  local out t0=$SECONDS
  if out=$(probe); then
    log "libxgboost $out already installed"
    return 0
  fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    die "libxgboost is not usable ($out); install it as root: apt-get install -y --no-install-recommends $PACKAGE (Debian/Ubuntu; elsewhere build XGBoost >= 1.7 with its C API and point CGO_CFLAGS/CGO_LDFLAGS at it)"
  fi
  apt_install "$PACKAGE"
  out=$(probe) || die "package $PACKAGE installed but libxgboost is still not usable: $out"
  log "libxgboost $out installed in $((SECONDS - t0))s"
}

case ${1:-} in
  check) cmd_check ;;
  install) cmd_install ;;
  *) usage ;;
esac
