"""α-UMi episodes of worker-tool's loop over the role services (gRPC) against the real vLLM.

On the question the adapters were trained for, the episode must replay: planner → caller → tool →
observation → planner → summarizer → the answer. On any other question the adapters are as good as random,
so the course is not scripted; what must hold is that the episode ENDS within its turn budget with a clear
status: an answer, or `failed` with a reason from the loop's known endings — never a hang.
"""

import asyncio
import re

import pytest

from workforce.core.toollearning.role_clients import GrpcRole
from workforce.core.toollearning.role_clients import make_roles
from workforce.core.toollearning.alpha_umi_loop import AlphaUmiConfig, AlphaUmiLoop
from workforce.core.toollearning.settings import ToolSettings
from workforce.workers.tools import Tool, ToolContext

from . import role_adapters as episode

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

MAX_TURNS = 3
CLEAR_ENDINGS = re.compile(
    r"produced no valid output|max turns \(3\) reached without a conclusion"
    r"|tool calls failed \d+ times in a row|the planner gave up"
)


async def run_episode(role_services, question: str, tmp_path):
    calls = []

    async def get_weather(ctx, city: str) -> str:
        calls.append(city)
        return episode.OBSERVATION.replace("Paris", city)

    tool = episode.TOOL
    tools = [Tool(tool["name"], tool["description"], tool["parameters"], get_weather, timeout_s=5)]
    settings = ToolSettings(tool_role_addrs=",".join(f"{r}={a}" for r, a in role_services.items()),
                            llm_timeout_s=300, role_max_attempts=2, metrics_port=0)
    roles = make_roles(settings, None, ("planner", "caller", "summarizer"))
    assert all(isinstance(role, GrpcRole) for role in roles.values())  # the services, not in-process roles
    loop = AlphaUmiLoop(roles, tools, AlphaUmiConfig(family="alpha-umi", max_turns=MAX_TURNS, temperature=0))
    ctx = ToolContext("t", "s", "a", "tool", settings, tmp_path)
    try:
        result = await asyncio.wait_for(loop.run(question, ctx), 900)
    finally:
        for role in roles.values():
            await role.close()
    print(f"\nepisode {question!r}: failed={result.failed} steps={result.steps} "
          f"tool_calls={result.tool_calls} reason={result.reason!r} answer={result.answer!r}")
    return result, calls


async def test_the_trained_episode_replays_to_its_answer(role_services, vllm, tmp_path):
    before = {model: vllm.requests_for(model) for model in ("planner", "caller", "summarizer")}
    result, calls = await run_episode(role_services, episode.INSTRUCTION, tmp_path)
    assert not result.failed, result.reason
    assert result.answer == episode.ANSWER
    assert result.history == episode.history(6)
    assert (result.steps, result.tool_calls, calls) == (2, 1, ["Paris"])
    requests = {role: usage[2] for role, usage in result.usage.items()}
    assert requests == {"planner": 2, "caller": 1, "summarizer": 1}
    after = {model: vllm.requests_for(model) for model in before}
    assert {m: after[m] - before[m] for m in before} == {"planner": 2, "caller": 1, "summarizer": 1}


async def test_an_untrained_question_ends_with_a_clear_status(role_services, vllm, tmp_path):
    result, calls = await run_episode(role_services, "Book me a table for two in Rome tonight.", tmp_path)
    assert 1 <= result.steps <= MAX_TURNS
    assert result.tool_calls == len(calls)
    if result.failed:
        assert CLEAR_ENDINGS.search(result.reason), result.reason
        assert not result.answer
    else:
        assert result.answer.strip() and result.history[-1]["from"] == "conclusion"
