#!/usr/bin/env bash
# worker-tool, the role-model services and workforce-eval: the `tool` extra (rouge, PyYAML).
set -euo pipefail
VENV=${VENV:-.venv}
"$VENV/bin/pip" install -q -e ".[tool]"
