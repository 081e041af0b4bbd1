"""The default worker agent against a real HTTP model server (the scripted LLM): the tool loop, the tool-call
budget, the loop breaker, structured results (junk is never a success), and json mode (one constrained step)."""

import json
from pathlib import Path

import pytest

from workforce.core.config import Settings
from workforce.core.llm.client import ChatClient
from workforce.workers import echo
from workforce.workers.actions import StepError, action_schema, read_result
from workforce.workers.agent import HISTORY_STEPS, ToolCallingAgent, recent_steps
from workforce.workers.tools import ToolContext
from workforce.v1 import channel_pb2


def make_agent(scripted, requires_tool=False, **settings):
    scripted.reset()
    s = Settings(llm_base_url=scripted.base_url, llm_max_retries=0, **settings)
    spec = echo.spec(s)
    spec.requires_tool = requires_tool
    return ToolCallingAgent(ChatClient(s), spec, s), s


def ctx(settings, tmp_path: Path) -> ToolContext:
    return ToolContext(task_id="t1", subtask_id="1", attempt_id="t1/1/1", worker_type="echo", settings=settings,
                       workdir=tmp_path)


ITEM = channel_pb2.WorkItem(task_id="t1", subtask_id="1", attempt_id="t1/1/1", overall_task="big task",
                            subtask="add 2 and 3")


def add(a, b):
    return {"tool_calls": [{"name": "add", "arguments": {"a": a, "b": b}}]}


async def test_tool_loop_then_answer(scripted, tmp_path):
    agent, settings = make_agent(scripted)
    scripted.script([
        {"role": "worker:echo", "contains": "5", "reply": {"content": '{"content": "2 + 3 = 5", "failed": false}'}},
        {"role": "worker:echo", "reply": add(2, 3)},
    ])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("2 + 3 = 5", False, 1)
    assert outcome.messages[-2] == {"role": "tool", "tool_call_id": outcome.messages[-3]["tool_calls"][0]["id"],
                                    "content": "5"}
    assert outcome.usage.by_role["worker:echo"].requests == 2


async def test_tool_call_budget_ends_failed_with_history(scripted, tmp_path):
    agent, settings = make_agent(scripted, max_tool_calls=3, tool_result_chars=10)
    scripted.script([{"role": "worker:echo", "times": 1, "reply": add(1, i)} for i in range(10)])
    c = ctx(settings, tmp_path)
    outcome = await agent.run(ITEM, c)
    assert outcome.failed and outcome.tool_calls == 3 and len(c.tool_history) == 3
    assert "budget of 3 tool calls is spent" in outcome.content and outcome.content.count("call add") == 3


async def test_a_long_tool_loop_sends_the_latest_steps_only(scripted, tmp_path):
    """Every earlier step sent back with each request outgrows a small model's context (4096 tokens a slot on
    the local model server); the subtask and the latest HISTORY_STEPS steps go back, the trajectory keeps all."""
    agent, settings = make_agent(scripted, max_tool_calls=8)
    scripted.script([{"role": "worker:echo", "times": 1, "reply": add(1, i)} for i in range(10)])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert outcome.failed and outcome.tool_calls == 8
    sent = [r["messages"] for r in scripted.requests()]
    # the ninth step's call is over the budget
    assert [len(m) for m in sent] == [2, 4, 6, 8, 10] + [2 + 2 * HISTORY_STEPS] * 4
    assert all(m[:2] == outcome.messages[:2] for m in sent)                # the system prompt and the subtask
    assert sent[-1][2:] == outcome.messages[-1 - 2 * HISTORY_STEPS:-1]     # the latest steps, each with its result
    assert sent[-1][2]["role"] == "assistant" and len(outcome.messages) == 2 + 2 * 8 + 1


def test_older_tool_outputs_are_cut_and_the_latest_is_whole():
    page = "word " * 2000
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "subtask"}]
    for i in range(3):
        messages += [{"role": "assistant", "content": None, "tool_calls": [{"id": f"c{i}"}]},
                     {"role": "tool", "tool_call_id": f"c{i}", "content": f"page {i}: {page}"}]
    sent = recent_steps(messages, older_chars=100)
    assert [len(m["content"] or "") for m in sent[:2]] == [1, 7]
    assert sent[3]["content"].startswith("page 0: word")
    assert sent[3]["content"].endswith("(cut: 10008 characters in all)")
    assert len(sent[5]["content"]) < 140 and sent[7] == messages[7]        # the latest output goes whole
    assert messages[3]["content"] == f"page 0: {page}"                      # the trajectory keeps every output


async def test_a_request_over_the_context_is_asked_again_with_the_latest_step_alone(scripted, tmp_path):
    agent, settings = make_agent(scripted)
    overflow = json.dumps({"error": {"code": 400, "type": "exceed_context_size_error", "message":
                                     "request (4129 tokens) exceeds the available context size (4096 tokens)"}})
    scripted.script([
        {"role": "worker:echo", "contains": "3221", "times": 1, "status": 400, "raw_body": overflow,
         "content_type": "application/json"},
        {"role": "worker:echo", "contains": "3221", "reply": answer("done")},
        {"role": "worker:echo", "times": 1, "reply": add(1000, 111)},
        {"role": "worker:echo", "times": 1, "reply": add(1000, 2221)},
    ])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("done", False, 2)
    last = scripted.requests()[-1]["messages"]
    assert len(last) == 4 and "1111" not in json.dumps(last)


async def test_repeated_identical_calls_are_stopped_early(scripted, tmp_path):
    agent, settings = make_agent(scripted, max_tool_calls=15)
    scripted.script([{"role": "worker:echo", "reply": add(1, 1)}])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert outcome.failed and outcome.tool_calls == 1  # the repeats were never run
    assert "repeated the same call add" in outcome.content and "2" in outcome.content
    feedback = [m["content"] for m in outcome.messages if m.get("role") == "tool"][1]
    assert feedback == "2"  # the same output again; the next step is constrained to the answer


async def test_after_a_repeat_the_next_step_must_be_the_answer(scripted, tmp_path):
    agent, settings = make_agent(scripted)
    scripted.script([
        {"role": "worker:echo", "schema": "subtask_result", "reply": {"content": '{"content": "2", "failed": false}'}},
        {"role": "worker:echo", "reply": add(1, 1)},
    ])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("2", False, 1)
    last = scripted.requests()[-1]
    assert last["tools"] is None and last["schema"] == "subtask_result"


async def test_bad_tool_calls_are_fed_back_not_fatal(scripted, tmp_path):
    agent, settings = make_agent(scripted)
    scripted.script([
        {"role": "worker:echo", "times": 1, "reply": {"tool_calls": [{"name": "teleport", "arguments": {}}]}},
        {"role": "worker:echo", "times": 1, "reply": {"tool_calls": [{"name": "add", "arguments": "{not json"}]}},
        {"role": "worker:echo", "times": 1, "reply": {"tool_calls": [{"name": "add", "arguments": {"a": "x"}}]}},
        {"role": "worker:echo", "reply": {"content": '{"content": "gave up on tools", "failed": true}'}},
    ])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    tool_texts = [m["content"] for m in outcome.messages if m.get("role") == "tool"]
    assert "unknown tool 'teleport'" in tool_texts[0]
    assert "not a JSON object" in tool_texts[1]
    assert "invalid arguments for add" in tool_texts[2]
    assert outcome.failed and outcome.content == "gave up on tools"


async def test_tool_timeout_is_reported(scripted, tmp_path):
    agent, settings = make_agent(scripted)
    agent.tools["wait"].timeout_s = 0.2
    scripted.script([
        {"role": "worker:echo", "times": 1, "reply": {"tool_calls": [{"name": "wait", "arguments": {"seconds": 5}}]}},
        {"role": "worker:echo", "reply": {"content": "{\"content\": \"slow tool\", \"failed\": true}"}},
    ])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert "timed out after 0.2 s" in [m for m in outcome.messages if m.get("role") == "tool"][0]["content"]


@pytest.mark.parametrize("junk", ["just text", "", "<html><body>502 Bad Gateway</body></html>",
                                  '{"content": "", "failed": false}', '{"contents": "x"}'])
async def test_junk_is_never_a_success(scripted, tmp_path, junk):
    agent, settings = make_agent(scripted)
    scripted.script([{"role": "worker:echo", "reply": {"content": junk}}])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert outcome.failed and outcome.content.startswith("model error: unusable output")
    assert sum(1 for m in outcome.messages if "not usable" in str(m.get("content"))) == 3  # fed back, bounded
    temperatures = [r["temperature"] for r in scripted.requests()]
    assert temperatures[0] == 0.0 and all(t >= 0.7 for t in temperatures[1:])  # resampled, not greedy again


async def test_backend_error_is_a_model_error(scripted, tmp_path):
    agent, settings = make_agent(scripted)
    scripted.script([{"role": "worker:echo", "status": 500, "reply": {}}])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert outcome.failed and outcome.content.startswith("model error:") and "HTTP 500" in outcome.content


async def test_a_worker_that_needs_tools_must_call_one_first(scripted, tmp_path):
    agent, settings = make_agent(scripted, requires_tool=True)
    scripted.script([
        {"role": "worker:echo", "contains": "Output of add", "reply": {"content": '{"content": "5", "failed": false}'}},
        {"role": "worker:echo", "contains": "\n5", "reply": {"content": '{"content": "5", "failed": false}'}},
        {"role": "worker:echo", "reply": add(2, 3)},
    ])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("5", False, 1)
    first = scripted.requests()[0]
    assert first["tool_choice"] == "required"


async def test_a_backend_ignoring_tool_choice_is_reported(scripted, tmp_path):
    agent, settings = make_agent(scripted, requires_tool=True)
    scripted.script([{"role": "worker:echo", "reply": {"content": '{"content": "5, from memory", "failed": false}'}}])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert outcome.failed and outcome.content.startswith("answered without using any tool")


def nope():
    return {"tool_calls": [{"name": "nope", "arguments": {}}]}


def answer(text):
    return {"content": json.dumps({"content": text, "failed": False})}


async def test_an_answer_after_only_failed_tool_calls_is_not_a_result(scripted, tmp_path):
    """A worker that needs its tools answered although every call failed (an empty file, a page that did not
    load): asked once to use a tool that works or say it failed; a second such answer fails with the tool's error."""
    agent, settings = make_agent(scripted, requires_tool=True)
    scripted.script([
        {"role": "worker:echo", "contains": "unknown tool", "reply": answer("5")},
        {"role": "worker:echo", "reply": nope()},
    ])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert outcome.failed and outcome.content.startswith("no tool call worked; the last one said: unknown tool 'nope'")
    assert sum("None of your tool calls worked" in str(m.get("content")) for m in outcome.messages) == 1


async def test_a_working_call_after_failed_ones_grounds_the_answer(scripted, tmp_path):
    agent, settings = make_agent(scripted, requires_tool=True)
    scripted.script([
        {"role": "worker:echo", "contains": "None of your tool calls worked", "times": 1, "reply": add(2, 3)},
        {"role": "worker:echo", "contains": "unknown tool", "times": 1, "reply": answer("5")},
        {"role": "worker:echo", "times": 1, "reply": nope()},
        {"role": "worker:echo", "reply": answer("5")},
    ])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("5", False, 2)


async def test_json_mode_runs_tools_from_constrained_steps(scripted, tmp_path):
    agent, settings = make_agent(scripted, requires_tool=True, llm_tool_mode="json")
    scripted.script([
        {"role": "worker:echo", "contains": "Output of add", "reply": {"content": {"content": "5", "failed": False}}},
        {"role": "worker:echo", "reply": {"content": {"tool": "add", "arguments": {"a": 2, "b": 3}}}},
    ])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("5", False, 1)
    first, second = scripted.requests()[:2]
    assert first["tools"] is None and first["schema"] == "worker_step"
    # the first step of a worker that needs tools admits tool calls only; later steps also the result
    assert "failed" not in json.dumps(first["json_schema"]) and "failed" in json.dumps(second["json_schema"])
    assert "Write {" in first["messages"][0]["content"]  # the tools and how to call them are in the prompt


def test_action_schema_offers_each_tool_and_the_result():
    s = Settings()
    schema = action_schema(echo.spec(s).tools)
    names = [alt["properties"]["tool"]["const"] for alt in schema["anyOf"] if "tool" in alt["properties"]]
    assert names == ["add", "wait", "save"] and schema["anyOf"][-1]["required"] == ["content", "failed"]


def test_read_result():
    assert read_result('noise {"content": "x", "failed": true} noise') == ("x", True)
    assert read_result('{"content": {"a": 1}, "failed": false}') == ('{"a": 1}', False)
    for junk in ("just text", '{"content": "  "}', "[1, 2]"):
        with pytest.raises(StepError):
            read_result(junk)


async def test_json_mode_concludes_in_a_short_fresh_context_after_a_repeat(scripted, tmp_path):
    agent, settings = make_agent(scripted, requires_tool=True, llm_tool_mode="json")
    scripted.script([
        {"role": "worker:echo", "schema": "subtask_conclusion", "reply": {"content": {"content": "5"}}},
        {"role": "worker:echo", "reply": {"content": {"tool": "add", "arguments": {"a": 2, "b": 3}}}},
    ])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("5", False, 1)
    conclusion = scripted.requests()[-1]
    # system, subtask, call, output
    assert conclusion["schema"] == "subtask_conclusion" and len(conclusion["messages"]) == 4
    assert conclusion["messages"][-1]["content"].endswith("So the result of the subtask is")
    assert "big task" not in str(conclusion["messages"])  # only the subtask and what the tools returned


@pytest.mark.parametrize("mode, step", [
    ("json", {"content": {"tool": "wait", "arguments": {"seconds": 1}}}),
    ("native", {"tool_calls": [{"name": "wait", "arguments": {"seconds": 1}}]}),
])
async def test_after_a_repeated_failing_call_the_reason_is_the_tools_error(scripted, tmp_path, mode, step):
    """A model asked to state the result of a failed call invents a cause ("the browser returned an error, but the
    result is still available"): the subtask fails with the tool's own error, and no model is asked."""
    agent, settings = make_agent(scripted, requires_tool=True, llm_tool_mode=mode)
    agent.tools["wait"].timeout_s = 0.05
    scripted.script([{"role": "worker:echo", "reply": step}])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("wait timed out after 0.05 s", True, 1)
    assert len(scripted.requests()) == 2   # the call and its repeat: no answer asked for


def test_the_code_worker_offers_its_file_tools_only_to_a_subtask_with_files(monkeypatch):
    """Without files a small model reads `list_files` ("No files are attached") and reports that as its answer."""
    monkeypatch.setenv("WF_SANDBOX_URL", "127.0.0.1:9")   # the spec needs an executor address; nothing runs
    from workforce.v1 import channel_pb2, common_pb2
    from workforce.workers import code

    settings = Settings(llm_tool_mode="json")
    agent = ToolCallingAgent(None, code.spec(settings), settings)
    bare = channel_pb2.WorkItem(task_id="t", subtask_id="1", subtask="What is 17 * 23?")
    names = {t.name for t in agent.offered(bare)}
    assert "run_python" in names and not names & {"list_files", "read_document"}
    system = agent.initial_messages(bare, agent.offered(bare))[0]["content"]
    assert "list_files" not in system and "run_python" in system
    with_files = channel_pb2.WorkItem(task_id="t", subtask_id="1", subtask="Sum the column",
                                      files=[common_pb2.FileRef(name="data.csv")])
    assert {"list_files", "read_document"} <= {t.name for t in agent.offered(with_files)}


def reading_agent(scripted):
    """The echo worker with a tool that reads an attached file by name (as worker-document's do)."""
    from workforce.workers.tools import Tool

    async def peek(ctx, file: str) -> str:
        return "city,population\nOslo,709000\nBergen,291000"

    scripted.reset()
    settings = Settings(llm_base_url=scripted.base_url, llm_max_retries=0)
    spec = echo.spec(settings)
    spec.tools.append(Tool("peek", "Read an attached file.", {
        "type": "object", "properties": {"file": {"type": "string"}}, "required": ["file"],
        "additionalProperties": False}, peek))
    return ToolCallingAgent(ChatClient(settings), spec, settings), settings


CSV_ITEM = channel_pb2.WorkItem(task_id="t1", subtask_id="1", attempt_id="t1/1/1", overall_task="big task",
                                subtask="Which city in the attached CSV has the largest population?",
                                files=[{"name": "cities.csv", "object_key": "t1/in/x/cities.csv", "size": 44}])


async def test_an_answer_about_an_attached_file_it_never_read_is_sent_back_once(scripted, tmp_path):
    """A user's trial: the document worker listed the files, never read the CSV, and answered 'New York City'."""
    agent, settings = reading_agent(scripted)
    scripted.script([
        {"role": "worker:echo", "contains": "Oslo,709000", "reply": answer("Oslo")},
        {"role": "worker:echo", "contains": "without reading cities.csv", "times": 1,
         "reply": {"tool_calls": [{"name": "peek", "arguments": {"file": "cities.csv"}}]}},
        {"role": "worker:echo", "reply": answer("New York City")},
    ])
    outcome = await agent.run(CSV_ITEM, ctx(settings, tmp_path))
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("Oslo", False, 1)
    assert sum("You answered without reading cities.csv" in str(m.get("content")) for m in outcome.messages) == 1


async def test_a_second_answer_without_reading_the_file_is_a_failed_result(scripted, tmp_path):
    agent, settings = reading_agent(scripted)
    scripted.script([{"role": "worker:echo", "reply": answer("New York City")}])
    outcome = await agent.run(CSV_ITEM, ctx(settings, tmp_path))
    assert outcome.failed and outcome.content == "answered about cities.csv without reading it: New York City"


async def test_a_subtask_not_about_the_attached_file_answers_without_reading_it(scripted, tmp_path):
    agent, settings = reading_agent(scripted)
    scripted.script([{"role": "worker:echo", "reply": answer("5")}])
    item = channel_pb2.WorkItem()
    item.CopyFrom(CSV_ITEM)
    item.subtask = "add 2 and 3"
    outcome = await agent.run(item, ctx(settings, tmp_path))
    assert (outcome.content, outcome.failed) == ("5", False)


@pytest.mark.parametrize("subtask, about", [
    ("Which city in the attached CSV has the largest population?", "cities.csv"),
    ("Sum the second column of cities.csv.", "cities.csv"),
    ("Count the rows of the table.", "cities.csv"),
    ("List the attached files.", ""),                      # about the attachments, not what one holds
    ("What are the names of the files attached?", ""),
    ("Add 2 and 3.", ""),
])
def test_which_attached_file_a_subtask_is_about(subtask, about):
    from workforce.workers.tools import file_in_question
    assert file_in_question(subtask, ["cities.csv", "notes.txt"]) == about
