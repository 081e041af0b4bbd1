"""Crashes and cancellation: kill -9 of a worker or of the coordinator mid-task, cancel mid-task."""

import time

import pytest

from tests.support.system import System, stored_events

pytestmark = pytest.mark.e2e


def wait_event(system, task_id, kind, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        events = _events_so_far(system, task_id)
        found = [e for e in events if e["type"] == kind]
        if found:
            return found[0], events
        time.sleep(0.1)
    raise TimeoutError(f"no {kind} event for {task_id}:\n{system.logs()}")


def _events_so_far(system, task_id):
    """Events stored so far, read with the gRPC-free HTTP stream and a short read timeout."""
    import json

    import httpx

    out = []
    try:
        with system.http.stream("GET", f"/v1/tasks/{task_id}/events", timeout=httpx.Timeout(2, read=0.7)) as r:
            for line in r.iter_lines():
                if line.startswith("data:"):
                    out.append(json.loads(line[5:]))
    except httpx.ReadTimeout:
        pass
    return out


@pytest.fixture()
def crash_system(tmp_path):
    s = System(tmp_path, workers={"echo": 2})
    s.start()
    yield s
    s.stop()


def test_kill_worker_mid_subtask_another_replica_finishes_it(crash_system):
    system = crash_system
    system.llm.script([{"role": "worker:echo", "contains": "slow job", "delay_ms": 2500,
                        "reply": {"content": {"content": "slow job finished", "failed": False}}}])
    task_id = system.submit("SUBTASKS:\n- slow job @echo")["task_id"]
    started, _ = wait_event(system, task_id, "subtask.started")
    victim_instance = started["data"]["instance"]
    victim = next(s for s in system.services["worker-echo"] if victim_instance.endswith(f"-{s.pid}"))
    victim.killed = True
    victim.kill()
    record = system.wait(task_id, timeout=60)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", record
    events = system.events(task_id)
    starts = [e for e in events if e["type"] == "subtask.started"]
    assert len(starts) >= 2 and starts[-1]["data"]["instance"] != victim_instance
    assert [e["type"] for e in events].count("subtask.succeeded") == 1
    plan = system.http.get(f"/v1/tasks/{task_id}/plan").json()
    assert plan["subtasks"][0]["worker_instance"] != victim_instance
    assert plan["subtasks"][0]["result"] == "slow job finished"


def test_kill_coordinator_mid_task_a_restarted_one_resumes(crash_system):
    system = crash_system
    system.llm.script([{"role": "worker:echo", "contains": "long step", "delay_ms": 2000,
                        "reply": {"content": {"content": "long step done", "failed": False}}}])
    task_id = system.submit("SUBTASKS:\n- long step @echo\n- after step after:1")["task_id"]
    wait_event(system, task_id, "subtask.started")
    coordinator = system.services["coordinator"][0]
    coordinator.killed = True
    coordinator.kill()
    time.sleep(2.5)  # the worker's result now waits in the coordinator's inbox
    system.start_service("coordinator")
    record = system.wait(task_id, timeout=60)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", record
    assert "long step done" in record["answer"]
    kinds = [e["type"] for e in system.events(task_id)]
    assert kinds.count("subtask.succeeded") == 2 and kinds.count("task.succeeded") == 1


def test_cancel_mid_task_stops_the_workers(crash_system):
    system = crash_system
    system.llm.script([{"role": "worker:echo", "contains": "wait a while",
                        "reply": {"tool_calls": [{"name": "wait", "arguments": {"seconds": 60}}]}}])
    task_id = system.submit("SUBTASKS:\n- wait a while @echo")["task_id"]
    wait_event(system, task_id, "subtask.started")
    time.sleep(0.5)
    response = system.http.post(f"/v1/tasks/{task_id}/cancel", json={"reason": "user changed their mind"})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "TASK_STATUS_CANCELLED"
    deadline, kinds = time.time() + 15, []
    while "subtask.cancelled" not in kinds and time.time() < deadline:  # the worker says it stopped
        time.sleep(0.3)
        kinds = [e["type"] for e in stored_events(system.nats.url, task_id)]
    assert "subtask.cancelled" in kinds, kinds
    assert system.get(task_id)["status"] == "TASK_STATUS_CANCELLED"
    assert [k for k in kinds if k.startswith("task.")][-1] == "task.cancelled"
    assert "tool.call" not in kinds  # the 60 s wait never completed
    assert [e["type"] for e in system.events(task_id)][-1] == "task.cancelled"  # watchers end there
    again = system.http.post(f"/v1/tasks/{task_id}/cancel")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    # The pool is free again: a new task runs to the end.
    system.llm.reset()
    follow_up = system.submit("Quick one @echo")["task_id"]
    assert system.wait(follow_up)["status"] == "TASK_STATUS_SUCCEEDED"


@pytest.mark.parametrize("service, role", [("coordinator", "coordinator"), ("planner", "planner")])
def test_a_killed_busy_replica_hands_over_within_seconds(crash_system, service, role):
    """kill -9 of a planner or coordinator in the middle of its model call: the message moves to the live replica
    after the control ack wait (6 s), not after a minute."""
    system = crash_system
    system.llm.script([{"role": role, "times": 1, "delay_ms": 30_000, "reply": {"content": "never seen"}}])
    task_id = system.submit("SUBTASKS:\n- one step @echo")["task_id"]
    deadline = time.time() + 20
    while not [r for r in system.llm.requests() if r["role"] == role and r["task"] == task_id]:
        assert time.time() < deadline, "the busy call never started"
        time.sleep(0.1)
    system.start_service(service)  # a second replica, idle
    time.sleep(1.0)
    victim = system.services[service][0]
    victim.killed = True
    victim.kill()
    killed_at = time.time()
    record = system.wait(task_id, timeout=60)
    assert record["status"] == "TASK_STATUS_SUCCEEDED", record
    assert time.time() - killed_at < 20, f"took {time.time() - killed_at:.1f} s to recover"


async def _write_half_submitted(nats_url: str, task_id: str, question: str, idem: str = "") -> None:
    """What a gateway killed mid-submit leaves behind: the record (and its idempotency key), nothing else."""
    from workforce.core.channel import connect
    from workforce.core.config import Settings
    from workforce.v1 import common_pb2

    channel = await connect(Settings(nats_url=nats_url))
    try:
        record = common_pb2.TaskRecord(task_id=task_id, status=common_pb2.TASK_STATUS_QUEUED, question=question,
                                       owner="test")
        record.created_at.GetCurrentTime()
        record.created_at.seconds -= 60
        await channel.active.put(task_id, b"1")
        await channel.tasks.create(task_id, record.SerializeToString())
        if idem:
            await channel.idempotency.put(idem, task_id.encode())
    finally:
        await channel.close()


def test_a_submit_cut_short_is_finished_by_the_sweeper(tmp_path):
    import asyncio

    from workforce.core.ids import new_task_id

    system = System(tmp_path, workers={"echo": 1}, env={"WF_SUBMIT_GRACE_S": "1"}).start()
    try:
        task_id = new_task_id()
        asyncio.run(_write_half_submitted(system.nats.url, task_id, "left half-written"))
        record = system.wait(task_id, timeout=30)
        assert record["status"] == "TASK_STATUS_SUCCEEDED", record
        assert [e["type"] for e in system.events(task_id)][0] == "task.submitted"
    finally:
        system.stop()


def test_an_idempotent_retry_finishes_a_submit_cut_short(crash_system):
    import asyncio
    import hashlib

    from workforce.core.ids import new_task_id

    system = crash_system
    task_id = new_task_id()
    idem = hashlib.sha256(b"test\0retry-me").hexdigest()
    asyncio.run(_write_half_submitted(system.nats.url, task_id, "half-written, then retried", idem))
    again = system.submit("half-written, then retried", idempotency_key="retry-me")
    assert again["task_id"] == task_id
    assert system.wait(task_id, timeout=30)["status"] == "TASK_STATUS_SUCCEEDED"
