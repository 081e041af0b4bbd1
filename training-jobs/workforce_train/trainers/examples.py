"""Training records → token ids, with the loss on the target only.

Three record formats, told apart by their keys:
- OpenAI chat: `{"messages": [...]}`; the target is the last message, which must be the assistant's;
  the prompt is the chat template of the earlier messages with the generation prompt.
- α-UMi: `{"input", "target"}`; prompt = "system: " + input (their training prefix), target = target + EOS.
- AutoAct: `{"input", "output"}`; "{input}\\n### Response:\\n{output}" + EOS, loss on the output.

Prompt and target are tokenized separately and joined, so the boundary of the loss mask is exact.
Sequences longer than `max_length` are cut on the LEFT (the α-UMi rule): the target and EOS survive.
"""

from dataclasses import dataclass
from typing import Literal

from workforce_train.io import DataError

IGNORE_INDEX = -100
ALPHA_UMI_PREFIX = "system: "
AUTOACT_TEMPLATE = "{input}\n### Response:\n"

Format = Literal["auto", "messages", "alpha_umi", "autoact"]


@dataclass(frozen=True)
class Example:
    prompt: str
    target: str
    # The chat template already closes the assistant turn (with its own end token): no extra EOS.
    add_eos: bool = True


def detect_format(record: dict) -> str:
    if "messages" in record:
        return "messages"
    if "input" in record and "target" in record:
        return "alpha_umi"
    if "input" in record and "output" in record:
        return "autoact"
    raise DataError(
        f"unknown record format (keys {sorted(record)}): expected 'messages', 'input'+'target' (α-UMi) "
        "or 'input'+'output' (AutoAct)"
    )


def to_example(record: dict, tokenizer, fmt: Format = "auto") -> Example:
    fmt = detect_format(record) if fmt == "auto" else fmt
    if fmt == "messages":
        return _chat_example(record.get("messages"), tokenizer)
    if fmt == "alpha_umi":
        _need_strings(record, "input", "target")
        return Example(ALPHA_UMI_PREFIX + record["input"], record["target"])
    if fmt == "autoact":
        _need_strings(record, "input", "output")
        return Example(AUTOACT_TEMPLATE.format(input=record["input"]), record["output"])
    raise DataError(f"unknown format {fmt!r}")


def _need_strings(record: dict, *keys: str) -> None:
    for key in keys:
        if not isinstance(record.get(key), str):
            raise DataError(f"field {key!r} must be a string")


def _chat_example(messages, tokenizer) -> Example:
    if not isinstance(messages, list) or len(messages) < 2:
        raise DataError("'messages' must be a list of at least two messages")
    for m in messages:
        if not isinstance(m, dict) or "role" not in m or not isinstance(m.get("content"), str):
            raise DataError("every message needs a 'role' and a string 'content'")
    if messages[-1]["role"] != "assistant":
        raise DataError("the last message must be the assistant's (the training target)")
    if tokenizer.chat_template is None:
        raise DataError("the tokenizer has no chat template; 'messages' records need one")
    prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not full.startswith(prompt):
        raise DataError("the chat template does not render the prompt as a prefix of the conversation")
    return Example(prompt, full[len(prompt) :], add_eos=False)


def tokenize(example: Example, tokenizer, max_length: int) -> dict:
    """input_ids / labels / attention_mask; labels are IGNORE_INDEX on the prompt."""
    prompt_ids = tokenizer(example.prompt, add_special_tokens=True)["input_ids"]
    target_ids = tokenizer(example.target, add_special_tokens=False)["input_ids"]
    if example.add_eos:
        if tokenizer.eos_token_id is None:
            raise DataError("the tokenizer has no EOS token")
        target_ids = target_ids + [tokenizer.eos_token_id]
    if not target_ids:
        raise DataError("empty target")
    input_ids = (prompt_ids + target_ids)[-max_length:]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + target_ids)[-max_length:]
    return {"input_ids": input_ids, "labels": labels, "attention_mask": [1] * len(input_ids)}


def tokenize_record(record: dict, tokenizer, max_length: int, fmt: Format = "auto") -> dict:
    return tokenize(to_example(record, tokenizer, fmt), tokenizer, max_length)
