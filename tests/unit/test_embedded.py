"""The embedded model (transformers, in-process) with a tiny random model: schema-valid JSON every time."""

import asyncio
import json
import socket
import time

import jsonschema
import pytest
import torch
from lmformatenforcer import JsonSchemaParser
from prometheus_client import REGISTRY

from workforce.coordinator.prompts import assign_messages, assign_schema
from workforce.core.config import Settings
from workforce.core.llm import LLMError, make_llm
from workforce.core.llm.constrained import completion, parser_schema
from workforce.core.llm.embedded import EmbeddedChat
from workforce.core.llm.embedded_load import check_available
from workforce.planner.prompts import decompose_messages, plan_schema

MAX_NEW = 96
WORKERS = [
    {"id": "worker-web", "description": "searches and browses the web"},
    {"id": "worker-document", "description": "reads files"},
    {"id": "worker-code", "description": "runs Python"},
]
TOOLS = [
    {"type": "function", "function": {
        "name": "search", "description": "Search the web.",
        "parameters": {"type": "object",
                       "properties": {"query": {"type": "string"}, "n": {"type": "integer"}},
                       "required": ["query"]}}},
    {"type": "function", "function": {
        "name": "fetch_page", "description": "Fetch a web page.",
        "parameters": {"type": "object", "properties": {"url": {"type": "string", "maxLength": 100}},
                       "required": ["url"]}}},
]


@pytest.fixture(scope="module")
def embedded(tiny_model_dir):
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WF_EMBEDDED_THREADS", "1")  # the CI machine's 2 cores are shared by many processes
        settings = Settings(embedded_model=str(tiny_model_dir), embedded_max_new_tokens=MAX_NEW)
        chat = EmbeddedChat.from_settings(settings)
    assert torch.get_num_threads() == 1
    yield chat
    torch.set_num_threads(threads)


def _requests(role: str, model: str, outcome: str = "ok") -> float:
    labels = {"role": role, "model": model, "outcome": outcome}
    return REGISTRY.get_sample_value("workforce_llm_requests_total", labels) or 0.0


@pytest.mark.parametrize("question,temperature", [
    ("What is the population of Paris divided by the population of Berlin?", 0.0),
    ("Summarise the attached report and plot its table.", 0.8),
    ("Find the weather in Tokyo, then write a haiku about it.", 1.5),
])
async def test_plan_is_always_schema_valid(embedded, question, temperature):
    schema = plan_schema(4)
    before = _requests("planner", embedded.model_name)
    result = await embedded.chat(decompose_messages(question, "", [], WORKERS, 4), role="planner",
                                 json_schema=schema, schema_name="plan", temperature=temperature)
    plan = json.loads(result.content)
    jsonschema.validate(plan, schema)
    assert 1 <= len(plan["subtasks"]) <= 4
    assert result.prompt_tokens > 50 and 0 < result.completion_tokens <= MAX_NEW
    assert result.model == embedded.model_name
    assert _requests("planner", embedded.model_name) == before + 1


@pytest.mark.parametrize("temperature", [0.0, 1.0])
async def test_assignment_is_always_schema_valid(embedded, temperature):
    ids = ["t1.1", "t1.2", "t1.3"]
    schema = assign_schema(ids, [w["id"] for w in WORKERS], ids)
    subtasks = [{"id": i, "content": f"step {n}"} for n, i in enumerate(ids)]
    result = await embedded.chat(assign_messages("Plan a trip", subtasks, WORKERS, []), role="coordinator",
                                 json_schema=schema, temperature=temperature, max_tokens=160)
    data = json.loads(result.content)
    jsonschema.validate(data, schema)
    assert len(data["assignments"]) == 3
    assert result.completion_tokens <= 160


async def test_unbounded_schema_still_finishes_within_a_small_budget(embedded):
    # No maxLength, no maxItems, free-form values: only the token budget bounds the output. Also tiny
    # strings, integers and numbers, where the parser alone would let some invalid documents through.
    schema = {"type": "object", "properties": {
        "notes": {"type": "array", "items": {"type": "string"}},
        "extra": {"type": "object"},
        "any": {},
        "title": {"type": "string"},
        "code": {"type": "string", "maxLength": 1},
        "count": {"type": "integer"},
        "score": {"type": "number"}},
        "required": ["title", "notes", "extra", "any", "code", "count", "score"]}
    for temperature in (0.0, 1.0, 2.0):
        result = await embedded.chat([{"role": "user", "content": "Write notes."}], role="test",
                                     json_schema=schema, temperature=temperature, max_tokens=64)
        jsonschema.validate(json.loads(result.content), schema)
        assert result.completion_tokens <= 64


TRICKY = {"type": "object", "properties": {
    "n": {"type": "integer"}, "x": {"type": "number"}, "any": {},
    "tags": {"type": "array", "items": {"type": "string"}},
    "code": {"type": "string", "enum": ["alpha", "beta"]}}, "required": ["n", "x", "any", "tags", "code"]}


@pytest.mark.parametrize("schema,prefix", [
    (plan_schema(4), ''),
    (plan_schema(4), '{"subtasks": [{"content": "Search the web for'),
    (plan_schema(4), '{"subtasks": [{"id": "1", "content": "a", "dependencies": ["x'),
    (TRICKY, '{"n": -12'),
    (TRICKY, '{"x": 3.5, "any": {"k": [1, "tr'),
    (TRICKY, '{"code": "al'),
])
def test_greedy_completion_finishes_any_valid_prefix(schema, prefix):
    parser = JsonSchemaParser(parser_schema(schema))
    for char in prefix:
        parser = parser.add_character(char)
    rest = completion(parser, set(map(chr, range(32, 127))), 400)
    assert rest is not None and len(rest) < 120
    jsonschema.validate(json.loads(prefix + rest), schema)


async def test_schema_that_cannot_fit_the_budget_is_a_clear_error(embedded):
    ids = ["t1.1", "t1.2", "t1.3"]
    schema = assign_schema(ids, ["worker-web"], ids)
    with pytest.raises(LLMError, match="WF_EMBEDDED_MAX_NEW_TOKENS"):
        await embedded.chat([{"role": "user", "content": "assign"}], role="coordinator", json_schema=schema,
                            max_tokens=5)


async def test_free_text_and_stream(embedded):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello."}]
    result = await embedded.chat(messages, role="worker:echo", max_tokens=12)
    assert isinstance(result.content, str) and not result.tool_calls
    assert result.prompt_tokens > 5 and 0 < result.completion_tokens <= 12
    deltas = [d async for d in embedded.stream(messages, role="worker:echo", max_tokens=12)]
    assert deltas and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas) == result.content  # greedy: the same text, streamed
    labels = {"role": "worker:echo", "model": embedded.model_name, "kind": "completion"}
    tokens = REGISTRY.get_sample_value("workforce_llm_tokens_total", labels)
    assert tokens >= 2 * result.completion_tokens - 1


async def test_tool_calls_name_the_given_tools(embedded):
    torch.manual_seed(1234)
    names = {t["function"]["name"]: t["function"]["parameters"] for t in TOOLS}
    messages = [{"role": "user", "content": "What is the weather in Berlin?"},
                {"role": "assistant", "content": None, "tool_calls": [
                    {"id": "call_1", "type": "function",
                     "function": {"name": "search", "arguments": '{"query": "Berlin weather"}'}}]},
                {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"}]
    calls = []
    for _ in range(10):
        result = await embedded.chat(messages, role="worker:web", tools=TOOLS, temperature=1.0, max_tokens=48)
        if not result.tool_calls:
            assert isinstance(result.content, str)  # the model chose to answer
        for call in result.tool_calls:
            assert call.name in names
            jsonschema.validate(call.parsed_arguments(), names[call.name])
            assert result.assistant_message()["tool_calls"][0]["function"]["name"] in names
        calls += result.tool_calls
    assert calls, "ten sampled turns never called a tool"
    assert len({c.id for c in calls}) == len(calls)


async def test_event_loop_stays_responsive_while_generating(embedded):
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    await embedded.chat([{"role": "user", "content": "Plan."}], role="planner", json_schema=plan_schema(4))
    elapsed = time.perf_counter() - started
    task.cancel()
    assert ticks >= min(20, elapsed / 0.005 / 4)


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_hub_model_without_network_fails_fast_with_the_fix(monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", _closed_port_url())  # the hub is unreachable, as on an offline machine
    settings = Settings(llm_base_url="", embedded_model=Settings.model_fields["embedded_model"].default)
    started = time.perf_counter()
    with pytest.raises(LLMError) as info:
        make_llm(settings)
    assert time.perf_counter() - started < 30
    message = str(info.value)
    assert "\n" not in message
    assert "could not be loaded" in message and settings.embedded_model in message
    assert "WF_EMBEDDED_MODEL=" in message and "WF_LLM_BASE_URL=" in message


def test_missing_or_empty_local_directory_is_a_clear_error(tmp_path, tiny_model_dir):
    with pytest.raises(LLMError, match="no such model directory.*WF_EMBEDDED_MODEL="):
        EmbeddedChat.from_settings(Settings(embedded_model=str(tmp_path / "absent")))
    with pytest.raises(LLMError, match="has no config.json.*WF_LLM_BASE_URL="):
        check_available(str(tmp_path))
    assert check_available(str(tiny_model_dir)) is False  # loadable, nothing to download
