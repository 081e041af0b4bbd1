"""Parsing and validating role outputs into typed messages."""

import pytest
from workforce.core.toollearning import chat_format as chat
from workforce.core.toollearning.messages import CallerAction, InvalidOutput, AlphaUmiPlannerStep
from workforce.core.toollearning.parsers import (
    parse_caller,
    parse_conclusion,
    parse_autoact_plan,
    parse_alpha_umi_planner,
    parse_reflection,
    parse_tool_argument,
)

SCHEMAS = {
    "get_quiz": {"type": "object", "properties": {"quizid": {"type": "string"}}, "required": ["quizid"]},
    "ping": {},
}


@pytest.mark.parametrize(
    "text,step",
    [
        ("Fetch the quiz first.\n Next: caller.", AlphaUmiPlannerStep("Fetch the quiz first.", "caller")),
        ("All known.\nNext: conclusion.</s>conclusion: ignored", AlphaUmiPlannerStep("All known.", "conclusion")),
        ("Nothing works. Next: give up.", AlphaUmiPlannerStep("Nothing works.", "give up")),
        ("Next: Caller", AlphaUmiPlannerStep("", "caller")),
    ],
)
def test_planner(text, step):
    assert parse_alpha_umi_planner(text) == step


def test_untagged_planner_output():
    with pytest.raises(InvalidOutput, match="no 'Next: caller"):
        parse_alpha_umi_planner("I will think more")
    assert parse_alpha_umi_planner("I will think more", default_next="conclusion") == AlphaUmiPlannerStep(
        "I will think more", "conclusion"
    )


def test_caller_valid_forms():
    text = 'Action: get_quiz\nAction Input: {\n  "quizid": "1"\n}</s>'
    assert parse_caller(text, SCHEMAS) == CallerAction("get_quiz", {"quizid": "1"})
    assert parse_caller("Action: ping", SCHEMAS) == CallerAction("ping", {})
    # the last Action line wins, as in the evaluator
    assert parse_caller("Action: nope\nAction: ping\nAction Input: {}", SCHEMAS).name == "ping"
    # trailing text after the JSON object is ignored
    assert parse_caller('Action: ping\nAction Input: {"x": 1} thanks', SCHEMAS).arguments == {"x": 1}


@pytest.mark.parametrize(
    "text,message",
    [
        ("I would call something", "no 'Action:' line"),
        ("Action: \nAction Input: {}", "names no tool"),
        ("Action: fly\nAction Input: {}", "unknown tool 'fly'; the tools are: get_quiz, ping"),
        ('Action: get_quiz\nAction Input: {"quizid": 1', "not valid JSON"),
        ('Action: get_quiz\nAction Input: ["1"]', "must be a JSON object, got list"),
        ('Action: get_quiz\nAction Input: {"quizid": 1}', "at quizid: 1 is not of type 'string'"),
        ("Action: get_quiz\nAction Input: {}", "'quizid' is a required property"),
    ],
)
def test_caller_invalid(text, message):
    with pytest.raises(InvalidOutput, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_caller(text, SCHEMAS)


def test_conclusion():
    assert parse_conclusion("conclusion: 42</s>").answer == "42"
    with pytest.raises(InvalidOutput, match="empty answer"):
        parse_conclusion("  </s>")


def test_autoact_parsers():
    step = parse_autoact_plan("Thought: find him.\nAction: retrieve[Badr Hari]", ["Retrieve", "Finish"])
    assert (step.thought, step.action_type) == ("find him.", "Retrieve")
    with pytest.raises(InvalidOutput, match="unknown action type 'Search'"):
        parse_autoact_plan("Thought: x\nAction: Search", ["Retrieve", "Finish"])
    assert parse_tool_argument("Badr Hari]\nObservation: x").argument == "Badr Hari"
    assert parse_tool_argument("Retrieve[Badr Hari]").argument == "Badr Hari"
    assert parse_tool_argument("Retrieve[Badr Hari]\nObservation: [x]").argument == "Badr Hari"
    with pytest.raises(InvalidOutput):
        parse_tool_argument("  ")
    reflection = parse_reflection("Thought: the page agrees.\nAction: Reflect[ Right ]")
    assert (reflection.thought, reflection.verdict) == ("the page agrees.", "right")
    with pytest.raises(InvalidOutput, match="Reflect"):
        parse_reflection("Thought: fine\nAction: Finish[x]")


def test_chat_family_parse():
    tools = [{"name": "ping", "description": "", "parameters": {}}]
    assert chat.parse("planner", '{"thought": "t", "next": "Give up."}', tools) == AlphaUmiPlannerStep("t", "give up")
    assert chat.parse("caller", '```json\n{"name": "ping", "arguments": "{}"}\n```', tools) == CallerAction(
        "ping", {}
    )
    with pytest.raises(InvalidOutput, match="'next' must be"):
        chat.parse("planner", '{"thought": "t", "next": "maybe"}', tools)
    with pytest.raises(InvalidOutput, match="not JSON"):
        chat.parse("caller", "call ping please", tools)


def test_structured_output_schemas_bound_the_thought():
    from workforce.core.toollearning import autoact_format as autoact

    planner = chat.schema_for("planner", [], thought_chars=50)
    assert planner["properties"]["thought"]["maxLength"] == 50
    assert "maxLength" not in chat.PLANNER_SCHEMA["properties"]["thought"]
    caller = chat.schema_for("caller", [{"name": "ping"}, {"name": "pong"}])
    assert caller["properties"]["name"]["enum"] == ["ping", "pong"]
    plan = autoact.schema_for("plan", [{"name": "Retrieve"}], thought_chars=10)
    assert plan["properties"]["action_type"]["enum"] == ["Retrieve", "Finish", "Reflect"]
    assert plan["properties"]["thought"]["maxLength"] == 10
