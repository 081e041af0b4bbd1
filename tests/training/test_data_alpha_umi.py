"""α-UMi GLPFT builders against the authors' published preprocessing output (golden files).

The small copy in fixtures/alpha_umi always runs; the full 20 answers in ../shared run when present."""

import json
from pathlib import Path

import pytest

from workforce_train.cli import main
from workforce_train.data.alpha_umi import ROLES, build_role, conversations_from_stage1, tool_doc_from_openai
from workforce_train.data.alpha_umi.conversations import conversation_from_worker_messages, stage1_from_answer

FIXTURES = Path(__file__).parent / "fixtures" / "alpha_umi"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "alpha-umi" / "train-example"
SOURCES = [
    pytest.param(FIXTURES, id="fixtures"),
    pytest.param(
        SHARED,
        id="shared",
        marks=pytest.mark.skipif(
            not (SHARED / "raw_data_stage_1.json").exists(), reason="../shared not present"
        ),
    ),
]


def load(folder: Path, name: str):
    return json.loads((folder / f"{name}.json").read_text())


@pytest.mark.parametrize("folder", SOURCES)
def test_stage1_to_stage2_matches_published(folder):
    assert conversations_from_stage1(load(folder, "raw_data_stage_1")) == load(folder, "raw_data_stage_2")


@pytest.mark.parametrize("folder", SOURCES)
@pytest.mark.parametrize("role", ROLES)
def test_role_records_match_published(folder, role):
    built = build_role(role, load(folder, "raw_data_stage_2"), upstream_quirks=True)
    gold = load(folder, f"train_{role}")
    assert len(built) == len(gold)
    for ours, theirs in zip(built, gold):
        assert ours == theirs


def test_without_quirks_only_giveup_prompts_change():
    items = load(FIXTURES, "raw_data_stage_2")
    fixed = build_role("backbone", items)
    published = load(FIXTURES, "train_backbone")
    differing = [i for i, (a, b) in enumerate(zip(fixed, published)) if a != b]
    assert differing, "the fixture contains a give-up whose published prompt is stale"
    for i in differing:
        assert published[i]["target"].endswith("conclusion: give up.")
        assert fixed[i]["target"] == published[i]["target"]
        # the corrected prompt ends with the history up to the give-up turn, the published one does not
        last_turn = fixed[i]["history"][-1]["value"]
        assert last_turn[-40:] in fixed[i]["input"]
        assert last_turn[-40:] not in published[i]["input"]


def test_cli_builds_all_roles_from_stage1(tmp_path):
    assert (
        main(
            [
                "alpha-umi-data",
                "--stage1",
                str(FIXTURES / "raw_data_stage_1.json"),
                "--out-dir",
                str(tmp_path),
                "--upstream-quirks",
            ]
        )
        == 0
    )
    for role in ROLES:
        assert json.loads((tmp_path / f"train_{role}.json").read_text()) == load(FIXTURES, f"train_{role}")


def test_toolbench_answer_to_stage1_tool_docs():
    long_name = "x" * 70 + "_for_tool"
    answer = {
        "answer_generation": {
            "query": "q?",
            "function": [
                {
                    "name": long_name,
                    "description": "d" * 300,
                    "parameters": {
                        "properties": {
                            "city": {"type": "string", "description": "e" * 300},
                            "n": {"type": "integer"},
                        }
                    },
                },
                {"name": "Finish", "description": "finish", "parameters": {"properties": {}}},
            ],
            "train_messages": [[{"role": "system", "content": "s"}], [{"role": "system", "content": "s2"}]],
        }
    }
    record = stage1_from_answer(answer)
    assert record["instruction"] == "q?" and record["chains"] == [{"role": "system", "content": "s2"}]
    assert record["tools"] == [
        {
            "Name": long_name[-64:],
            "function": "d" * 256,
            "input": {"city": "string, " + "e" * 256, "n": "integer"},
        }
    ]
    assert stage1_from_answer({"answer_generation": {"query": "q"}}) is None


def test_our_worker_trajectory_to_all_roles():
    tools = [
        {
            "type": "function",
            "function": {
                "name": "weather",
                "description": "Weather of a city",
                "parameters": {"properties": {"city": {"type": "string"}}},
            },
        }
    ]
    messages = [
        {"role": "system", "content": "You are a tool worker."},
        {"role": "user", "content": "Weather in Paris?"},
        {
            "role": "assistant",
            "content": "I should look it up.",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny, 21C"},
        {"role": "assistant", "content": "It is sunny and 21C in Paris."},
    ]
    item = conversation_from_worker_messages(messages, tools)
    assert [t["from"] for t in item["conversations"]] == [
        "user",
        "assistant",
        "caller",
        "observation",
        "assistant",
        "conclusion",
    ]
    assert item["conversations"][2]["value"] == 'Action: weather\nAction Input: {"city": "Paris"}'
    assert item["tools"] == [
        {"Name": "weather", "function": "Weather of a city", "input": {"city": "string"}}
    ]
    records = {role: build_role(role, [item]) for role in ROLES}
    assert [len(records[r]) for r in ROLES] == [2, 2, 1, 1]
    assert records["summarizer"][0]["target"] == "It is sunny and 21C in Paris."
    assert records["caller"][0]["input"].endswith(" caller: ")
    assert "observation: sunny, 21C" in records["planner"][1]["input"]
    failed = conversation_from_worker_messages(messages, tools, failed=True)
    assert failed["conversations"][-1] == {"from": "assistant", "value": " Next: give up."}


def test_openai_tool_doc_without_parameters():
    assert tool_doc_from_openai({"name": "ping"}) == {"Name": "ping", "function": "", "input": {}}


def test_cli_from_our_scored_runs(tmp_path):
    messages = [
        {"role": "user", "content": "look up: capital"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "search", "arguments": '{"q": "capital"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "Paris is the capital"},
        {"role": "assistant", "content": "Paris"},
    ]
    record = {
        "id": "q1",
        "sample": 0,
        "status": "succeeded",
        "score": {"value": 1.0, "correct": True},
        "trajectory": {
            "subtasks": {
                "1": {"id": "1", "status": "succeeded", "messages": messages, "tools": []},
                "2": {"id": "2", "status": "succeeded", "messages": [], "tools": []},
            }
        },
    }
    wrong = {**record, "id": "q2", "score": {"value": 0.0, "correct": False}}
    runs = tmp_path / "scored.jsonl"
    runs.write_text(json.dumps(record) + "\n" + json.dumps(wrong) + "\n")
    assert main(["alpha-umi-data", "--runs", str(runs), "--out-dir", str(tmp_path / "out")]) == 0
    caller = json.loads((tmp_path / "out" / "train_caller.json").read_text())
    assert [r["target"] for r in caller] == ['Action: search\nAction Input: {"q": "capital"}']
    assert caller[0]["tools"] == [{"Name": "search", "function": "", "input": {}}]  # from the calls made
    summarizer = json.loads((tmp_path / "out" / "train_summarizer.json").read_text())
    assert [r["target"] for r in summarizer] == ["Paris"]


def _answer_file(record: dict) -> dict:
    """A ToolBench answer file whose conversion must give back this stage-1 record."""
    functions = []
    for tool in record["tools"]:
        properties = {}
        for arg, text in tool["input"].items():
            kind, sep, desc = text.partition(", ")
            properties[arg] = {"type": kind, "description": desc} if sep else {"type": kind}
        functions.append(
            {
                "name": tool["Name"],
                "description": tool["function"],
                "parameters": {"type": "object", "properties": properties},
            }
        )
    functions.append({"name": "Finish", "description": "finish", "parameters": {"properties": {}}})
    return {
        "answer_generation": {
            "query": record["instruction"],
            "function": functions,
            "train_messages": [record["chains"][:1], record["chains"]],
        }
    }


def test_cli_from_toolbench_answer_files(tmp_path):
    stage1 = load(FIXTURES, "raw_data_stage_1")
    answers = tmp_path / "answer" / "G1_answer"
    answers.mkdir(parents=True)
    for i, record in enumerate(stage1):
        (answers / f"{100 + i}_DFS_woFilter_w2.json").write_text(json.dumps(_answer_file(record)))
    (answers / "999_DFS_woFilter_w2.json").write_text(json.dumps(_answer_file(stage1[0])))  # a test query
    (answers / "998_ChatGPT_DFS.json").write_text(
        json.dumps({"answer_generation": {"query": "no train messages"}})
    )
    test_ids = tmp_path / "G1_instruction.json"
    test_ids.write_text(json.dumps({"999": ["..."]}))
    out = tmp_path / "out"
    assert (
        main(
            [
                "alpha-umi-data",
                "--toolbench-answers",
                str(tmp_path / "answer"),
                "--exclude-ids",
                str(test_ids),
                "--out-dir",
                str(out),
                "--upstream-quirks",
            ]
        )
        == 0
    )
    assert json.loads((out / "raw_data_stage_2.json").read_text()) == load(FIXTURES, "raw_data_stage_2")
    for role in ROLES:
        assert json.loads((out / f"train_{role}.json").read_text()) == load(FIXTURES, f"train_{role}")


def test_records_are_what_the_glpft_trainer_reads():
    examples = pytest.importorskip("workforce_train.trainers.examples")
    for role in ROLES:
        records = build_role(role, load(FIXTURES, "raw_data_stage_2"))
        assert {examples.detect_format(r) for r in records} == {"alpha_umi"}
