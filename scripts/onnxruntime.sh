#!/usr/bin/env bash
# ONNX Runtime's C library for models registered with --format onnx (trainer/onnx.go, build tag
# onnx). ONNX Runtime is not packaged by Debian; its shared library ships inside the `onnxruntime`
# wheel on PyPI. This script downloads the pinned wheel with pip (no Python package is installed),
# checks its SHA-256 and takes libonnxruntime.so out of it.
#
#   scripts/onnxruntime.sh check|install|path
#
# The library goes to $KINGMAKER_ONNXRUNTIME_DIR (default ~/.cache/kingmaker/onnxruntime-VERSION);
# kingmaker finds it there, or at $KINGMAKER_ONNXRUNTIME_LIB. check exits 0 when it is there and
# its SHA-256 is the one install recorded, 3 otherwise.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

VERSION=1.32.0
WHEEL=onnxruntime-${VERSION}-cp311-cp311-manylinux_2_28_x86_64.whl
WHEEL_SHA256=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
DIR=${KINGMAKER_ONNXRUNTIME_DIR:-${HOME}/.cache/kingmaker/onnxruntime-${VERSION}}
LIB=$DIR/libonnxruntime.so

usage() {
  echo "usage: $(basename "$0") check|install|path" >&2
  exit 2
}

cmd_check() {
  if [ -f "$LIB" ] && [ -f "$LIB.sha256" ] && [ "$(sha256sum "$LIB" | cut -d' ' -f1)" = "$(cat "$LIB.sha256")" ]; then
    echo "onnxruntime $VERSION: $LIB (go build -tags onnx)"
    return 0
  fi
  echo "onnxruntime: not installed at $LIB: run scripts/onnxruntime.sh install"
  return 3
}

cmd_install() {
  cmd_check >/dev/null && { log "onnxruntime $VERSION already at $LIB"; return 0; }
  [ "$(uname -sm)" = "Linux x86_64" ] || die "the pinned wheel is for Linux x86_64; elsewhere take libonnxruntime from https://github.com/microsoft/onnxruntime/releases and set KINGMAKER_ONNXRUNTIME_LIB"
  local py tmp
  py=$(command -v python3) || die "python3 is needed to download the wheel with pip"
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" RETURN
  local pip=("$py" -m pip)
  if ! "$py" -m pip --version >/dev/null 2>&1; then
    # Debian's python3 has no pip of its own: a throwaway venv has one.
    "$py" -m venv "$tmp/venv" || die "python3 has neither pip nor venv (Debian: apt-get install python3-venv)"
    pip=("$tmp/venv/bin/pip")
  fi
  "${pip[@]}" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 \
    "onnxruntime==$VERSION" -d "$tmp" || die "pip could not download onnxruntime==$VERSION"
  [ -f "$tmp/$WHEEL" ] || die "pip downloaded $(ls "$tmp"), not $WHEEL"
  local got
  got=$(sha256sum "$tmp/$WHEEL" | cut -d' ' -f1)
  [ "$got" = "$WHEEL_SHA256" ] || die "$WHEEL has SHA-256 $got, want $WHEEL_SHA256: refusing it"
  mkdir -p "$DIR"
  "$py" - "$tmp/$WHEEL" "$LIB" "$VERSION" <<'PY'
import shutil, sys, zipfile
wheel, dest, version = sys.argv[1:]
with zipfile.ZipFile(wheel) as z, z.open(f"onnxruntime/capi/libonnxruntime.so.{version}") as src, open(dest, "wb") as out:
    shutil.copyfileobj(src, out)
PY
  sha256sum "$LIB" | cut -d' ' -f1 >"$LIB.sha256"
  log "onnxruntime $VERSION installed at $LIB"
}

case ${1:-} in
  check) cmd_check ;;
  install) cmd_install ;;
  path) echo "$LIB" ;;
  *) usage ;;
esac
