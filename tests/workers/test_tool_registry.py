"""worker-tool's registry: OpenAPI HTTP tools, ToolBench documents and Python tools, called for real."""

import json

import pytest
from workforce.core.config import Settings
from workforce.workers.tool import spec
from workforce.workers.tool.registry import RegistryError, load_registry, openapi_tools, toolbench_tools
from workforce.workers.tools import Tool, ToolContext

from tests.roles.standins import OPENAPI, StandIn


async def _echo(ctx, text: str) -> str:
    return text.upper()


ECHO = Tool(
    "shout",
    "Upper-case a text.",
    {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
    _echo,
    timeout_s=2,
)


def python_tool_list():
    return [ECHO]


@pytest.fixture
def standin():
    with StandIn() as server:
        yield server


def _ctx(tmp_path):
    return ToolContext("t", "s", "a", "tool", Settings(), tmp_path)


async def test_openapi_operations_become_tools(standin, tmp_path):
    tools = {t.name: t for t in openapi_tools(OPENAPI, standin.url, timeout_s=5)}
    assert set(tools) == {"city_weather", "add_note"}
    weather = tools["city_weather"]
    assert weather.parameters["required"] == ["city"] and weather.description == "Current weather of a city."
    out = await weather.run(_ctx(tmp_path), {"city": "Paris", "units": "f"})
    assert out.ok and json.loads(out.text) == {"city": "Paris", "temperature": 21, "units": "f"}
    note = await tools["add_note"].run(_ctx(tmp_path), {"text": "hi"})
    assert json.loads(note.text) == {"id": 1, "text": "hi"} and standin.calls[-1] == (
        "POST",
        "/notes",
        {"text": "hi"},
    )
    bad = await weather.run(_ctx(tmp_path), {"units": "kelvin"})
    assert not bad.ok and "invalid arguments" in bad.text


async def test_toolbench_documents_become_tools(standin, tmp_path):
    docs = [
        {"Name": "quiz_for_moodring", "function": "Get one quiz by quizId.", "input": {"quizid": "string, "}}
    ]
    (tool,) = toolbench_tools(docs, standin.url + "/toolbench")
    assert tool.parameters["properties"]["quizid"]["type"] == "string"
    out = await tool.run(_ctx(tmp_path), {"quizid": "1"})
    assert out.ok and "quiz_for_moodring got {'quizid': '1'}" in out.text


async def test_registry_file_and_worker_spec(standin, tmp_path, monkeypatch):
    (tmp_path / "weather.json").write_text(json.dumps(OPENAPI))
    (tmp_path / "rapid.json").write_text(
        json.dumps([{"Name": "ping_for_x", "function": "Ping.", "input": {}}])
    )
    registry_file = tmp_path / "registry.yaml"
    registry_file.write_text(
        "python: ['tests.workers.test_tool_registry:python_tool_list']\n"
        f"openapi: [{{spec: weather.json, base_url: '{standin.url}', timeout_s: 3}}]\n"
        f"toolbench: [{{docs: rapid.json, endpoint: '{standin.url}/toolbench'}}]\n"
    )
    registry = load_registry(registry_file)
    assert [t.name for t in registry.all()] == ["shout", "city_weather", "add_note", "ping_for_x"]
    assert registry.tools["city_weather"].timeout_s == 3
    monkeypatch.setenv("WF_TOOL_REGISTRY", str(registry_file))
    worker = spec(Settings())
    assert worker.worker_type == "tool" and len(worker.tools) == 4 and "city_weather" in worker.description


def test_registry_errors_are_clear(tmp_path):
    with pytest.raises(RegistryError, match="cannot read the tool registry"):
        load_registry(tmp_path / "missing.yaml")
    with pytest.raises(RegistryError, match="not found"):
        (tmp_path / "r.json").write_text(json.dumps({"python": ["no.such.module:x"]}))
        load_registry(tmp_path / "r.json")
    with pytest.raises(RegistryError, match="servers"):
        openapi_tools({"paths": {}})
    with pytest.raises(RegistryError, match="two tools"):
        (tmp_path / "d.json").write_text(
            json.dumps({"python": ["tests.workers.test_tool_registry:python_tool_list"] * 2})
        )
        load_registry(tmp_path / "d.json")
