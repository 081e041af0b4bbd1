"""AutoAct group planning (plan / tool / reflect) with the HotpotQA tools against a MediaWiki stand-in."""

import asyncio

import pytest
from workforce.core.toollearning.role_clients import make_roles
from workforce.core.toollearning.autoact_loop import AutoActLoop
from workforce.core.toollearning.hotpotqa_tools import HotpotQASession, ToolUnavailable

from tests.roles import support
from tests.roles.standins import StandIn
from tests.roles.support import reply, settings_for

QUESTION = "Who was once considered the best kick boxer in the world?"

scripted_llm = support.scripted_llm  # a fixture
llm = support.llm  # a fixture


@pytest.fixture
def wiki():
    with StandIn() as server:
        yield server


def _loop(llm, wiki, search=None, **kw) -> AutoActLoop:
    roles = make_roles(settings_for(llm, role_max_attempts=2), None, ("plan", "tool", "reflect"))
    return AutoActLoop(roles, HotpotQASession(wiki.url + "/w/api.php", 5, search=search), **kw)


def plan(thought, action):
    return reply("plan", {"thought": thought, "action_type": action})


def arg(text):
    return reply("tool", {"argument": text})


async def test_retrieve_lookup_finish_reflect_right(llm, wiki):
    llm.script(
        [
            plan("Find the kickboxer.", "Retrieve"),
            arg("Badr Hari"),
            plan("Check the controversies.", "Lookup"),
            arg("controversies"),
            plan("It is Badr Hari.", "Finish"),
            arg("Badr Hari"),
            reply("reflect", {"thought": "The page says so.", "verdict": "right"}),
        ]
    )
    episode = await asyncio.wait_for(_loop(llm, wiki).run(QUESTION), 60)
    assert not episode.failed and episode.answer == "Badr Hari" and episode.steps == 4
    observations = [t["value"] for t in episode.history if t["from"] == "observation"]
    assert observations[0].startswith("Badr Hari (born 8 December 1984)")
    assert observations[1].startswith("(Result 1/1) Hari has been involved in a number of controversies")
    assert observations[2] == "Please reflect your answer."
    assert episode.history[-1] == {"from": "action", "value": "Reflect[right]"}
    # the tool agent was asked for the argument of the chosen action type, with the scratchpad so far
    tool_prompts = [r["messages"][-1]["content"] for r in llm.requests() if r["role"] == "tool"]
    assert "Observation: Badr Hari (born 8 December 1984)" in tool_prompts[1]
    assert tool_prompts[1].rstrip().endswith("Action: Lookup[\n(Reply with a JSON object.)".rstrip())


async def test_reflect_wrong_then_second_finish_ends(llm, wiki):
    llm.script(
        [
            plan("Guess.", "Finish"),
            arg("Mike Tyson"),
            reply("reflect", {"thought": "Tyson is a boxer, not a kickboxer.", "verdict": "wrong"}),
            plan("Answer again.", "Finish"),
            arg("Badr Hari"),
        ]
    )
    episode = await asyncio.wait_for(_loop(llm, wiki).run(QUESTION), 60)
    assert not episode.failed and episode.answer == "Badr Hari"
    assert "The answer maybe wrong, please try to solve the question again." in [
        t["value"] for t in episode.history if t["from"] == "observation"
    ]


async def test_invalid_actions_are_observations(llm, wiki):
    llm.script(
        [
            plan("Look it up.", "Lookup"),
            arg("kickboxer"),
            plan("Reflect now.", "Reflect"),
            plan("Retrieve a missing page.", "Retrieve"),
            arg("Badr"),
            plan("Done.", "Finish"),
            arg("Badr Hari"),
            reply("reflect", {"thought": "ok", "verdict": "right"}),
        ]
    )
    episode = await asyncio.wait_for(_loop(llm, wiki).run(QUESTION), 60)
    observations = [t["value"] for t in episode.history if t["from"] == "observation"]
    assert observations[:3] == [
        "Lookup must follow Retrieve or Search.",
        "Invalid action. Reflect only follows the Finish action.",
        "Could not find Badr. Similar: ['Badr Hari'].",
    ]
    assert not episode.failed


async def test_max_steps_halts_failed(llm, wiki):
    llm.script(
        [plan("Keep retrieving.", "Retrieve"), arg("Paris")] * 1
        + [{**plan("Keep retrieving.", "Retrieve"), "times": 20}, {**arg("Paris"), "times": 20}]
    )
    episode = await asyncio.wait_for(_loop(llm, wiki, max_steps=4).run(QUESTION), 60)
    assert episode.failed and episode.steps == 4
    assert episode.reason == "halted after 4 steps without a confirmed answer"


async def test_search_is_not_offered_without_a_provider(llm, wiki):
    llm.script([plan("Search the web.", "Search")] * 2)
    loop = _loop(llm, wiki, search=None)
    assert [t["name"] for t in loop.tools] == ["Retrieve", "Lookup"]
    episode = await asyncio.wait_for(loop.run(QUESTION), 60)
    assert episode.failed and "unknown action type 'Search'" in episode.reason
    with pytest.raises(ToolUnavailable, match="no web search provider"):
        await loop.session.web_search("x")


async def test_search_through_a_provider(llm, wiki):
    async def search(query):
        return [f"Badr Hari: best kickboxer ({query})", "Other: nothing"]

    llm.script(
        [
            plan("Search the web.", "Search"),
            arg("best kickboxer"),
            plan("Check.", "Lookup"),
            arg("badr"),
            plan("Give an answer.", "Finish"),
            arg("Badr Hari"),
            reply("reflect", {"thought": "ok", "verdict": "right"}),
        ]
    )
    episode = await asyncio.wait_for(_loop(llm, wiki, search=search).run(QUESTION), 60)
    observations = [t["value"] for t in episode.history if t["from"] == "observation"]
    assert observations[0].startswith("Badr Hari: best kickboxer (best kickboxer)")
    assert observations[1] == "(Result 1/1) Badr Hari: best kickboxer (best kickboxer)"
    assert episode.answer == "Badr Hari"


async def test_invalid_plan_output_fails_with_reason(llm, wiki):
    llm.script([reply("plan", {"thought": "x", "action_type": "Teleport"}, times=5)])
    episode = await asyncio.wait_for(_loop(llm, wiki).run(QUESTION), 60)
    assert episode.failed and "unknown action type 'Teleport'" in episode.reason


def test_search_required_without_a_provider_is_a_startup_error(monkeypatch):
    from workforce.workers.tool import agent
    from workforce.core.toollearning.settings import ToolSettings

    monkeypatch.setattr(agent, "web_search_function", lambda timeout_s: None)  # worker-web has no provider
    with pytest.raises(ValueError, match="no web search provider is configured"):
        agent.ToolAgent(None, None, ToolSettings(tool_strategy="autoact", tool_autoact_search="on"))
