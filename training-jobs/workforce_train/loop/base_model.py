"""The planner's base weights as a transformers model: the GGUF file the model server serves, dequantized by
transformers (`from_pretrained(dir, gguf_file=…)`, needs the `gguf` package) and saved once as a plain
safetensors checkpoint with its tokenizer (chat template included), so that the SFT and DPO trainers can
load it like any other model. A finished conversion leaves `conversion.json` and is reused."""

import json
import logging
import time
from pathlib import Path

log = logging.getLogger(__name__)
MARKER = "conversion.json"


def hf_from_gguf(gguf_path: str | Path, out_dir: str | Path) -> Path:
    """`out_dir` holding the dequantized model (float32) and tokenizer; converted unless already there."""
    gguf_path, out_dir = Path(gguf_path).resolve(), Path(out_dir)
    marker = out_dir / MARKER
    if marker.is_file() and json.loads(marker.read_text()).get("gguf") == str(gguf_path):
        return out_dir
    if not gguf_path.is_file():
        raise FileNotFoundError(f"{gguf_path}: no such GGUF file")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    # The weights are plain float32 tensors now; the GGUF "quantizer" only blocks save_pretrained.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    seconds = round(time.monotonic() - started, 2)
    marker.write_text(json.dumps({"gguf": str(gguf_path), "seconds": seconds}))
    log.info("dequantized %s into %s in %.1f s", gguf_path.name, out_dir, seconds)
    return out_dir
