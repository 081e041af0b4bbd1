#!/usr/bin/env bash
# Every benchmark: bench/bench_*.py, each writing JSON under bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
for b in bench/bench_*.py; do
  echo "== $b"
  "$VENV/bin/python" "$b"
done
"$VENV/bin/python" bench/merge_results.py
