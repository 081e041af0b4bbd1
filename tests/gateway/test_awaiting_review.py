"""A task waiting for plan review: GET /v1/tasks/{id}/events?follow=false gives the events it has now, then the
stream ends; and plan decisions that are refused name the field at fault.

The snapshot: the events a task has now, then the stream ends — also for a task that
waits (here for a plan review) and would keep a following stream open for as long as it waits."""

import time

from tests.gateway.test_tenancy import sse_events

TASK = "Snapshot me. SUBTASKS:\n- one @echo\n- two @echo"


def wait_for(client, task_id: str, status: str, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if client.http.get(f"/v1/tasks/{task_id}").json().get("status") == status:
            return
        time.sleep(0.1)
    raise TimeoutError(f"{task_id} never reached {status}")


def test_a_snapshot_of_a_waiting_task_ends_at_its_last_event(clients):
    alice = clients["alice"]
    task_id = alice.submit(TASK, review_plan=True)
    wait_for(alice, task_id, "TASK_STATUS_AWAITING_APPROVAL")
    started = time.monotonic()
    events = sse_events(alice, task_id, follow="false")          # the hub's history (submitted to this gateway)
    assert time.monotonic() - started < 10
    types = [e["type"] for e in events]
    assert types[0] == "task.submitted" and types[-1] == "approval.requested", types
    later = sse_events(alice, task_id, follow="false", from_seq=events[1]["seq"])   # read from the stream
    assert later == events[1:]
    past = sse_events(alice, task_id, follow="false", from_seq=int(events[-1]["seq"]) + 1)
    assert past == []
    assert clients["bob"].http.get(f"/v1/tasks/{task_id}/events", params={"follow": "false"}).status_code == 404
    rejected = alice.http.post(f"/v1/tasks/{task_id}/plan/reject", json={"reason": "only a snapshot test"})
    assert rejected.status_code == 200, rejected.text


def test_plan_decisions_and_page_tokens_name_the_field_at_fault(clients):
    alice = clients["alice"]
    task_id = alice.submit(TASK, review_plan=True)
    wait_for(alice, task_id, "TASK_STATUS_AWAITING_APPROVAL")
    cases = [("reject", {"reason": " "}, 400, "reason"),
             ("approve", {"comment": "x" * 5000}, 400, "comment"),
             ("approve", {"comment": "bad \x1b char"}, 400, "comment"),
             ("approve", {"plan_version": 99}, 409, "plan_version"),
             ("approve", {"subtasks": [{"id": "1", "content": "loops back", "worker_type": "echo",
                                        "dependencies": ["1"]}]}, 400, "subtasks")]
    for verb, body, status, param in cases:
        answer = alice.http.post(f"/v1/tasks/{task_id}/plan/{verb}", json=body)
        assert (answer.status_code, answer.json()["error"]["param"]) == (status, param), (body, answer.text)
    listed = alice.http.get("/v1/tasks", params={"page_token": "not-a-token"})
    assert (listed.status_code, listed.json()["error"]["param"]) == (400, "page_token")
    assert alice.http.post(f"/v1/tasks/{task_id}/plan/reject", json={"reason": "done"}).status_code == 200
