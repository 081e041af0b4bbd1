#!/usr/bin/env bash
# Every benchmark: bench/bench_*.py, each writing JSON under bench/results/.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
# The orchestration benchmark's peer case runs CAMEL Workforce from its own virtualenv; without it (no registry
# reachable) that case is reported as skipped, with the reason, and everything else still runs.
bash bench/setup_camel_venv.sh || echo "CAMEL virtualenv not created: the peer case will be skipped"
for b in bench/bench_*.py; do
  echo "== $b"
  "$VENV/bin/python" "$b"
done
"$VENV/bin/python" bench/merge_results.py
