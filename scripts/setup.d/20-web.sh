#!/usr/bin/env bash
# worker-web: the system Chromium that Playwright drives (browser downloads do not work here; Playwright is
# pointed at /usr/bin/chromium, WF_WEB_CHROMIUM_PATH), fonts for readable screenshots, and the `web` extra.
set -euo pipefail
VENV=${VENV:-.venv}
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends chromium fonts-liberation fonts-dejavu-core
fi
"$VENV/bin/pip" install -q -e ".[web]"
chromium --version
