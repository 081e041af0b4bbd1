#!/usr/bin/env bash
# The peer benchmark's own virtualenv: CAMEL Workforce (camel-ai 0.2.90), never installed into the project's venv.
# Usage: bash bench/setup_camel_venv.sh  [CAMEL_VENV=.bench-venvs/camel] [PYTHON=python3]
set -euo pipefail
cd "$(dirname "$0")/.."
CAMEL_VENV=${CAMEL_VENV:-.bench-venvs/camel}
PYTHON=${PYTHON:-python3}
if [ -x "$CAMEL_VENV/bin/python" ] && "$CAMEL_VENV/bin/python" -c "import camel, mcp" 2>/dev/null; then
  echo "camel venv ready: $CAMEL_VENV"; exit 0
fi
"$PYTHON" -m venv "$CAMEL_VENV"
"$CAMEL_VENV/bin/pip" install -q --upgrade pip
"$CAMEL_VENV/bin/pip" install -q "camel-ai==0.2.90" "mcp>=1.3,<2"
"$CAMEL_VENV/bin/python" -c "import camel; print('camel', camel.__version__)"
echo "camel venv ready: $CAMEL_VENV"
