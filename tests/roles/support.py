"""Shared by the role and worker-tool tests: the scripted LLM server and settings pointing at it."""

import atexit

import pytest
from workforce.core.toollearning.settings import ToolSettings

from tests.support.scripted_llm import ScriptedLLM

_SHARED: dict = {}


@pytest.fixture(scope="session")
def scripted_llm(tmp_path_factory):
    """One scripted server for every module that imports this fixture (started on first use)."""
    if "server" not in _SHARED:
        server = ScriptedLLM(log_dir=str(tmp_path_factory.getbasetemp())).start()
        _SHARED["server"] = server
        atexit.register(server.stop)
    return _SHARED["server"]


@pytest.fixture
def llm(scripted_llm):
    scripted_llm.reset()
    yield scripted_llm
    scripted_llm.reset()


def settings_for(llm: ScriptedLLM, **overrides) -> ToolSettings:
    # chat by default; test_generator also covers the /v1/completions path
    values = dict(
        llm_base_url=llm.base_url,
        llm_max_retries=0,
        llm_timeout_s=10,
        role_completion_api="chat",
        metrics_port=0,
        grpc_port=0,
        bind_host="127.0.0.1",
    )
    return ToolSettings(**(values | overrides))


def reply(role: str, content, times: int = 1, contains: str | None = None, delay_ms: int = 0) -> dict:
    rule = {"role": role, "times": times, "reply": {"content": content}, "delay_ms": delay_ms}
    if contains:
        rule["contains"] = contains
    return rule
