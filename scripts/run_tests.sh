#!/usr/bin/env bash
# The test suite: the main suite in .venv, then every extra suite in scripts/tests.d (own environments).
set -uo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
status=0
"$VENV/bin/python" -m pytest -p no:cacheprovider "$@" || status=$?
for suite in scripts/tests.d/*.sh; do
  [ -e "$suite" ] || continue
  echo "== $suite"
  VENV=$VENV bash "$suite" || status=1
done
exit $status
