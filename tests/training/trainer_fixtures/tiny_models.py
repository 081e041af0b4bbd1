"""Tiny random models and tokenizers made on the spot (no downloads), for the trainer tests.

The tokenizer is a byte-level BPE trained with `tokenizers` on a few lines and wrapped as a
PreTrainedTokenizerFast with a ChatML chat template; the model is a Qwen2 with hidden size 64,
2 layers and head_dim 32, saved next to the tokenizer so it loads with `from_pretrained(path)`.
Imported by path (not as `tests.…`): OpenRLHF installs a top-level `tests` package of its own.
"""

from pathlib import Path

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = [
    "You are the planner. Split the task into subtasks for the workers.",
    "<tasks><task>Search the web for the population of Paris.</task><task>Answer with a number.</task></tasks>",
    'Action: get_weather\nAction Input: {"city": "Paris"}',
    "Next: caller. Next: conclusion. Next: give up. system: user: assistant: caller: observation: conclusion:",
    "Retrieve[Paris] Lookup[population] Finish[2102650] Reflect[right] ### Response:",
    "The quick brown fox jumps over the lazy dog 0123456789 {}[]():,.;!?\"'",
]


def make_tokenizer(path: Path):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=SPECIAL, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 4, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    fast.chat_template = CHATML
    fast.save_pretrained(path)
    return fast


def make_tiny_model(path: str | Path, seed: int = 0, **overrides) -> Path:
    """Writes a random Qwen2 (hidden 64, 2 layers, head_dim 32) and its tokenizer to `path`."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tokenizer(path)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=32,
        max_position_embeddings=1024,
        tie_word_embeddings=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
        **overrides,
    )
    torch.manual_seed(seed)
    Qwen2ForCausalLM(config).save_pretrained(path)
    return path
