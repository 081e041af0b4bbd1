"""Record formats → token ids with the loss on the target only (trainers.examples)."""

import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "trainer_fixtures"
sys.path.insert(0, str(Path(__file__).parents[1] / "support"))  # tiny_models, by path (see there)

import tiny_models
from workforce_train.io import DataError
from workforce_train.trainers.examples import IGNORE_INDEX, tokenize_record


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    return tiny_models.make_tokenizer(tmp_path_factory.mktemp("tok"))


def target_text(tok, row):
    return tok.decode([i for i, label in zip(row["input_ids"], row["labels"]) if label != IGNORE_INDEX])


def test_messages_loss_on_last_assistant_turn_only(tokenizer):
    messages = [
        {"role": "system", "content": "You are the planner."},
        {"role": "user", "content": "Paris?"},
        {"role": "assistant", "content": "<tasks><task>Search</task></tasks>"},
    ]
    row = tokenize_record({"messages": messages}, tokenizer, 512)
    assert target_text(tokenizer, row) == "<tasks><task>Search</task></tasks><|im_end|>\n"
    assert tokenizer.decode(row["input_ids"]) == tokenizer.apply_chat_template(messages, tokenize=False)
    assert len(row["input_ids"]) == len(row["labels"]) == len(row["attention_mask"])


def test_alpha_umi_prefix_eos_and_left_truncation(tokenizer):
    record = {"input": "user: weather in Paris?</s> caller: ", "target": "Action: get_weather"}
    row = tokenize_record(record, tokenizer, 512)
    assert tokenizer.decode(row["input_ids"]).startswith("system: user: weather")
    assert target_text(tokenizer, row) == "Action: get_weather<|im_end|>"
    assert row["input_ids"][-1] == tokenizer.eos_token_id

    short = tokenize_record(record, tokenizer, 8)
    assert len(short["input_ids"]) == 8
    assert short["input_ids"] == row["input_ids"][-8:]  # cut on the left: the target and EOS survive
    assert short["labels"] == row["labels"][-8:]


def test_autoact_prompt_template(tokenizer):
    row = tokenize_record({"input": "Question: who?", "output": "Action 1: Retrieve"}, tokenizer, 512)
    assert tokenizer.decode(row["input_ids"]) == "Question: who?\n### Response:\nAction 1: Retrieve<|im_end|>"
    assert target_text(tokenizer, row) == "Action 1: Retrieve<|im_end|>"


@pytest.mark.parametrize(
    "record, message",
    [
        ({"prompt": "x"}, "unknown record format"),
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "user", "content": "x"}]}, "assistant"),
        ({"messages": "hi"}, "at least two"),
        ({"input": "x", "target": 3}, "'target' must be a string"),
    ],
)
def test_bad_records_are_clear_errors(tokenizer, record, message):
    with pytest.raises(DataError, match=message):
        tokenize_record(record, tokenizer, 64)
