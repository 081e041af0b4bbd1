"""The one builder of tiny random models for the tests (no downloads): a byte-level BPE tokenizer trained here
with `tokenizers` (every byte has a token, which grammar-constrained decoding needs) and a random 2-layer
Qwen2, saved together so that `from_pretrained(path)` loads both.

Two sizes:
- TRAINER (the trainer tests): hidden 64, 2 heads / 1 KV head, head_dim 32, a plain ChatML template;
- VLLM (tests/vllm, a real vLLM server): hidden 128, 4 heads / 2 KV heads (head_dim 32: vLLM's CPU attention
  needs >= 32), tied embeddings, drawn with `initializer_range=0.2` (10x the default: sharper logits, so a
  trained adapter wins by a wide margin), and a ChatML template with the Hermes `<tool_call>` tokens so that
  the server can run with `--tool-call-parser hermes`.

The trainer tests import this file by path (`import tiny_models`, not `tests.…`): OpenRLHF installs a
top-level `tests` package of its own.
"""

from dataclasses import dataclass, field
from pathlib import Path

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CHATML_TOOLS = (
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
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TRAINER_CORPUS = [
    "You are the planner. Split the task into subtasks for the workers.",
    "<tasks><task>Search the web for the population of Paris.</task><task>Answer with a number.</task></tasks>",
    'Action: get_weather\nAction Input: {"city": "Paris"}',
    "Next: caller. Next: conclusion. Next: give up. system: user: assistant: caller: observation: conclusion:",
    "Retrieve[Paris] Lookup[population] Finish[2102650] Reflect[right] ### Response:",
    "The quick brown fox jumps over the lazy dog 0123456789 {}[]():,.;!?\"'",
]
ROLE_CORPUS = [
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


@dataclass(frozen=True)
class Size:
    """A tokenizer and a Qwen2 configuration (the keyword arguments of Qwen2Config besides the token ids)."""

    vocab_size: int
    corpus: list[str]
    special_tokens: list[str]
    chat_template: str
    config: dict = field(default_factory=dict)


TRAINER = Size(
    400,
    TRAINER_CORPUS,
    SPECIAL,
    CHATML,
    dict(
        hidden_size=64,
        intermediate_size=128,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=1024,
        tie_word_embeddings=False,
        bos_token_id=None,
    ),
)
VLLM = Size(
    1024,
    ROLE_CORPUS,
    [*SPECIAL, "<tool_call>", "</tool_call>"],
    CHATML_TOOLS,
    dict(
        hidden_size=128,
        intermediate_size=256,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        torch_dtype="float32",
        initializer_range=0.2,
    ),
)


def make_tokenizer(path: Path, size: Size = TRAINER):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=size.vocab_size,
        special_tokens=size.special_tokens,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(size.corpus * 4, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = size.chat_template
    tokenizer.save_pretrained(path)
    return tokenizer


def make_tiny_model(path: str | Path, seed: int = 0, size: Size = TRAINER, **overrides) -> Path:
    """Writes a random 2-layer Qwen2 of `size` (float32) and its tokenizer to `path`."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tokenizer(path, size)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        num_hidden_layers=2,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **(size.config | overrides),
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(path)
    return path
