"""A trained planner → one GGUF file the model server (llama.cpp) serves as it is.

The base GGUF is copied — its metadata (architecture, tokenizer, chat template) and every tensor training did
not touch, still in its own quantization — and each tensor the training changed (after merging the LoRA
adapters, usually the attention projections LoRA targeted) is written in float32 from the trained weights.
Why a merged file rather than a GGUF LoRA adapter: llama.cpp applies an adapter only when a request names it
in a `lora` field, which no OpenAI client sends; a merged file is served under its own model name by an
unchanged model server, and any OpenAI-compatible client (the planner) can use it.

llama.cpp's converter stores the query and key projections of llama-family models with the rows of each
head interleaved for its rotary embedding (transformers undoes this when it loads a GGUF); changed q/k
weights get the same permutation here. Supported architectures: PERMUTED (llama) and UNPERMUTED.
"""

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
PERMUTED = {"llama"}  # q/k rows interleaved per head by llama.cpp's converter
UNPERMUTED = {"qwen2", "qwen3", "mistral3"}


class ExportError(ValueError):
    """The trained model does not fit the base GGUF (other architecture, shapes or names)."""


def _field(reader, key: str):
    field = reader.get_field(key)
    return field.contents() if field is not None else None


def _permute(weights: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's `permute` of a q or k projection (rows = heads × head_dim)."""
    rows = weights.shape[0]
    return (weights.reshape(n_head, 2, rows // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def changed_tensors(base_state: dict, trained_state: dict, *, atol: float = 0.0) -> dict:
    """HF name → trained tensor, for every tensor that differs from the base (same names and shapes required)."""
    missing = sorted(set(base_state) ^ set(trained_state))
    if missing:
        raise ExportError(f"the trained model's tensors differ in names from the base: {missing[:5]}")
    changed = {}
    for name, tensor in trained_state.items():
        base = base_state[name]
        if tuple(base.shape) != tuple(tensor.shape):
            raise ExportError(f"{name}: shape {tuple(tensor.shape)} ≠ base {tuple(base.shape)}")
        if (tensor.float() - base.float()).abs().max().item() > atol:
            changed[name] = tensor
    return changed


def export_merged_gguf(base_gguf: str | Path, base_state: dict, trained_state: dict, out_path: str | Path,
                       *, name: str = "") -> dict:
    """Write `out_path`; returns what was replaced. `*_state`: HF state dicts (torch tensors)."""
    import gguf

    reader, arch, n_head, n_head_kv, names = base_layout(base_gguf)

    replaced: dict[str, np.ndarray] = {}
    for hf_name, tensor in changed_tensors(base_state, trained_state).items():
        if hf_name == "lm_head.weight" and "lm_head.weight" not in {t.name for t in reader.tensors}:
            if "model.embed_tokens.weight" in trained_state:
                continue  # tied to the embeddings: written (or not) with them
        gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        if gguf_name is None:
            raise ExportError(f"{hf_name}: no GGUF name for it in a {arch} model")
        data = tensor.detach().float().cpu().numpy()
        if arch in PERMUTED and gguf_name.endswith("attn_q.weight"):
            data = _permute(data, n_head)
        elif arch in PERMUTED and gguf_name.endswith("attn_k.weight"):
            data = _permute(data, n_head_kv)
        replaced[gguf_name] = np.ascontiguousarray(data, dtype=np.float32)
    present = {t.name for t in reader.tensors}
    unknown = sorted(set(replaced) - present)
    if unknown:
        raise ExportError(f"the base GGUF has no tensors {unknown[:5]}")

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch=arch, endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        value = field.contents()
        if field.name == gguf.Keys.General.NAME and name:
            value = name
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, kind, sub_type=sub)
    for tensor in reader.tensors:
        if tensor.name in replaced:
            data = replaced[tensor.name]
            if tuple(data.shape) != tuple(int(d) for d in reversed(tensor.shape)):
                raise ExportError(f"{tensor.name}: trained shape {data.shape} ≠ GGUF shape {tuple(tensor.shape)}")
            writer.add_tensor_info(tensor.name, data.shape, data.dtype, data.nbytes, gguf.GGMLQuantizationType.F32)
        else:
            writer.add_tensor_info(tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes,
                                   tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(replaced.get(tensor.name, tensor.data), tensor_endianess=reader.endianess)
    writer.close()
    tmp.replace(out_path)
    log.info("wrote %s: %d tensors replaced in float32, the rest as in %s", out_path, len(replaced), base_gguf)
    return {"path": str(out_path), "bytes": out_path.stat().st_size, "replaced": sorted(replaced)}


def load_state(model_dir: str | Path) -> dict:
    """The tensors of a saved transformers model (safetensors, one or more shards)."""
    from safetensors.torch import load_file

    files = sorted(Path(model_dir).glob("*.safetensors"))
    if not files:
        raise ExportError(f"{model_dir}: no .safetensors weights")
    state = {}
    for f in files:
        state.update(load_file(str(f)))
    return state


def base_layout(base_gguf):
    """The base GGUF's reader, architecture, head counts and HF → GGUF tensor-name map (supported ones only)."""
    import gguf

    reader = gguf.GGUFReader(str(base_gguf))
    arch = _field(reader, gguf.Keys.General.ARCHITECTURE)
    if arch not in PERMUTED | UNPERMUTED:
        raise ExportError(f"{base_gguf}: architecture {arch!r} is not supported (only {sorted(PERMUTED | UNPERMUTED)})")
    blocks = int(_field(reader, f"{arch}.block_count"))
    n_head = int(_field(reader, f"{arch}.attention.head_count"))
    n_head_kv = int(_field(reader, f"{arch}.attention.head_count_kv") or n_head)
    return reader, arch, n_head, n_head_kv, gguf.get_tensor_name_map(gguf.MODEL_ARCH[arch.upper()], blocks)
