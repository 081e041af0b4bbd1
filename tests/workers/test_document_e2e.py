"""worker-document end to end: gateway → planner → coordinator → worker-document (separate OS processes),
with a PDF attached to the task and the scripted LLM driving the worker's tool calls."""

import pytest

from tests.workers import document_fixtures as fx
from tests.workers.worker_helpers import task_events, tool_calls

# fixtures (nats_channel, scripted_llm, workers_system, …) are registered once for the session
pytest_plugins = ["tests.workers.worker_support"]
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_attached_pdf_is_read_by_the_document_worker(workers_system):
    system = workers_system
    system.llm.reset()
    system.llm.script(
        [
            {
                "role": "coordinator",
                "reply": {
                    "content": {
                        "assignments": [{"task_id": "1", "assignee_id": "document", "dependencies": []}]
                    }
                },
            },
            {
                "role": "worker:document",
                "contains": "Rotterdam shipped 1234 units",
                "reply": {"content": {"content": "Rotterdam shipped 1234 units in March.", "failed": False}},
            },
            {
                "role": "worker:document",
                "times": 1,
                "reply": {"tool_calls": [{"name": "read_document", "arguments": {"file": "report.pdf"}}]},
            },
        ]
    )
    response = system.http.post(
        "/v1/tasks/upload",
        data={"question": "How many units did Rotterdam ship in March, per the report?"},
        files=[("files", ("report.pdf", fx.pdf(), "application/pdf"))],
    )
    assert response.status_code == 201, response.text
    task_id = response.json()["task_id"]
    record = system.wait(task_id, timeout=120)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", system.logs()
    assert "1234 units" in record["answer"]
    assert record["files"][0]["name"] == "report.pdf"

    events = task_events(system, task_id)
    (call,) = tool_calls(events, "read_document")
    assert call["ok"] is True and "| Sprocket | 12 | 0.75 |" in call["result"]
    worker_requests = [
        r for r in system.llm.requests() if r["role"] == "worker:document" and r["task"] == task_id
    ]
    assert {t["function"]["name"] for t in worker_requests[0]["tools"]} >= {
        "read_document",
        "ask_image",
        "ask_audio",
    }
    assert "report.pdf (application/pdf" in worker_requests[0]["messages"][-1]["content"]
