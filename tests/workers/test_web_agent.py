"""worker-web's agent in one process: the tool-calling loop over the scripted LLM server, with the subtask's
browser context closed when the subtask ends, whether it finished, failed or was cancelled."""

import asyncio
import subprocess

import pytest
from workforce.core.config import Settings
from workforce.core.llm import ChatClient
from workforce.v1 import channel_pb2
from workforce.workers.agent import make_agent
from workforce.workers.web import spec

from .web_fixtures.helpers import make_ctx, web_settings

pytest_plugins = ["tests.workers.web_fixtures.fixtures"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def llm(tmp_path_factory):
    from tests.support.scripted_llm import ScriptedLLM

    server = ScriptedLLM(log_dir=str(tmp_path_factory.mktemp("llm"))).start()
    yield server
    try:
        server.stop()
    except subprocess.TimeoutExpired:  # uvicorn waits for the delayed reply of the cancelled subtask
        server.proc.kill()
        server.proc.wait(10)


@pytest.fixture(autouse=True)
def _fresh_script(llm):
    llm.reset()


@pytest.fixture(scope="module")
async def worker(site, llm):
    settings = Settings(llm_base_url=llm.base_url, llm_max_retries=0)
    worker_spec = spec(settings, web_settings(site))
    client = ChatClient(settings)
    yield make_agent(client, worker_spec, settings), worker_spec
    await client.close()
    await worker_spec.stop()


def item(attempt: str, subtask: str) -> channel_pb2.WorkItem:
    task, sub, _ = attempt.split("/")
    return channel_pb2.WorkItem(
        task_id=task,
        subtask_id=sub,
        attempt_id=attempt,
        worker_type="web",
        overall_task="Find facts about cities.",
        subtask=subtask,
    )


def call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


async def test_spec_registers_the_web_tools(worker, site):
    _, worker_spec = worker
    assert worker_spec.worker_type == "web"
    # web search only where a provider is configured (this fixture has none): a model would call it first, in vain
    assert "web_search" not in {t.name for t in worker_spec.tools}
    with_provider = spec(Settings(), web_settings(site, brave_api_key="key"))
    assert "web_search" in {t.name for t in with_provider.tools}
    await with_provider.stop()
    assert {
        "wikipedia_search",
        "wikipedia_page",
        "wikipedia_revisions",
        "archive_snapshot",
        "archive_history",
        "fetch_page",
        "browser_open",
        "browser_click",
        "browser_fill",
        "browser_screenshot",
    } <= {t.name for t in worker_spec.tools}


async def test_agent_uses_the_browser_and_closes_its_context(worker, llm, site, tmp_path):
    agent, _ = worker
    llm.script(
        [
            {
                "role": "worker:web",
                "contains": "The secret number is 42",
                "reply": {"content": {"content": "The dashboard shows 42.", "failed": False}},
            },
            {
                "role": "worker:web",
                "contains": "Your subtask",
                "reply": call("browser_open", url=site.url("/js.html")),
            },
        ]
    )
    ctx = make_ctx(tmp_path, "task-a/1/1")
    outcome = await agent.run(item("task-a/1/1", "Read the number on the dashboard"), ctx)
    assert (outcome.content, outcome.failed, outcome.tool_calls) == ("The dashboard shows 42.", False, 1)
    assert agent.web_tools.browser.sessions == {}
    tool_message = next(m for m in outcome.messages if m["role"] == "tool")
    assert "Interactive elements" in tool_message["content"]


async def test_context_closed_when_the_subtask_is_cancelled(worker, llm, site, tmp_path):
    agent, _ = worker
    llm.script(
        [
            {
                "role": "worker:web",
                "contains": "Rendered dashboard",
                "delay_ms": 8000,
                "reply": {"content": {"content": "too late", "failed": False}},
            },
            {
                "role": "worker:web",
                "contains": "Your subtask",
                "reply": call("browser_open", url=site.url("/js.html")),
            },
        ]
    )
    ctx = make_ctx(tmp_path, "task-b/1/1")
    run = asyncio.create_task(agent.run(item("task-b/1/1", "Read the dashboard slowly"), ctx))
    for _ in range(300):
        if "task-b/1/1" in agent.web_tools.browser.sessions and any(
            r["role"] == "worker:web" and "Rendered dashboard" in str(r["messages"]) for r in llm.requests()
        ):
            break
        await asyncio.sleep(0.1)
    session = agent.web_tools.browser.sessions["task-b/1/1"]
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await run
    assert "task-b/1/1" not in agent.web_tools.browser.sessions and session.page.is_closed()


async def test_a_refused_url_is_reported_and_the_agent_goes_on(worker, llm, site, other, tmp_path):
    agent, _ = worker
    llm.script(
        [
            {
                "role": "worker:web",
                "contains": "37,400,068",
                "reply": {"content": {"content": "Tokyo has 37,400,068 inhabitants.", "failed": False}},
            },
            {
                "role": "worker:web",
                "contains": "is a loopback address",
                "reply": call("fetch_page", url=site.url("/article.html")),
            },
            {
                "role": "worker:web",
                "contains": "Your subtask",
                "reply": call("fetch_page", url=other.url("/secret")),
            },
        ]
    )
    outcome = await agent.run(item("task-c/1/1", "Population of Tokyo"), make_ctx(tmp_path, "task-c/1/1"))
    assert outcome.content == "Tokyo has 37,400,068 inhabitants." and outcome.tool_calls == 2
    assert "INTERNAL SECRET" not in str(outcome.messages) and other.hits("/secret") == []
