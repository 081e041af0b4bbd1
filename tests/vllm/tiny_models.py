"""A tiny random base model and LoRA role adapters on disk, built without any download, for a real vLLM.

vLLM's CPU attention needs head_dim >= 32: hidden size 128 with 4 heads (2 KV heads) gives 32. The
tokenizer is a byte-level BPE trained here with the `tokenizers` library, so every byte (hence every
JSON character) has a token, which grammar-constrained decoding needs. It has a ChatML-style chat
template and the Hermes `<tool_call>` tokens, so the server can run with `--tool-call-parser hermes`.
The adapters are peft LoRA checkpoints (adapter_config.json + adapter_model.safetensors), the layout
`--lora-modules name=<dir>` loads; they are trained on one scripted episode (role_adapters.py).
"""

from pathlib import Path

LORA_RANK = 8

CHAT_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n<tools>{% for tool in tools %}{{ tool | tojson }}{% endfor %}"
    "</tools><|im_end|>\n{% endif %}"
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% endif %}"
    "{% for call in message.get('tool_calls') or [] %}"
    "<tool_call>{{ call['function'] | tojson }}</tool_call>{% endfor %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>", "</tool_call>"]

CORPUS = [
    "Thought: I should call the weather tool to get the forecast for Berlin. Next: caller",
    "Action: get_weather\nAction Input: {\"city\": \"Berlin\", \"days\": 3}",
    "Observation: {\"temperature\": 21.5, \"unit\": \"C\", \"sky\": \"clear\"}",
    "I have enough information to answer the question. Next: conclusion",
    "I cannot do this. Next: give up",
    "Final answer: the forecast for Berlin is clear with 21.5 degrees.",
    '{"thought": "search first", "next": "caller", "action": "search", "arguments": {"query": "x", "n": 2}}',
    '{"answer": "The answer is 42.", "ok": true, "value": null, "x": -1.5e3, "items": [1, 2, 3]}',
    "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ !?.,;:'()[]{}<>/\\|@#$%^&*_+=~`-",
]


def build_tokenizer(path: Path, vocab_size: int = 1024):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    core.train_from_iterator(CORPUS * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>", additional_special_tokens=["<|im_start|>"])
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(path)
    return tokenizer


def build_base_model(path, *, seed: int = 0) -> Path:
    """Tokenizer, config and float32 weights of a random 2-layer Qwen2 model in `path`."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = build_tokenizer(path)
    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=128, intermediate_size=256, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192, tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, torch_dtype="float32",
        initializer_range=0.2,  # 10x the default: sharper logits, so a trained adapter wins by a wide margin
    )
    model = Qwen2ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(path)
    return path


def build_all(root) -> dict[str, Path]:
    """The base model and the trained planner, caller and summarizer adapters (role_adapters.py) under
    `root`; returns their directories by served name ("base" for the base model)."""
    from .role_adapters import examples, train_adapter

    root = Path(root)
    base = build_base_model(root / "base")
    models = {"base": base}
    for role, pairs in examples().items():
        models[role] = train_adapter(base, root / f"lora-{role}", pairs, seed=2)
    return models


if __name__ == "__main__":
    import sys

    print(build_all(sys.argv[1]))
