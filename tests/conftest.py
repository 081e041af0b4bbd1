"""Fixtures every test folder may use (loaded by every tier, also the OpenRLHF one in its own virtualenv without
the services' packages: imports go inside the fixtures)."""

import pytest


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    """The scripted OpenAI-compatible server, one per test module."""
    from tests.support.scripted_llm import ScriptedLLM

    server = ScriptedLLM(log_dir=str(tmp_path_factory.mktemp("llm"))).start()
    yield server
    server.stop()


@pytest.fixture()
async def closes_llm_clients():
    """Closes the LLM clients a test's services or agents opened on its event loop."""
    yield
    from workforce.core.llm.client import close_clients

    await close_clients()
