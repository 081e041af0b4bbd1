"""The OpenAI-compatible client against a real HTTP server (the scripted LLM)."""

import pytest

from workforce.core.config import Settings
from workforce.core.llm.client import LLMError, ChatClient, UsageBook, make_llm
from workforce.v1 import common_pb2


@pytest.fixture()
def client(scripted):
    scripted.reset()
    return ChatClient(Settings(llm_base_url=scripted.base_url, llm_model="m", llm_models="planner=big-planner",
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


async def test_adapter_model_names_select_their_lora_adapter(scripted):
    """WF_LLM_LORA_ADAPTERS: a model name that is a llama.cpp LoRA adapter gets llama.cpp's `lora` field with its id
    (chat and raw completions); other model names are sent as before. The result names the adapter."""
    scripted.reset()
    scripted.script([{"role": "caller", "reply": {"content": "Action: x"}, "times": 2},
                     {"role": "planner", "reply": {"content": "Next: caller"}}])
    client = ChatClient(Settings(llm_base_url=scripted.base_url, llm_model="m", llm_max_retries=0,
                                 llm_models="caller=aumi-caller,planner=aumi-planner",
                                 llm_lora_adapters="aumi-planner=0, aumi-caller=1"))
    chat = await client.chat([{"role": "user", "content": "go"}], role="caller")
    raw = await client.complete("prompt", role="caller")
    other = await client.chat([{"role": "user", "content": "go"}], role="planner")
    sent = scripted.requests()
    assert [r["lora"] for r in sent] == [[{"id": 1, "scale": 1.0}]] * 2 + [[{"id": 0, "scale": 1.0}]]
    assert (chat.adapter, raw.adapter, other.adapter) == ("aumi-caller", "aumi-caller", "aumi-planner")
    plain = ChatClient(Settings(llm_base_url=scripted.base_url, llm_model="m", llm_max_retries=0,
                                llm_lora_adapters="aumi-caller=x"))  # not an id: no adapter
    scripted.script([{"role": "caller", "reply": {"content": "ok"}}])
    result = await plain.chat([{"role": "user", "content": "go"}], role="caller")
    assert scripted.requests()[-1]["lora"] is None and result.adapter == ""
    await client.close()
    await plain.close()


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
    client = ChatClient(Settings(llm_base_url="http://127.0.0.1:9/v1", llm_max_retries=1, llm_timeout_s=2))
    with pytest.raises(LLMError, match="127.0.0.1:9"):
        await client.chat([{"role": "user", "content": "x"}], role="planner")


@pytest.mark.parametrize("rule, reason", [
    ({"raw_body": "<html><body>502 Bad Gateway</body></html>", "content_type": "text/html"}, "HTML body"),
    ({"raw_body": "\xff\xfe not json", "content_type": "application/json"}, "non-JSON body"),
    ({"raw_body": '{"choices": []}', "content_type": "application/json"}, "no choices"),
    ({"raw_body": '{"choices": [{"message": {"content": 7}}]}', "content_type": "application/json"}, "not text"),
    ({"raw_body": '["a list"]', "content_type": "application/json"}, "not a JSON object"),
    ({"raw_body": '{"error": {"message": "model overloaded"}}', "content_type": "application/json"}, "overloaded"),
    ({"raw_body": '{"choices": [{"message": {"tool_calls": [{"function": 3}]}}]}',
      "content_type": "application/json"}, "malformed tool call"),
    ({"status": 503, "raw_body": "upstream down"}, "HTTP 503: upstream down"),
    ({"status": 400, "raw_body": '{"error": "bad schema"}'}, "HTTP 400"),
])
async def test_every_backend_failure_is_a_model_error_with_a_reason(client, scripted, rule, reason):
    scripted.script([{"role": "planner", **rule}])
    with pytest.raises(LLMError, match=reason):
        await client.chat([{"role": "user", "content": "x"}], role="planner")


async def test_retries_are_bounded_then_succeed(scripted):
    client = ChatClient(Settings(llm_base_url=scripted.base_url, llm_max_retries=2, llm_timeout_s=5))
    scripted.reset()
    scripted.script([{"role": "planner", "times": 2, "status": 503, "raw_body": "busy"},
                     {"role": "planner", "reply": {"content": "fine"}}])
    assert (await client.chat([{"role": "user", "content": "x"}], role="planner")).content == "fine"
    assert len([r for r in scripted.requests() if r["role"] == "planner"]) == 3


async def test_a_slow_backend_times_out(scripted):
    client = ChatClient(Settings(llm_base_url=scripted.base_url, llm_max_retries=0, llm_timeout_s=0.3))
    scripted.reset()
    scripted.script([{"role": "planner", "delay_ms": 2000, "reply": {"content": "late"}}])
    with pytest.raises(LLMError, match="within 0.3 s") as info:
        await client.chat([{"role": "user", "content": "x"}], role="planner")
    assert info.value.kind == "timeout"


async def test_token_cap_is_sized_to_the_schema(client, scripted):
    scripted.script([{"role": "planner", "reply": {"content": {"answer": "x"}}}])
    schema = {"type": "object", "properties": {"answer": {"type": "string", "maxLength": 40}}, "required": ["answer"]}
    await client.chat([{"role": "user", "content": "x"}], role="planner", json_schema=schema, schema_name="a")
    assert scripted.requests()[-1]["max_tokens"] < 100
    await client.chat([{"role": "user", "content": "x"}], role="planner")
    assert scripted.requests()[-1]["max_tokens"] == client.settings.llm_max_tokens


def test_no_endpoint_is_a_clear_error():
    with pytest.raises(LLMError, match="WF_LLM_BASE_URL"):
        make_llm(Settings(llm_base_url=""))
