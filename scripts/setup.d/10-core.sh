#!/usr/bin/env bash
# Core Python environment: the package with every service's dependencies and the test tools.
set -euo pipefail
VENV=${VENV:-.venv}
"$VENV/bin/pip" install -q -e ".[gateway,local,embedded,dev]"
