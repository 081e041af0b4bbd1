"""The α-UMi loop of worker-tool against scripted role models: success and every way it must fail."""

import asyncio
import json

import pytest
from workforce.core.toollearning.role_clients import make_roles
from workforce.core.toollearning.alpha_umi_loop import AlphaUmiConfig, AlphaUmiLoop
from workforce.workers.tools import Tool, ToolContext

from tests.roles import support
from tests.roles.support import reply, settings_for

LONG = "x" * 5000

scripted_llm = support.scripted_llm  # a fixture
llm = support.llm  # a fixture


async def _weather(ctx, city: str) -> str:
    return f"Sunny in {city}. " + (LONG if city == "Long" else "")


async def _slow(ctx, seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


TOOLS = [
    Tool(
        "get_weather",
        "Weather of a city.",
        {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        _weather,
        timeout_s=5,
    ),
    Tool(
        "slow_tool",
        "Takes its time.",
        {"type": "object", "properties": {"seconds": {"type": "number"}}, "required": ["seconds"]},
        _slow,
        timeout_s=0.3,
    ),
]
CALL = 'Action: get_weather\nAction Input: {"city": "Paris"}'


def _loop(llm, family="alpha-umi", **config) -> AlphaUmiLoop:
    settings = settings_for(llm, role_max_attempts=2)
    roles = make_roles(settings, None, ("planner", "caller", "summarizer"))
    return AlphaUmiLoop(roles, TOOLS, AlphaUmiConfig(family=family, **config))


def _ctx(tmp_path) -> ToolContext:
    return ToolContext("t1", "s1", "a1", "tool", settings_for.__globals__["ToolSettings"](), tmp_path)


async def run(loop, tmp_path, question="Weather in Paris?"):
    return await asyncio.wait_for(loop.run(question, _ctx(tmp_path)), 60)


async def test_planner_caller_tool_summarizer(llm, tmp_path):
    llm.script(
        [
            reply("planner", "I need the weather.\nNext: caller."),
            reply("caller", 'Action: get_weather\nAction Input: {"city": "Long"}'),
            reply("planner", "I have it.\nNext: conclusion."),
            reply("summarizer", "It is sunny in Paris.</s>"),
        ]
    )
    episode = await run(_loop(llm), tmp_path)
    assert not episode.failed, episode.reason
    assert episode.answer == "It is sunny in Paris."
    assert [t["from"] for t in episode.history] == [
        "user",
        "assistant",
        "caller",
        "observation",
        "assistant",
        "conclusion",
    ]
    observation = episode.history[3]["value"]
    assert len(observation) == 1024 and observation.startswith("Sunny in Long.")
    # the summarizer saw the training-format history with the observation in it
    prompt = llm.requests()[-1]["messages"][-1]["content"]
    assert prompt.startswith(
        "system: Make a conclusion based on the conversation history:\nuser: Weather in Paris?"
    )
    assert "observation: Sunny in Long." in prompt and prompt.endswith("Next: conclusion.</s> conclusion: ")
    assert episode.usage["planner"][2] == 2 and episode.tool_calls == 1


async def test_chat_family_loop(llm, tmp_path):
    llm.script(
        [
            reply("planner", {"thought": "weather", "next": "caller"}),
            reply("caller", {"name": "get_weather", "arguments": {"city": "Paris"}}),
            reply("planner", {"thought": "done", "next": "conclusion"}),
            reply("summarizer", "Sunny."),
        ]
    )
    episode = await run(_loop(llm, family="chat"), tmp_path)
    assert (episode.failed, episode.answer) == (False, "Sunny.")


async def test_give_up_fails_with_the_reason(llm, tmp_path):
    llm.script([reply("planner", "No tool can book flights.\nNext: give up.")])
    episode = await run(_loop(llm), tmp_path)
    assert episode.failed and episode.reason == "the planner gave up: No tool can book flights."


async def test_hallucinated_tool_name(llm, tmp_path):
    llm.script(
        [
            reply("planner", "Fly there.\nNext: caller.", times=5),
            reply("caller", "Action: teleport\nAction Input: {}", times=5),
        ]
    )
    episode = await run(_loop(llm), tmp_path)
    assert episode.failed
    assert "caller produced no valid output" in episode.reason and "unknown tool 'teleport'" in episode.reason
    assert episode.tool_calls == 0


async def test_invalid_json_arguments(llm, tmp_path):
    llm.script(
        [
            reply("planner", "Weather.\nNext: caller.", times=5),
            reply("caller", 'Action: get_weather\nAction Input: {"city": Paris}', times=5),
        ]
    )
    episode = await run(_loop(llm), tmp_path)
    assert episode.failed and "Action Input is not valid JSON" in episode.reason


async def test_arguments_against_the_schema(llm, tmp_path):
    llm.script(
        [
            reply("planner", "Weather.\nNext: caller.", times=5),
            reply("caller", 'Action: get_weather\nAction Input: {"town": "Paris"}', times=5),
        ]
    )
    episode = await run(_loop(llm), tmp_path)
    assert episode.failed and "'city' is a required property" in episode.reason


async def test_tool_timeout(llm, tmp_path):
    llm.script(
        [
            reply("planner", "Try the slow tool.\nNext: caller.", times=10),
            reply("caller", 'Action: slow_tool\nAction Input: {"seconds": 5}', times=10),
        ]
    )
    episode = await run(_loop(llm, max_tool_errors=2), tmp_path)
    assert episode.failed
    assert episode.reason == "tool calls failed 2 times in a row; last: slow_tool timed out after 0.3 s"
    assert episode.history[-1] == {"from": "observation", "value": "slow_tool timed out after 0.3 s"}


async def test_max_turns(llm, tmp_path):
    llm.script([reply("planner", "Again.\nNext: caller.", times=20), reply("caller", CALL, times=20)])
    episode = await run(_loop(llm, max_turns=3), tmp_path)
    assert episode.failed and episode.reason == "max turns (3) reached without a conclusion"
    assert episode.tool_calls == 3 and episode.steps == 3


async def test_dfs_backtracks_after_give_up(llm, tmp_path):
    llm.script(
        [
            reply("planner", "Try the weather tool.\nNext: caller."),
            reply("caller", CALL),
            reply("planner", "That did not help.\nNext: give up.", times=2),
            reply(
                "planner",
                "Answer from what I know.\nNext: conclusion.",
                contains="previous actions candidates",
            ),
            reply("summarizer", "Probably sunny."),
        ]
    )
    episode = await run(_loop(llm, dfs_width=2), tmp_path)
    assert not episode.failed, episode.reason
    assert episode.answer == "Probably sunny." and episode.branches == 3
    diversity = next(
        t["value"] for t in episode.history if t["from"] == "user" and "not the first time" in t["value"]
    )
    tried = json.loads(diversity[diversity.index("[") : diversity.rindex("]") + 1])
    assert tried[0]["name"] == "get_weather" and json.loads(tried[0]["arguments"]) == {"city": "Paris"}


async def test_dfs_exhausted_fails(llm, tmp_path):
    llm.script([reply("planner", "Nothing works.\nNext: give up.", times=10)])
    episode = await run(_loop(llm, dfs_width=2), tmp_path)
    assert episode.failed and episode.reason.startswith("the planner gave up: Nothing works.")
    assert "after 2 branches" in episode.reason


async def test_backend_down_fails_cleanly(tmp_path):
    settings = settings_for(type("Dead", (), {"base_url": "http://127.0.0.1:9/v1"})(), llm_timeout_s=2)
    loop = AlphaUmiLoop(
        make_roles(settings, None, ("planner", "caller", "summarizer")), TOOLS, AlphaUmiConfig()
    )
    episode = await run(loop, tmp_path)
    assert episode.failed and episode.reason.startswith("the planner failed:")


@pytest.mark.parametrize("roles", [{"planner": None}])
def test_missing_roles_is_a_clear_error(roles):
    with pytest.raises(ValueError, match="needs the roles"):
        AlphaUmiLoop(roles, TOOLS, AlphaUmiConfig())
