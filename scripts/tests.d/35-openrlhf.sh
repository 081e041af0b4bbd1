#!/usr/bin/env bash
# DPO with OpenRLHF itself, in its own environment (.venv-openrlhf, made by scripts/setup.d/35-openrlhf.sh).
# OpenRLHF installs a top-level `tests` package into site-packages, which would shadow this repository's
# `tests` package: the test file is collected with --import-mode=importlib from tests/training as rootdir,
# and it imports its fixtures by path, so no `tests.…` import is ever resolved.
set -euo pipefail
cd "$(dirname "$0")/../.."
ORLHF_VENV=${ORLHF_VENV:-.venv-openrlhf}
if [ ! -x "$ORLHF_VENV/bin/python" ]; then
  echo "$ORLHF_VENV is missing: run scripts/setup.d/35-openrlhf.sh (make setup)" >&2
  exit 1
fi
export PYTHONPATH="$PWD/training-jobs${PYTHONPATH:+:$PYTHONPATH}"
exec "$ORLHF_VENV/bin/python" -m pytest -q -p no:cacheprovider --import-mode=importlib \
  --rootdir tests/training -c /dev/null -o timeout=1500 \
  tests/training/test_trainers_openrlhf.py "$@"
