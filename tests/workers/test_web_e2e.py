"""worker-web end to end: gateway → planner → coordinator → worker-web (a separate OS process with its own
Chromium) over a real nats-server, with the scripted LLM. The worker is refused an internal address, reads a page
with fetch_page and a JavaScript page with the browser, and the task's answer carries what it found."""

import pytest

from tests.support.system import System

pytest_plugins = ["tests.workers.web_fixtures.fixtures"]


pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture(scope="module")
def system(tmp_path_factory, site):
    s = System(
        tmp_path_factory.mktemp("web-system"),
        workers={"web": 1},
        env={"WF_WEB_NET_ALLOWLIST": f"127.0.0.1:{site.port}", "WF_WEB_BROWSER_TIMEOUT_S": "20"},
    )
    s.start(timeout=120)
    yield s
    s.stop()


def call(name: str, **arguments) -> dict:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def test_a_web_task_through_the_whole_system(system, site, other):
    system.llm.script(
        [
            {
                "role": "worker:web",
                "contains": "The secret number is 42",
                "reply": {
                    "content": {
                        "content": "Tokyo has 37,400,068 inhabitants; the dashboard number is 42.",
                        "failed": False,
                    }
                },
            },
            {
                "role": "worker:web",
                "contains": "37,400,068",
                "reply": call("browser_open", url=site.url("/js.html")),
            },
            {
                "role": "worker:web",
                "contains": "is a loopback address",
                "reply": call("fetch_page", url=site.url("/article.html")),
            },
            {
                "role": "worker:web",
                "contains": "Your subtask",
                "reply": call("fetch_page", url=site.url("/redirect/internal")),
            },
        ]
    )
    task_id = system.submit("How many people live in Tokyo, and what number does the dashboard show? @web")[
        "task_id"
    ]
    record = system.wait(task_id, timeout=180)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", system.logs()
    assert "37,400,068" in record["answer"] and "42" in record["answer"]
    assert "worker:web" in record["usage"]

    events = system.events(task_id)
    calls = [e["data"] for e in events if e["type"] == "tool.call"]
    assert [(c["tool"], c["ok"]) for c in calls] == [
        ("fetch_page", False),
        ("fetch_page", True),
        ("browser_open", True),
    ]
    assert "loopback" in calls[0]["result"] and "INTERNAL SECRET" not in str(events)
    assert "The secret number is 42." in calls[2]["result"]
    assert other.hits("/secret") == []
    worker = next(p for p in system.http.get("/v1/workers").json()["pools"] if p["worker_type"] == "web")
    assert {"fetch_page", "browser_open", "wikipedia_page"} <= set(worker["tools"])
    assert "web_search" not in worker["tools"]   # no search provider configured here
    assert worker["replicas"] == 1
