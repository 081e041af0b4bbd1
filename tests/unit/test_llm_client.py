"""The OpenAI-compatible client against a real HTTP server (the scripted LLM)."""

import pytest

from tests.support.scripted_llm import ScriptedLLM
from workforce.core.config import Settings
from workforce.core.llm.client import LLMError, OpenAIChat, UsageBook
from workforce.v1 import common_pb2


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    server = ScriptedLLM(log_dir=str(tmp_path_factory.mktemp("llm"))).start()
    yield server
    server.stop()


@pytest.fixture()
def client(scripted):
    scripted.reset()
    return OpenAIChat(Settings(llm_base_url=scripted.base_url, llm_model="m", llm_models="planner=big-planner",
                               llm_max_retries=0, llm_timeout_s=5))


async def test_structured_output_request_and_usage(client, scripted):
    scripted.script([{"role": "planner", "schema": "plan", "reply": {"content": {"subtasks": []}}}])
    result = await client.chat([{"role": "user", "content": "plan this"}], role="planner", task_id="t1",
                               json_schema={"type": "object"}, schema_name="plan")
    assert result.content == '{"subtasks": []}'
    assert result.prompt_tokens > 0 and result.completion_tokens > 0
    sent = scripted.requests()[-1]
    assert sent["model"] == "big-planner" and sent["schema"] == "plan" and sent["task"] == "t1"
    book = UsageBook()
    book.add("planner", result)
    record = common_pb2.TaskRecord()
    book.merge_into(record.usage)
    book.merge_into(record.usage)
    assert record.usage["planner"].requests == 2


async def test_tool_calls_are_returned(client, scripted):
    scripted.script([{"role": "worker:echo", "reply": {"tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]}}])
    result = await client.chat([{"role": "user", "content": "add"}], role="worker:echo",
                               tools=[{"type": "function", "function": {"name": "add", "parameters": {}}}])
    assert [c.name for c in result.tool_calls] == ["add"]
    assert result.tool_calls[0].parsed_arguments() == {"a": 1, "b": 2}
    assert result.assistant_message()["tool_calls"][0]["function"]["name"] == "add"


async def test_streaming(client, scripted):
    scripted.script([{"role": "chat", "reply": {"content": "a fairly long streamed answer"}}])
    pieces = [p async for p in client.stream([{"role": "user", "content": "hi"}], role="chat")]
    assert len(pieces) > 1 and "".join(pieces) == "a fairly long streamed answer"


async def test_backend_errors_become_llm_errors(client, scripted):
    scripted.script([{"role": "planner", "status": 500, "reply": {}}])
    with pytest.raises(LLMError, match="planner"):
        await client.chat([{"role": "user", "content": "x"}], role="planner")


async def test_unreachable_backend_is_a_clear_error():
    client = OpenAIChat(Settings(llm_base_url="http://127.0.0.1:9/v1", llm_max_retries=1, llm_timeout_s=2))
    with pytest.raises(LLMError, match="127.0.0.1:9"):
        await client.chat([{"role": "user", "content": "x"}], role="planner")
