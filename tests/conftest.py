"""Fixtures every test folder may use."""

import pytest

from tests.support.scripted_llm import ScriptedLLM


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    """The scripted OpenAI-compatible server, one per test module."""
    server = ScriptedLLM(log_dir=str(tmp_path_factory.mktemp("llm"))).start()
    yield server
    server.stop()
