"""OWL planner data end to end: the dataset runner through the real gateway (every service its own process,
the scripted LLM as the model) → GAIA scoring → SFT examples and DPO pairs in OpenAI / OpenRLHF /
LLaMA-Factory formats. The scripted planner writes a different plan per sample of "Capital of France?"
(two via Paris, one via Lyon, one via Marseille) and its answer follows the plan, so which plan led to a
right answer is known."""

import json

import pytest

from tests.e2e.conftest import system  # noqa: F401  (the module-scoped whole-system fixture)
from tests.support.system import API_KEY
from workforce_train.cli import main
from workforce_train.io import read_json, read_jsonl

pytestmark = pytest.mark.e2e
VIA = {"Paris": 2, "Lyon": 1, "Marseille": 1}


def script(system) -> None:  # noqa: F811
    rules = [{"role": "planner", "schema": "plan", "contains": "Capital of France?", "times": n,
              "reply": {"content": {"subtasks": [{"id": "1", "content": f"look up: Capital of France? via {city}",
                                                  "dependencies": []}]}}} for city, n in VIA.items()]
    rules += [{"role": "planner", "schema": "final_answer", "contains": f"via {city}",
               "reply": {"content": {"answer": city}}} for city in VIA]
    rules += [{"role": "planner", "schema": "final_answer", "contains": "6 times 7?", "reply": {"content": {"answer": "42"}}},
              {"role": "worker:", "contains": "FAIL", "reply": {"content": {"content": "cannot", "failed": True}}}]
    system.llm.script(rules)


@pytest.fixture(scope="module")
def scored(system, tmp_path_factory):  # noqa: F811
    tmp = tmp_path_factory.mktemp("owl")
    system.llm.reset()
    script(system)
    dataset = tmp / "ds.jsonl"
    rows = [{"id": "q1", "question": "Capital of France?", "answer": "Paris"},
            {"id": "q2", "question": "6 times 7?", "answer": "42"},
            {"id": "q3", "question": "FAIL always", "answer": "z"}]
    dataset.write_text("".join(json.dumps(r) + "\n" for r in rows))
    runs = tmp / "runs.jsonl"
    code = main(["run", "--dataset", str(dataset), "--output", str(runs), "--gateway",
                 f"http://127.0.0.1:{system.http_port}", "--api-key", API_KEY, "--samples", "4",
                 "--temperature", "1.0", "--concurrency", "6"])
    assert code == 0, read_jsonl(runs)  # q3 fails on purpose: an outcome, not a run error
    out = tmp / "scored.jsonl"
    assert main(["score", "--scorer", "gaia", "--runs", str(runs), "--output", str(out)]) == 0
    return out


def test_sft_keeps_correct_planner_calls_only(scored, tmp_path):
    assert main(["sft-data", "--scored", str(scored), "--out-dir", str(tmp_path)]) == 0
    examples = read_jsonl(tmp_path / "owl_planner_sft.jsonl")
    # q1: the two attempts via Paris are right and identical (written once); q2: 4 identical right ones;
    # q3 never right
    assert sorted((e["meta"]["id"], e["meta"]["kind"]) for e in examples) == [
        ("q1", "answer"),
        ("q1", "plan"),
        ("q2", "answer"),
        ("q2", "plan"),
    ]
    plan = next(e for e in examples if e["meta"] == {**e["meta"], "id": "q1", "kind": "plan"})
    assert plan["messages"][0]["role"] == "system" and plan["messages"][-1]["role"] == "assistant"
    assert (
        json.loads(plan["messages"][-1]["content"])["subtasks"][0]["content"]
        == "look up: Capital of France? via Paris"
    )
    assert all("Lyon" not in json.dumps(e) and "Marseille" not in json.dumps(e) for e in examples)
    shared = read_jsonl(tmp_path / "owl_planner_sft.llamafactory.jsonl")
    assert shared[0]["system"] == examples[0]["messages"][0]["content"]  # the real planner's system prompt
    assert [t["from"] for t in shared[0]["conversations"]][-1] == "gpt"
    info = read_json(tmp_path / "dataset_info.json")
    assert info["owl_planner_sft"] == {
        "file_name": "owl_planner_sft.llamafactory.jsonl",
        "formatting": "sharegpt",
        "columns": {"messages": "conversations", "system": "system"},
    }


def test_sft_min_score_and_empty_input(scored, tmp_path):
    assert (
        main(
            [
                "sft-data",
                "--scored",
                str(scored),
                "--out-dir",
                str(tmp_path),
                "--kinds",
                "plan",
                "--min-score",
                "2",
            ]
        )
        == 2
    )  # nothing reaches score 2: a clear error, no files
    assert not (tmp_path / "owl_planner_sft.jsonl").exists()


def test_dpo_pairs_share_the_prompt(scored, tmp_path):
    assert main(["dpo-data", "--scored", str(scored), "--out-dir", str(tmp_path)]) == 0
    pairs = read_jsonl(tmp_path / "owl_planner_dpo.openrlhf.jsonl")
    assert len(pairs) == 2 and {p["meta"]["id"] for p in pairs} == {"q1"}  # q2 all right, q3 all wrong
    for pair in pairs:
        assert pair["chosen"][:-1] == pair["rejected"][:-1]
        assert pair["chosen"][-1]["role"] == pair["rejected"][-1]["role"] == "assistant"
        assert "via Paris" in pair["chosen"][-1]["content"]
        assert (
            "via Lyon" in pair["rejected"][-1]["content"]
            or "via Marseille" in pair["rejected"][-1]["content"]
        )
        assert pair["margin"] == 1.0
    ranking = read_jsonl(tmp_path / "owl_planner_dpo.llamafactory.jsonl")
    assert ranking[0]["chosen"]["from"] == "gpt" and "via Paris" in ranking[0]["chosen"]["value"]
    assert ranking[0]["conversations"] == [{"from": "human", "value": pairs[0]["chosen"][1]["content"]}]
    assert "Capital of France?" in ranking[0]["conversations"][0]["value"]
    info = read_json(tmp_path / "dataset_info.json")["owl_planner_dpo"]
    assert info["ranking"] is True and info["columns"]["chosen"] == "chosen"


def test_dpo_without_contrast_is_a_clear_error(tmp_path, capsys):
    scored = tmp_path / "s.jsonl"
    scored.write_text(
        json.dumps(
            {
                "id": "a",
                "sample": 0,
                "status": "succeeded",
                "score": {"value": 1, "correct": True},
                "trajectory": {
                    "planner_calls": [
                        {"kind": "plan", "messages": [{"role": "user", "content": "q"}], "output": "p"}
                    ]
                },
            }
        )
        + "\n"
    )
    assert main(["dpo-data", "--scored", str(scored), "--out-dir", str(tmp_path)]) == 2
    assert "no question has both" in capsys.readouterr().err


def test_outputs_are_what_the_trainers_read(scored, tmp_path):
    """The SFT / DPO files go straight into the trainers (workforce_train.trainers) without conversion."""
    examples = pytest.importorskip("workforce_train.trainers.examples")
    dpo = pytest.importorskip("workforce_train.trainers.dpo")
    assert main(["sft-data", "--scored", str(scored), "--out-dir", str(tmp_path)]) == 0
    assert main(["dpo-data", "--scored", str(scored), "--out-dir", str(tmp_path)]) == 0
    assert {examples.detect_format(r) for r in read_jsonl(tmp_path / "owl_planner_sft.jsonl")} == {"messages"}
    assert dpo.validate_file(tmp_path / "owl_planner_dpo.openrlhf.jsonl") == 2
