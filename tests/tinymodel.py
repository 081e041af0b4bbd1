"""A tiny random chat model on disk, built without any download (for tests of the embedded model).

`make_tiny_chat_model(path)` trains a byte-level BPE tokenizer on a few hundred characters of prose and
JSON with the `tokenizers` library, wraps it as a `PreTrainedTokenizerFast` with a ChatML-style chat
template, builds a randomly initialised Qwen2 model (hidden size 64, 2 layers, 2 heads) and saves
both with `save_pretrained`. Its output is random, which is the point: constrained decoding must
still produce schema-valid JSON from it.
"""

from pathlib import Path

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

CORPUS = [
    "You are the planner of a workforce. Split the task into subtasks for the workers.",
    "Search the web for the population of Paris, then write a short summary of the answer.",
    "Read the attached document and extract the table; compute the total with Python code.",
    '{"subtasks": [{"id": "1", "content": "Search the web", "dependencies": []},',
    ' {"id": "2", "content": "Summarise the results", "dependencies": ["1"]}]}',
    '{"assignments": [{"task_id": "t.1", "assignee_id": "worker-web", "dependencies": []}]}',
    '{"tool_calls": [{"name": "search", "arguments": {"query": "weather in Berlin", "n": 3}}]}',
    '{"content": "The answer is 42.", "ok": true, "value": null, "x": -1.5e3}',
    "Answer: 0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "!?.,;:'()[]{}<>/\\|@#$%^&*_+=~`-",
]


def make_tiny_chat_model(path, *, seed: int = 0, vocab_size: int = 400) -> Path:
    """Write a tiny random chat model (tokenizer, config, weights) to `path` and return it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(CORPUS, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        additional_special_tokens=["<|im_start|>"],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(path)

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    model.save_pretrained(path)
    return path
