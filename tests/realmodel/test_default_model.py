"""The real-model tier: `make run`'s path end to end on the default model (SmolLM2-135M-Instruct in the local
model server), offline. It asserts behaviour and structure, not the model's knowledge: every plan is valid,
every task ends with an answer or a short reason, the code worker really runs code, a cancel stops the model."""

import time

import httpx
import pytest

from tests.support.system import plan_events

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

TERMINAL = {"TASK_STATUS_SUCCEEDED", "TASK_STATUS_FAILED", "TASK_STATUS_CANCELLED"}


def assert_plans_valid(events: list[dict]) -> int:
    """Every plan the system ran: unique ids, known dependencies, no cycles. Returns how many there were."""
    known: set[str] = set()
    plans = plan_events(events)
    for event in plans:
        subtasks = event["data"]["subtasks"]
        ids = [s["id"] for s in subtasks]
        assert ids and len(set(ids)) == len(ids), event
        graph = {s["id"]: s["dependencies"] for s in subtasks}
        for deps in graph.values():
            assert all(d in graph or d in known for d in deps), event
        seen, order = set(), 0
        while len(seen) < len(graph):  # a topological order exists
            ready = {n for n, deps in graph.items() if n not in seen and all(d in seen or d in known for d in deps)}
            assert ready, f"cycle in {graph}"
            seen |= ready
            order += 1
        known |= set(ids)
    return len(plans)


def finish(local, task_id: str) -> tuple[dict, list[dict]]:
    events = local.events(task_id)
    record = local.http.get(f"/v1/tasks/{task_id}").json()
    assert record["status"] in TERMINAL, record
    if record["status"] == "TASK_STATUS_SUCCEEDED":
        assert record["answer"].strip(), record
    else:
        assert 0 < len(record["failure_reason"]) <= 400, record
    return record, events


def test_a_question_runs_end_to_end_and_the_code_worker_runs_code(local):
    task_id = local.http.post("/v1/tasks", json={"question": "What is 17 * 23? Check it with Python.",
                                                 "answer_format": "Answer with the number only."}).json()["task_id"]
    record, events = finish(local, task_id)
    assert assert_plans_valid(events) >= 1
    assert any(e["type"] == "plan.assigned" and (e.get("data") or {}).get("assignment") for e in events)
    runs = [e for e in events if e["type"] == "tool.call" and e["data"]["tool"] == "run_python"]
    assert runs, [e["type"] for e in events]
    # the sandbox really executed the model's code (a program that failed is a failed call with its exit status)
    assert any(e["data"]["ok"] or e["data"]["result"].startswith("exit status: ") for e in runs), runs
    assert int(record["usage"]["planner"]["requests"]) >= 1  # (int64 fields come as strings in JSON)
    for role, usage in record["usage"].items():
        assert int(usage["prompt_tokens"]) > 0 and int(usage["completion_tokens"]) > 0, (role, usage)


def test_a_csv_question_through_the_document_or_code_worker(local):
    csv = "region,units\nnorth,12\nsouth,7\neast,20\nwest,3\n"
    response = local.http.post("/v1/tasks/upload", data={"question": "What is the total of the units column in "
                                                        "sales.csv?", "answer_format": "Answer with the number only."},
                               files=[("files", ("sales.csv", csv.encode()))])
    assert response.status_code == 201, response.text
    record, events = finish(local, response.json()["task_id"])
    assert assert_plans_valid(events) >= 1
    assert any(e["type"] == "tool.call" for e in events)  # the file was read with a tool, not guessed


def test_cancel_stops_the_model_mid_call(local):
    task_id = local.http.post("/v1/tasks", json={
        "question": "Write a detailed plan to compare the populations of the ten largest cities of Europe, "
                    "then rank them and explain each step."}).json()["task_id"]
    local.events(task_id, until="task.planning")
    time.sleep(0.5)  # the planner's call to the model is under way
    assert local.http.post(f"/v1/tasks/{task_id}/cancel", json={}).json()["status"] == "TASK_STATUS_CANCELLED"
    deadline, busy = time.time() + 10, None
    while time.time() < deadline:
        metrics = httpx.get(f"{local.model_url}/metrics", timeout=5).text
        busy = next(float(line.split()[-1]) for line in metrics.splitlines()
                    if line.startswith("llamacpp:requests_processing"))
        if busy == 0:
            break
        time.sleep(0.2)
    assert busy == 0, "the model server kept working on a cancelled task"
    time.sleep(2)
    types = [e["type"] for e in local.events(task_id)]
    assert "plan.created" not in types and types[-1] == "task.cancelled", types
