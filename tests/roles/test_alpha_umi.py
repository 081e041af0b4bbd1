"""The α-UMi compatibility family renders the authors' training examples to the same input strings."""

import json
from pathlib import Path

import pytest
from workforce.core.toollearning import alpha_umi_format as alpha_umi
from workforce.core.toollearning.tooldocs import schema_from_toolbench, toolbench_doc

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "alpha-umi" / "train-example"
ROLES = ("planner", "caller", "summarizer", "backbone")


def _records(role: str, full: bool) -> list[dict]:
    path = SHARED / f"train_{role}.json" if full else FIXTURES / f"train_{role}_sample.json"
    return json.loads(path.read_text())


def _expected_history(role: str, record: dict) -> list[dict]:
    """The history the authors' builder rendered for this record.

    Their backbone builder reuses the previous step's input for a give-up target (a quirk of
    prepro_backbone.py): the history then ends before the last planner turn that led to a call or conclusion.
    """
    history = record["history"]
    if role == "backbone" and record["target"].endswith("\nconclusion: give up."):
        last = max(
            i
            for i, t in enumerate(history)
            if t["from"] == "assistant"
            and i + 1 < len(history)
            and history[i + 1]["from"] in ("caller", "conclusion")
        )
        return history[:last]
    return history


def _render(role: str, record: dict, via_schema: bool) -> str:
    docs = record["tools"]
    if via_schema:  # through our JSON-schema form and back: what the services do
        docs = [toolbench_doc(d["Name"], d["function"], schema_from_toolbench(d["input"])) for d in docs]
    thought = record["history"][-1]["value"] if role == "caller" else ""
    return alpha_umi.render(role, docs, _expected_history(role, record), thought)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("via_schema", [False, True])
def test_renders_sample_records(role, via_schema):
    records = _records(role, full=False)
    assert records
    for i, record in enumerate(records):
        assert _render(role, record, via_schema) == record["input"], f"{role} record {i}"


@pytest.mark.skipif(not SHARED.exists(), reason="../shared data not present")
@pytest.mark.parametrize(
    "role,count", [("planner", 79), ("caller", 59), ("summarizer", 14), ("backbone", 79)]
)
def test_renders_every_shared_record(role, count):
    records = _records(role, full=True)
    assert len(records) == count
    for i, record in enumerate(records):
        assert _render(role, record, via_schema=True) == record["input"], f"{role} record {i}"


def test_model_prompt_has_the_training_prefix():
    assert alpha_umi.model_prompt("x assistant: ") == "system: x assistant: "


def test_unknown_role_is_a_clear_error():
    with pytest.raises(ValueError, match="no role 'judge'"):
        alpha_umi.render("judge", [], [])


def test_doc_truncation_rules():
    doc = toolbench_doc(
        "n" * 70 + "_tail", "d" * 300, {"properties": {"q": {"type": "string", "description": "x"}}}
    )
    assert doc["Name"] == ("n" * 70 + "_tail")[-64:]
    assert doc["function"] == "d" * 256
    assert doc["input"] == {"q": "string, x"}
