"""Structured outputs (response_format json_schema, xgrammar on CPU) through our ChatClient client.

The base weights are random and the adapters were trained on α-UMi text only (never on JSON chat
answers), so any schema-valid answer can only come from grammar-constrained decoding. The schemas are
bounded (enums, patterns with a length, integer ranges) so that a random walk through the grammar must
finish within the token budget. Not `maxLength`: xgrammar 0.2.8 compiles a length-bounded string to
a character class that excludes only the quote, the backslash, CR and LF, so raw control characters
(U+0000-U+001F) get into the string: JSON that `json.loads` rejects (see docs/vllm-cpu.md).
"""

import json

import jsonschema
import pytest

from workforce.core.config import Settings
from workforce.core.llm.client import LLMError, ChatClient

from .server import BASE_NAME

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

PLAN_SCHEMA = {
    "type": "object",
    "properties": {
        "thought": {"type": "string", "pattern": "^[A-Za-z ,.]{1,24}$"},
        "next": {"type": "string", "enum": ["caller", "conclusion", "give up"]},
        "step": {"type": "integer", "minimum": 0, "maximum": 9},
        "done": {"type": "boolean"},
    },
    "required": ["thought", "next", "step", "done"],
    "additionalProperties": False,
}
CALL_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "enum": ["get_weather", "search"]},
        "arguments": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "pattern": "^[A-Za-z ]{1,12}$"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7},
            },
            "required": ["city", "days"],
            "additionalProperties": False,
        },
    },
    "required": ["name", "arguments"],
    "additionalProperties": False,
}


@pytest.fixture
async def chat(vllm):
    settings = Settings(llm_base_url=vllm.base_url, llm_model=BASE_NAME,
                        llm_models="planner=planner,caller=caller",
                        llm_max_retries=0, llm_timeout_s=300, llm_max_tokens=160, metrics_port=0)
    client = ChatClient(settings)
    yield client
    await client.close()


@pytest.mark.parametrize("role, model, schema", [
    ("coordinator", BASE_NAME, PLAN_SCHEMA),
    ("planner", "planner", PLAN_SCHEMA),
    ("caller", "caller", CALL_SCHEMA),
], ids=["base", "planner-adapter", "caller-adapter"])
async def test_schema_valid_json_from_an_untrained_model(chat, vllm, role, model, schema):
    before = vllm.requests_for(model)
    result = await chat.chat([{"role": "user", "content": "Decide the next step."}], role=role,
                             json_schema=schema, schema_name="step", temperature=0)
    assert result.model == model
    assert vllm.requests_for(model) == before + 1
    jsonschema.validate(json.loads(result.content), schema)
    assert result.completion_tokens < 160  # the grammar closed the object before the token budget ran out


async def test_a_schema_the_backend_rejects_is_a_clear_llm_error(chat):
    with pytest.raises(LLMError, match="planner: the model at .* answered HTTP 4"):
        await chat.chat([{"role": "user", "content": "x"}], role="planner",
                        json_schema={"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}})
