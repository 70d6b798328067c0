#!/usr/bin/env bash
# The Python external trainer's venv (examples/python-trainer): Python's temporalio SDK,
# cassandra-driver, scikit-learn and skl2onnx at the versions requirements.txt pins.
#
#   scripts/python-trainer.sh check|install|python
#
# The venv goes to $KINGMAKER_PYTHON_TRAINER_VENV (default examples/python-trainer/.venv). check
# exits 0 when the venv has the pinned packages, 3 otherwise; python prints the venv's python, which
# the Go test of the example (cmd/kingmaker, build tag onnx) runs the trainer with.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
REQ=$ROOT/examples/python-trainer/requirements.txt
VENV=${KINGMAKER_PYTHON_TRAINER_VENV:-$ROOT/examples/python-trainer/.venv}
PY=$VENV/bin/python

usage() {
  echo "usage: $(basename "$0") check|install|python" >&2
  exit 2
}

cmd_check() {
  if [ -x "$PY" ] && [ -f "$VENV/requirements.txt" ] && cmp -s "$REQ" "$VENV/requirements.txt" &&
    "$PY" -c 'import temporalio, cassandra.cluster, sklearn, skl2onnx, pandas' 2>/dev/null; then
    echo "python-trainer: $PY"
    return 0
  fi
  echo "python-trainer: no venv with the pinned packages at $VENV (scripts/python-trainer.sh install)" >&2
  return 3
}

cmd_install() {
  if cmd_check >/dev/null 2>&1; then
    cmd_check
    return 0
  fi
  command -v python3 >/dev/null || { echo "python-trainer: python3 is not installed" >&2; exit 1; }
  python3 -m venv "$VENV"
  "$PY" -m pip install --quiet --disable-pip-version-check -r "$REQ"
  cp "$REQ" "$VENV/requirements.txt"
  cmd_check
}

case "${1:-}" in
  check) cmd_check ;;
  install) cmd_install ;;
  python) echo "$PY" ;;
  *) usage ;;
esac
