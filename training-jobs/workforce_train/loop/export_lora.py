"""A peft LoRA adapter → a GGUF LoRA adapter that llama.cpp (the model server) loads on its base GGUF.

The file is what llama.cpp's `convert_lora_to_gguf.py` writes: `general.type = adapter`, `adapter.type = lora`,
`adapter.lora.alpha`, `adapter.lora.task_name` (the name it is served under), the base's architecture, and for every adapted linear layer `<gguf name>.lora_a` (r × in)
and `<gguf name>.lora_b` (out × r) in float32. The tensor names come from the same map as the merged export
(export_gguf); for llama-family models the rows of the query / key projections are interleaved per head in the
base GGUF, so `lora_b` of q and k gets the same permutation (A is unchanged: the permutation acts on outputs).
Served by the model server with `WF_MODEL_SERVER_LORA=name=path.gguf,…` (scale 0 until a request asks for it).
"""

import json
import logging
from pathlib import Path

import numpy as np

from .export_gguf import PERMUTED, ExportError, _permute, base_layout

log = logging.getLogger(__name__)
PEFT_PREFIX = "base_model.model."


def _adapter_pairs(state: dict) -> dict[str, dict]:
    """HF module name (`model.layers.0.self_attn.q_proj`) → {"a": tensor, "b": tensor}."""
    pairs: dict[str, dict] = {}
    for key, tensor in state.items():
        for part, slot in ((".lora_A.", "a"), (".lora_B.", "b")):
            if part in key:
                module = key.split(part)[0]
                module = module[len(PEFT_PREFIX):] if module.startswith(PEFT_PREFIX) else module
                pairs.setdefault(module, {})[slot] = tensor
    incomplete = sorted(m for m, p in pairs.items() if set(p) != {"a", "b"})
    if incomplete:
        raise ExportError(f"LoRA tensors without their A or B half: {incomplete[:5]}")
    if not pairs:
        raise ExportError("the adapter holds no lora_A / lora_B tensors")
    return pairs


def export_lora_gguf(base_gguf: str | Path, adapter_dir: str | Path, out_path: str | Path, *, name: str = "") -> dict:
    """Write `out_path` from a peft adapter directory (adapter_config.json + adapter_model.safetensors)."""
    import gguf
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    config = json.loads((adapter_dir / "adapter_config.json").read_text())
    if config.get("peft_type") != "LORA":
        raise ExportError(f"{adapter_dir}: peft_type {config.get('peft_type')!r} is not LORA")
    alpha = float(config.get("lora_alpha") or config.get("r") or 1)
    pairs = _adapter_pairs(load_file(str(adapter_dir / "adapter_model.safetensors")))

    reader, arch, n_head, n_head_kv, names = base_layout(base_gguf)
    shapes = {t.name: tuple(int(d) for d in reversed(t.shape)) for t in reader.tensors}  # (out, in)

    tensors: dict[str, np.ndarray] = {}
    for module, pair in sorted(pairs.items()):
        gguf_name = names.get_name(module + ".weight", try_suffixes=(".weight",))
        if gguf_name is None or gguf_name not in shapes:
            raise ExportError(f"{module}: no tensor for it in the base GGUF ({arch})")
        a = pair["a"].detach().float().cpu().numpy()
        b = pair["b"].detach().float().cpu().numpy()
        out_dim, in_dim = shapes[gguf_name]
        if a.shape[1] != in_dim or b.shape[0] != out_dim or a.shape[0] != b.shape[1]:
            raise ExportError(f"{module}: LoRA shapes A {a.shape}, B {b.shape} do not fit the base's {shapes[gguf_name]}")
        if arch in PERMUTED and gguf_name.endswith("attn_q.weight"):
            b = _permute(b, n_head)
        elif arch in PERMUTED and gguf_name.endswith("attn_k.weight"):
            b = _permute(b, n_head_kv)
        tensors[gguf_name + ".lora_a"] = np.ascontiguousarray(a, dtype=np.float32)
        tensors[gguf_name + ".lora_b"] = np.ascontiguousarray(b, dtype=np.float32)

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch=arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, alpha)
    if name:  # also shown by the model server's GET /lora-adapters as the adapter's task_name
        writer.add_name(name)
        writer.add_string(gguf.Keys.Adapter.LORA_TASK_NAME, name)
    for tensor_name, data in tensors.items():
        writer.add_tensor(tensor_name, data)
    written = sorted({n.rsplit(".lora_", 1)[0] for n in tensors})
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out_path)
    log.info("wrote %s: LoRA (alpha %g) on %d tensors of %s", out_path, alpha, len(written), Path(base_gguf).name)
    return {"path": str(out_path), "bytes": out_path.stat().st_size, "alpha": alpha, "tensors": written,
            "rank": int(next(iter(pairs.values()))["a"].shape[0])}
