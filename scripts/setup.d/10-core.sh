#!/usr/bin/env bash
# Everything `make run` needs (scripts/setup-run.sh), plus the test tools.
set -euo pipefail
VENV=${VENV:-.venv}
VENV=$VENV bash "$(dirname "$0")/../setup-run.sh"
"$VENV/bin/pip" install -q -e ".[gateway,local,modelserver,dev,tracing]"
