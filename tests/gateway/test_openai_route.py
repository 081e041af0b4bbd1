"""The OpenAI-compatible routes say what they cannot do instead of running a task without it: another model is a 404
model_not_found naming the models there are, tools / functions / a non-text response_format are a 400 naming the
field; GET /v1/models/{model} retrieves a model; streamed progress comes as delta.reasoning_content."""

import json

import openai
import pytest

from tests.gateway.test_api_errors import tasks_written

pytestmark = pytest.mark.e2e

HELLO = [{"role": "user", "content": "SUBTASKS:\n- say hello @echo"}]
TOOL = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}


def sdk(system, clients) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"http://127.0.0.1:{system.http_port}/v1", api_key=clients["alice"].key,
                         max_retries=0)


def test_an_unknown_model_is_a_404_model_not_found(system, clients):
    http, before = clients["alice"].http, tasks_written(system)
    listed = [m["id"] for m in http.get("/v1/models").json()["data"]]
    assert listed == ["workforce"]
    for response in (http.post("/v1/chat/completions", json={"model": "gpt-4", "messages": HELLO}),
                     http.get("/v1/models/gpt-4")):
        assert response.status_code == 404, response.text
        error = response.json()["error"]
        assert (error["code"], error["type"], error["param"]) == ("model_not_found", "invalid_request_error", "model")
        assert "'gpt-4'" in error["message"] and "workforce" in error["message"]
    client = sdk(system, clients)
    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert info.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")
    assert tasks_written(system) == before      # no task ran for them
    model = client.models.retrieve("workforce")
    assert (model.id, model.object, model.owned_by) == ("workforce", "model", "workforce")


@pytest.mark.parametrize("field, value", [
    ("tools", [TOOL]), ("tool_choice", "auto"), ("tool_choice", {"type": "function", "function": {"name": "x"}}),
    ("functions", [TOOL["function"]]), ("function_call", "auto"), ("response_format", {"type": "json_object"}),
    ("response_format", {"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object"}}}),
])
def test_what_a_task_cannot_do_is_refused_naming_the_field(system, clients, field, value):
    before = tasks_written(system)
    response = clients["alice"].http.post("/v1/chat/completions", json={"messages": HELLO, field: value})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert (error["param"], error["type"]) == (field, "invalid_request_error") and "not supported" in error["message"]
    assert tasks_written(system) == before


def test_text_response_format_and_no_tools_are_fine_and_progress_streams_as_reasoning(system, clients):
    client = sdk(system, clients)
    reply = client.chat.completions.create(model="workforce", messages=HELLO, response_format={"type": "text"},
                                           tool_choice="none")
    assert reply.choices[0].message.content.startswith("done: say hello")
    deltas = [c.choices[0].delta for c in client.chat.completions.create(model="workforce", messages=HELLO,
                                                                         stream=True) if c.choices]
    reasoning = [(d.model_extra or {}).get("reasoning_content") for d in deltas]
    assert any(r and r.startswith("[task.submitted] ") for r in reasoning), reasoning
    assert "".join(d.content or "" for d in deltas).startswith("done: say hello")
    # every reasoning chunk comes before the answer's first content chunk
    first_content = next(i for i, d in enumerate(deltas) if d.content)
    assert not any(reasoning[first_content:]), json.dumps(reasoning)
