"""AutoAct data steps: self-instruct (de-duplicated, resumable), automatic tool selection, trajectory
synthesis with the plan / tool / reflect loop against a scripted LLM and a stand-in MediaWiki API,
filtering (reward = 1) and the per-agent sets."""

import json
import threading
import time
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from workforce.local.nats_server import free_port
from workforce_train.cli import main
from workforce_train.data.autoact.self_instruct import load_seeds, self_instruct
from workforce_train.data.autoact.split import filter_trajectories, split_by_agent, write_sets
from workforce_train.data.autoact.synthesize import Synthesizer, synthesize
from workforce_train.data.autoact.tool_select import load_library, select_tools
from workforce_train.io import read_json, read_jsonl

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "autoact"
SEEDS = [
    {"Question": "Are both Shangri-La City and Ma'anshan cities in China?", "Answer": "yes"},
    {"Question": "Which neighborhood of New York was Arno Schmidt's hotel in?", "Answer": "Manhattan"},
]
LIBRARY = [
    {"name": "BingSearch", "definition": "web search", "usage": "BingSearch[query], which searches the web."},
    {
        "name": "Retrieve",
        "definition": "Wikipedia",
        "usage": "Retrieve[entity], which retrieves the entity on Wikipedia.",
    },
    {
        "name": "Lookup",
        "definition": "lookup",
        "usage": "Lookup[keyword], which finds the keyword in the last passage.",
    },
]


@pytest.fixture(scope="module")
def llm_server(tmp_path_factory):
    from tests.support.scripted_llm import ScriptedLLM

    server = ScriptedLLM(log_dir=str(tmp_path_factory.mktemp("llm"))).start()
    yield server
    server.stop()


@pytest.fixture
def llm(llm_server):
    from workforce.core.config import Settings
    from workforce.core.llm.client import ChatClient

    llm_server.reset()
    return ChatClient(Settings(llm_base_url=llm_server.base_url, llm_max_retries=0))


@pytest.fixture(scope="module")
def wiki():
    """A stand-in for the MediaWiki API (a third-party web API)."""
    app, calls = FastAPI(), []

    @app.get("/w/api.php")
    async def api(action: str, titles: str = "", srsearch: str = "", list: str = ""):
        calls.append(titles or srsearch)
        if titles == "Arno Schmidt":
            return {
                "query": {
                    "pages": {
                        "7": {
                            "title": titles,
                            "extract": "Arno Schmidt is a chef. He was the "
                            "executive chef of the Waldorf-Astoria in Manhattan. He wrote books.",
                        }
                    }
                }
            }
        if list == "search":
            return {"query": {"search": [{"title": "Arno Schmidt"}]}}
        return {"query": {"pages": {"-1": {"title": titles, "missing": ""}}}}

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    yield {"url": f"http://127.0.0.1:{port}", "calls": calls}
    server.should_exit = True


async def test_self_instruct_deduplicates_and_resumes(llm, llm_server, tmp_path):
    batch = {
        "items": [
            {
                "question": "Are both Shangri-La City and Ma'anshan cities in China?",
                "answer": "yes",
            },  # a seed
            {"question": "Which river flows through Vienna?", "answer": "Danube"},
            {"question": "Which river flows through Vienna ?", "answer": "Danube"},  # near-dup
            {"question": "Who directed the film Jaws?", "answer": "Steven Spielberg"},
            {"question": "", "answer": "broken"},
        ]
    }
    second = {
        "items": [
            {"question": "What is the capital of Australia?", "answer": "Canberra"},
            {"question": "Who directed the film Jaws?", "answer": "Spielberg"},
        ]
    }
    llm_server.script(
        [
            {"role": "autoact-meta", "schema": "self_instruct", "times": 1, "reply": {"content": batch}},
            {"role": "autoact-meta", "schema": "self_instruct", "reply": {"content": second}},
        ]
    )
    seeds_path = tmp_path / "seeds.json"
    seeds_path.write_text(json.dumps(SEEDS))
    out = tmp_path / "qa.jsonl"
    count = await self_instruct(llm, load_seeds(seeds_path), out, total=2, task="multi-hop QA", per_round=5)
    assert count == 2
    assert [r["question"] for r in read_jsonl(out)] == [
        "Which river flows through Vienna?",
        "Who directed the film Jaws?",
    ]
    count = await self_instruct(llm, load_seeds(seeds_path), out, total=3, task="multi-hop QA", max_rounds=3)
    assert count == 3 and read_jsonl(out)[-1]["answer"] == "Canberra"
    prompt = next(r for r in llm_server.requests() if r["role"] == "autoact-meta")["messages"][1]["content"]
    assert "Examples:" in prompt and "Answer: " in prompt


@pytest.mark.skipif(not (SHARED / "self-instruct-seeds").exists(), reason="../shared not present")
def test_shared_seeds_and_tools_load():
    assert len(load_seeds(SHARED / "self-instruct-seeds" / "Meta_Hotpotqa.json")) == 2
    assert {t["name"] for t in load_library(SHARED / "tools" / "HotpotQA_Tools.json")} == {
        "BingSearch",
        "Retrieve",
        "Lookup",
    }


async def test_tool_selection(llm, llm_server):
    llm_server.script(
        [
            {
                "role": "autoact-meta",
                "schema": "tool_selection",
                "times": 1,
                "reply": {
                    "content": {"reasoning": "wiki questions", "tools": ["Retrieve", "lookup", "Calculator"]}
                },
            },
            {"role": "autoact-meta", "schema": "tool_selection", "reply": {"content": "no idea"}},
        ]
    )
    chosen = await select_tools(llm, "multi-hop QA", LIBRARY, [{"question": "Who?"}])
    assert [t["name"] for t in chosen] == ["Retrieve", "Lookup"]
    with pytest.raises(RuntimeError, match="expected JSON"):
        await select_tools(llm, "multi-hop QA", LIBRARY, [{"question": "Who?"}])


async def test_synthesis_filter_and_split(llm, llm_server, wiki, tmp_path):
    llm_server.script(
        [
            {
                "role": "autoact-plan",
                "contains": "Schmidt executive chef?",
                "times": 1,
                "reply": {"content": "Thought: I should retrieve Arno Schmidt.\nAction: Retrieve"},
            },
            {
                "role": "autoact-plan",
                "contains": "Schmidt executive chef?",
                "reply": {"content": "Thought: It says Manhattan.\nAction: Finish"},
            },
            {
                "role": "autoact-tool",
                "contains": "It says Manhattan.\nAction 2: Finish",
                "reply": {"content": "Finish[Manhattan]"},
            },
            {
                "role": "autoact-tool",
                "contains": "Schmidt executive chef?",
                "reply": {"content": "Action: Retrieve[Arno Schmidt]"},
            },
            {
                "role": "autoact-reflect",
                "contains": "Schmidt executive chef?",
                "reply": {"content": "Thought: It matches.\nAction: Reflect[right]"},
            },
            {
                "role": "autoact-plan",
                "contains": "Hamlet",
                "reply": {"content": "Thought: I know it.\nAction: Finish"},
            },
            {"role": "autoact-tool", "contains": "Hamlet", "reply": {"content": "Finish[Marlowe]"}},
            {
                "role": "autoact-reflect",
                "contains": "Hamlet",
                "reply": {"content": "Thought: Unsure.\nAction: Reflect[wrong]"},
            },
        ]
    )
    tools = [t for t in LIBRARY if t["name"] in ("Retrieve", "Lookup")]
    synth = Synthesizer(llm, tools, env_options={"wiki_url": wiki["url"]})
    items = [
        {"id": "a", "question": "Where was Arno Schmidt executive chef?", "answer": "Manhattan"},
        {"id": "b", "question": "Who wrote Hamlet?", "answer": "Shakespeare"},
    ]
    out = tmp_path / "traj.jsonl"
    assert await synthesize(synth, items, out, concurrency=2) == 2
    assert await synthesize(synth, items, out) == 0  # resumable
    by_id = {r["id"]: r for r in read_jsonl(out)}
    a, b = by_id["a"], by_id["b"]
    assert a["answer"] == "Manhattan" and a["reward"] == 1.0 and a["correct"] and a["halted"] == "finish"
    assert [s["agent"] for s in a["steps"]] == ["plan", "tool", "plan", "tool", "reflect"]
    assert "Observation 1: Arno Schmidt is a chef." in a["scratchpad"]
    assert "Arno Schmidt" in wiki["calls"]
    assert b["answer"] == "Marlowe" and b["reward"] == 0.0
    assert [s["agent"] for s in b["steps"]] == [
        "plan",
        "tool",
        "reflect",
        "plan",
        "tool",
    ]  # wrong → retry → 2nd Finish

    kept = filter_trajectories(out)
    assert [t["id"] for t in kept] == ["a"]
    sets = split_by_agent(kept)
    assert {k: len(v) for k, v in sets.items()} == {"plan": 2, "tool": 2, "reflect": 1}
    assert sets["tool"][0]["output"] == "Action: Retrieve[Arno Schmidt]"
    paths = write_sets(sets, tmp_path / "sets")
    assert read_json(paths["reflect"])[0]["output"].endswith("Reflect[right]")
    info = read_json(paths["dataset_info"])
    assert set(info) == {"autoact_plan", "autoact_tool", "autoact_reflect"}
    trainer_examples = pytest.importorskip("workforce_train.trainers.examples")
    assert {trainer_examples.detect_format(r) for r in read_json(paths["plan"])} == {"autoact"}
    alpaca = read_json(tmp_path / "sets" / info["autoact_plan"]["file_name"])
    assert alpaca[0]["instruction"] == sets["plan"][0]["input"] and alpaca[0]["input"] == ""


def test_filter_cli_without_good_trajectories(tmp_path, capsys):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"id": "x", "reward": 0.5, "answer": "a", "steps": []}) + "\n")
    assert main(["autoact-filter", "--trajectories", str(path), "--out-dir", str(tmp_path / "o")]) == 2
    assert "no trajectory with reward = 1" in capsys.readouterr().err


def test_llm_steps_need_an_endpoint(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("WF_LLM_BASE_URL", "")
    seeds = tmp_path / "s.json"
    seeds.write_text(json.dumps(SEEDS))
    assert main(["autoact-self-instruct", "--seeds", str(seeds), "--output", str(tmp_path / "o.jsonl")]) == 2
    assert "WF_LLM_BASE_URL" in capsys.readouterr().err
