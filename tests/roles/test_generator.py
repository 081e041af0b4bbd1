"""RoleGenerator against the scripted OpenAI-compatible server: both families, validation, retries."""

import pytest
from workforce.core.llm.client import ChatClient
from workforce.core.toollearning.backend import RoleBackend
from workforce.core.toollearning.generator import RoleGenerator, RoleRequest
from workforce.core.toollearning.messages import CallerAction, AlphaUmiPlannerStep, RoleOutputError

from tests.roles import support
from tests.roles.support import reply, settings_for

TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather of a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }
]

scripted_llm = support.scripted_llm  # a fixture
llm = support.llm  # a fixture


def _generator(llm, **overrides) -> RoleGenerator:
    settings = settings_for(llm, **overrides)
    return RoleGenerator(settings, RoleBackend(settings, ChatClient(settings)))


async def test_chat_planner_uses_structured_output(llm):
    llm.script([reply("planner", {"thought": "Need the weather.", "next": "caller"})])
    result = await _generator(llm).generate(RoleRequest("planner", "Weather in Paris?", TOOLS, family="chat"))
    assert result.message == AlphaUmiPlannerStep("Need the weather.", "caller")
    request = llm.requests()[-1]
    assert request["role"] == "planner" and request["schema"] == "planner_output"


async def test_alpha_umi_prompt_is_sent_verbatim(llm):
    llm.script([reply("caller", 'Action: get_weather\nAction Input: {"city": "Paris"}</s>')])
    history = [
        {"from": "user", "value": "Weather in Paris?"},
        {"from": "assistant", "value": "Call the weather API.\nNext: caller."},
    ]
    result = await _generator(llm).generate(
        RoleRequest("caller", "Weather in Paris?", TOOLS, history, family="alpha-umi")
    )
    assert result.message == CallerAction("get_weather", {"city": "Paris"})
    sent = llm.requests()[-1]["messages"][-1]["content"]
    assert sent == "system: " + result.prompt
    assert result.prompt.endswith(
        "The thought of this step is:\nCall the weather API.\nNext: caller.\n"
        "Base on the thought make an api call in the following format:\n"
        "Action: the name of api that should be called in this step, should be exactly in "
        "[get_weather],\nAction Input: the api call request. caller: "
    )
    assert '{"Name": "get_weather", "function": "Weather of a city.", "input": {"city": "string, "}}' in sent


async def test_invalid_output_is_retried_with_feedback(llm):
    llm.script(
        [
            reply("caller", {"name": "get_weather", "arguments": {"town": 1}}),
            reply("caller", {"name": "get_weather", "arguments": {"city": "Paris"}}),
        ]
    )
    history = [{"from": "user", "value": "Weather?"}, {"from": "assistant", "value": "call it"}]
    result = await _generator(llm).generate(RoleRequest("caller", "Weather?", TOOLS, history, family="chat"))
    assert result.attempts == 2 and result.message.arguments == {"city": "Paris"}
    retry = llm.requests()[-1]["messages"]
    assert (
        "That reply is invalid" in retry[-1]["content"]
        and "'city' is a required property" in retry[-1]["content"]
    )


async def test_every_attempt_invalid_raises_with_reasons(llm):
    llm.script([reply("caller", "Action: launch_rocket\nAction Input: {}", times=5)])
    with pytest.raises(RoleOutputError) as err:
        await _generator(llm, role_max_attempts=2).generate(
            RoleRequest(
                "caller", "Weather?", TOOLS, [{"from": "user", "value": "Weather?"}], family="alpha-umi"
            )
        )
    assert err.value.attempts == 2 and "unknown tool 'launch_rocket'" in str(err.value)
    assert err.value.last_output.startswith("Action: launch_rocket")
    assert len(llm.requests()) == 2


async def test_bad_requests_are_rejected_before_any_call(llm):
    gen = _generator(llm)
    with pytest.raises(ValueError, match="unknown role"):
        await gen.generate(RoleRequest("judge", "x"))
    with pytest.raises(ValueError, match="needs at least one tool"):
        await gen.generate(RoleRequest("caller", "x", [], family="chat"))
    with pytest.raises(ValueError, match="unknown prompt family"):
        await gen.generate(RoleRequest("planner", "x", TOOLS, family="klingon"))
    assert llm.requests() == []


async def test_autoact_roles(llm):
    tools = [{"name": "Retrieve", "description": "Retrieve[entity] ..."}]
    llm.script(
        [
            reply("plan", {"thought": "Look up Paris.", "action_type": "Retrieve"}),
            reply("tool", {"argument": "Paris"}),
            reply("reflect", "Thought: it matches.\nAction: Reflect[right]"),
        ]
    )
    gen = _generator(llm)
    plan = await gen.generate(RoleRequest("plan", "Capital of France?", tools, family="chat"))
    assert (plan.message.thought, plan.message.action_type) == ("Look up Paris.", "Retrieve")
    history = [{"from": "thought", "value": "Look up Paris."}, {"from": "action", "value": "Retrieve"}]
    tool = await gen.generate(RoleRequest("tool", "Capital of France?", tools, history, family="chat"))
    assert tool.message.argument == "Paris"
    assert "Action: Retrieve[" in llm.requests()[-1]["messages"][-1]["content"]
    reflect = await gen.generate(RoleRequest("reflect", "Capital of France?", tools, history, family="chat"))
    assert reflect.message.verdict == "right"


async def test_alpha_umi_family_uses_the_completions_endpoint(llm):
    """The training-format prompt goes to /v1/completions as plain text (no chat template on top)."""
    llm.script([reply("planner", "The weather API answers this.\nNext: caller.</s>")])
    gen = _generator(llm, role_completion_api="completions")
    result = await gen.generate(RoleRequest("planner", "Weather in Paris?", TOOLS, family="alpha-umi"))
    assert result.message == AlphaUmiPlannerStep("The weather API answers this.", "caller")
    sent = llm.requests()[-1]
    assert "messages" not in sent and sent["prompt"] == "system: " + result.prompt
