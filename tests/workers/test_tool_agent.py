"""worker-tool's agent as the worker runtime runs it: a WorkItem in, {content, failed} out."""

import asyncio
import json

from workforce.core.config import Settings
from workforce.v1 import channel_pb2
from workforce.workers.tool.agent import ToolAgent
from workforce.workers.tool.registry import openapi_tools
from workforce.workers.tools import ToolContext, WorkerSpec

from tests.roles import support
from tests.roles.standins import OPENAPI, StandIn
from tests.roles.support import reply, settings_for

ITEM = channel_pb2.WorkItem(
    task_id="t1",
    subtask_id="s1",
    attempt_id="s1/1",
    worker_type="tool",
    overall_task="Plan a trip.",
    subtask="What is the weather in Paris?",
)

scripted_llm = support.scripted_llm  # a fixture
llm = support.llm  # a fixture


def _agent(llm, server, **overrides) -> ToolAgent:
    tools = openapi_tools(OPENAPI, server.url, timeout_s=5)
    spec = WorkerSpec("tool", "tools", tools=tools)
    return ToolAgent(None, spec, settings_for(llm, **overrides))


def _ctx(tmp_path) -> ToolContext:
    return ToolContext("t1", "s1", "s1/1", "tool", Settings(), tmp_path)


async def test_alpha_umi_agent_answers_with_usage(llm, tmp_path):
    llm.script(
        [
            reply("planner", "Get the weather.\nNext: caller."),
            reply("caller", 'Action: city_weather\nAction Input: {"city": "Paris"}'),
            reply("planner", "Known now.\nNext: conclusion."),
            reply("summarizer", "21 degrees in Paris."),
        ]
    )
    with StandIn() as server:
        outcome = await asyncio.wait_for(_agent(llm, server).run(ITEM, _ctx(tmp_path)), 60)
        assert ("GET", "/cities/Paris/weather", {}) in server.calls
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("21 degrees in Paris.", False, 1)
    assert [m["role"] for m in outcome.messages] == [
        "user",
        "assistant",
        "caller",
        "observation",
        "assistant",
        "conclusion",
    ]
    assert "Your subtask:\nWhat is the weather in Paris?" in outcome.messages[0]["content"]
    assert json.loads(outcome.messages[3]["content"])["temperature"] == 21
    assert outcome.usage.by_role["tool:planner"].requests == 2
    assert outcome.usage.by_role["tool:caller"].requests == 1


async def test_give_up_is_a_failed_result(llm, tmp_path):
    llm.script([reply("planner", "No tool books hotels.\nNext: give up.")])
    with StandIn() as server:
        outcome = await asyncio.wait_for(_agent(llm, server).run(ITEM, _ctx(tmp_path)), 60)
    assert outcome.failed and outcome.content == "failed: the planner gave up: No tool books hotels."


async def test_no_tools_is_a_failed_result(llm, tmp_path):
    agent = ToolAgent(None, WorkerSpec("tool", "tools", tools=[]), settings_for(llm))
    outcome = await agent.run(ITEM, _ctx(tmp_path))
    assert outcome.failed and "WF_TOOL_REGISTRY" in outcome.content
