#!/usr/bin/env bash
# Trainers: OpenRLHF (DPO) in its own venv (.venv-openrlhf), because it pins deepspeed, transformers,
# ray and flash-attn to versions of its own. (DeepSpeed + peft for SFT are in the main venv's `train` extra.)
# CPU-only machine: torch is the CPU wheel 2.13.0 everywhere, DeepSpeed builds with no ops
# (DS_BUILD_OPS=0) and flash-attn is packaged without its CUDA kernels (OpenRLHF imports it, CPU runs
# never call it). Idempotent: a second run only re-checks the pins.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
ORLHF_VENV=${ORLHF_VENV:-.venv-openrlhf}
PY=${PY:-python3.11}

TORCH_PIN=torch==2.13.0
OPENRLHF_PIN=openrlhf==0.11.2
# The versions openrlhf 0.11.2 requires (its METADATA): deepspeed==0.19.6, flash-attn==2.8.3,
# transformers==5.15.0, ray[default]==2.55.0.
FLASH_ATTN_PIN=flash-attn==2.8.3
OPENRLHF_DEEPSPEED_PIN=deepspeed==0.19.6

export DS_BUILD_OPS=0 DS_SKIP_CUDA_CHECK=1

# --- main venv: the `train` extra (30-train-data.sh installs it; deepspeed, peft, datasets among it).
"$VENV/bin/python" -c "import deepspeed, peft, datasets" || {
  echo "the main venv lacks the train extra: run scripts/setup.d/30-train-data.sh first" >&2
  exit 1
}

# --- OpenRLHF venv.
[ -x "$ORLHF_VENV/bin/python" ] || "$PY" -m venv "$ORLHF_VENV"
OPIP="$ORLHF_VENV/bin/pip"
CONSTRAINTS=$(mktemp)
trap 'rm -f "$CONSTRAINTS"' EXIT
echo "$TORCH_PIN" >"$CONSTRAINTS"
"$OPIP" install -q --upgrade pip
# torch first: every later build (deepspeed, flash-attn) compiles against the CPU wheel already here.
"$OPIP" install -q -c "$CONSTRAINTS" "$TORCH_PIN" setuptools wheel packaging psutil ninja numpy
installed() { "$ORLHF_VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('$1') != '$2')" 2>/dev/null; }
# (flash_attn cannot be imported here: its package __init__ loads the CUDA kernels it was built without.)
if ! installed flash-attn 2.8.3; then
  FLASH_ATTENTION_SKIP_CUDA_BUILD=TRUE FLASH_ATTENTION_FORCE_BUILD=TRUE \
    "$OPIP" install -q --no-build-isolation --no-deps "$FLASH_ATTN_PIN"
fi
if ! installed deepspeed 0.19.6; then
  "$OPIP" install -q -c "$CONSTRAINTS" --no-build-isolation "$OPENRLHF_DEEPSPEED_PIN"
fi
"$OPIP" install -q -c "$CONSTRAINTS" "$OPENRLHF_PIN" pytest==9.2.0 pytest-timeout==2.4.0
"$ORLHF_VENV/bin/python" -c "import openrlhf, torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
