"""The default worker agent: tool loop, tool-call cap, tool errors fed back, {content, failed}."""

from pathlib import Path

import pytest

from tests.support.scripted_llm import ScriptedLLM
from workforce.core.config import Settings
from workforce.core.llm.client import OpenAIChat
from workforce.workers import echo
from workforce.workers.agent import ToolCallingAgent, parse_result
from workforce.workers.tools import ToolContext
from workforce.v1 import channel_pb2


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    server = ScriptedLLM(log_dir=str(tmp_path_factory.mktemp("llm"))).start()
    yield server
    server.stop()


def make_agent(scripted, **settings):
    scripted.reset()
    s = Settings(llm_base_url=scripted.base_url, llm_max_retries=0, **settings)
    return ToolCallingAgent(OpenAIChat(s), echo.spec(s), s), s


def ctx(settings, tmp_path: Path) -> ToolContext:
    return ToolContext(task_id="t1", subtask_id="1", attempt_id="t1/1/1", worker_type="echo", settings=settings,
                       workdir=tmp_path)


ITEM = channel_pb2.WorkItem(task_id="t1", subtask_id="1", attempt_id="t1/1/1", overall_task="big task",
                            subtask="add 2 and 3")


async def test_tool_loop_then_answer(scripted, tmp_path):
    agent, settings = make_agent(scripted)
    scripted.script([
        {"role": "worker:echo", "contains": "5", "reply": {"content": '{"content": "2 + 3 = 5", "failed": false}'}},
        {"role": "worker:echo", "reply": {"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]}},
    ])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("2 + 3 = 5", False, 1)
    assert outcome.messages[-2] == {"role": "tool", "tool_call_id": outcome.messages[-3]["tool_calls"][0]["id"],
                                    "content": "5"}
    assert outcome.usage.by_role["worker:echo"].requests == 2


async def test_tool_call_cap_ends_failed_with_history(scripted, tmp_path):
    agent, settings = make_agent(scripted, max_tool_calls=3, tool_result_chars=10)
    scripted.script([{"role": "worker:echo", "reply": {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 1}}]}}])
    outcome = await agent.run(ITEM, ctx(settings, tmp_path))
    assert outcome.failed and outcome.tool_calls == 3
    assert outcome.content.startswith("Stopped after 3 tool calls") and outcome.content.count("call add") == 3


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


def test_parse_result_tolerates_plain_text():
    assert parse_result("just text") == ("just text", False)
    assert parse_result('noise {"content": "x", "failed": true} noise') == ("x", True)
