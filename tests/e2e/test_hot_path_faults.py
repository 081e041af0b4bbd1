"""The paths a crash or a stall takes through the coordinator's hot path, against real processes: a coordinator
killed between committing a transition and publishing its outbox, replicas of the coordinator and the planner
killed together, a frozen worker's subtask dead-lettered and replanned, a task deadline enforced by the sweeper.
After each, the task's events keep their causal order and nothing is recorded twice."""

import time

import pytest

from tests.support.system import System, dispatches, stored_events

pytestmark = pytest.mark.e2e

THREE = "Fault task {i}. SUBTASKS:\n- part A of {i} @echo\n- part B of {i} @echo\n- part C of {i} @echo"


def assert_causal_order(events: list[dict]) -> None:
    """Sequences increase; per attempt dispatched < started, succeeded, each at most once; the answer comes
    after task.synthesizing (when there is one); exactly one terminal event, the last one; every event has a message id (a retried
    publish is stored once)."""
    missing = [e["type"] for e in events if not e.get("_msg_id")]
    assert not missing, f"events without a message id: {missing}"
    seqs = [int(e.get("seq", 0)) for e in events]
    assert seqs == sorted(seqs), seqs
    kinds = [e["type"] for e in events]
    terminal = [k for k in kinds if k in ("task.succeeded", "task.failed", "task.cancelled")]
    assert len(terminal) == 1 and kinds[-1] == terminal[0], kinds
    seen: dict[tuple, int] = {}
    for index, dispatched in dispatches(events):
        key = ("dispatched", dispatched["attempt_id"])
        assert key not in seen, f"{key} recorded twice: {kinds}"
        seen[key] = index
    for index, e in enumerate(events):
        attempt = (e.get("data") or {}).get("attempt_id", "")
        if e["type"] in ("subtask.started", "subtask.succeeded", "subtask.failed") and attempt:
            key = (e["type"], attempt)
            if e["type"] != "subtask.started":   # a redelivered work item starts again: that is two starts
                assert key not in seen, f"{key} recorded twice: {kinds}"
            seen.setdefault(key, index)
    for (kind, attempt), index in seen.items():
        if kind != "dispatched":
            dispatched = seen.get(("dispatched", attempt))
            assert dispatched is not None and dispatched < index, f"{kind} of {attempt} before its dispatch: {kinds}"
    for kind in ("task.submitted", "task.planning", "plan.created", "task.synthesizing", "task.succeeded"):
        assert kinds.count(kind) <= 1, kinds
    plans = 1 + kinds.count("plan.replanned")   # one assignment per plan version
    assert kinds.count("plan.assigned") <= plans, kinds
    if "task.succeeded" in kinds and "task.synthesizing" in kinds:   # sent only for a slow synthesis
        assert kinds.index("task.synthesizing") < kinds.index("task.succeeded"), kinds


def _wait_exit(service, timeout: float = 30) -> None:
    deadline = time.time() + timeout
    while service.alive():
        assert time.time() < deadline, f"{service.name} did not exit"
        time.sleep(0.1)


def test_a_coordinator_killed_between_commit_and_publish_loses_and_repeats_nothing(tmp_path):
    marker = tmp_path / "crashed"
    system = System(tmp_path, workers={"echo": 2},
                    env={"WF_FAULT_CRASH_AFTER_COMMIT": f"result:{marker}"}).start()
    try:
        task_id = system.submit(THREE.format(i=1))["task_id"]
        victim = system.services["coordinator"][0]
        _wait_exit(victim)     # committed the first result's transition, published nothing of it
        victim.killed = True
        assert marker.exists()
        system.start_service("coordinator")   # the marker is there: this one does not crash
        record = system.wait(task_id, timeout=60)
        assert record["status"] == "TASK_STATUS_SUCCEEDED", record
        assert record["subtasks_done"] == 3
        events = stored_events(system.nats.url, task_id)
        assert_causal_order(events)
        assert sum(1 for e in events if e["type"] == "subtask.succeeded") == 3
    finally:
        system.stop()


def test_one_of_two_coordinators_and_one_of_two_planners_killed_together(tmp_path):
    system = System(tmp_path, workers={"echo": 2}).start()
    try:
        system.llm.script([], default_delay_ms=300)
        system.start_service("coordinator")
        system.start_service("planner")
        tasks = [system.submit(THREE.format(i=i))["task_id"] for i in range(6)]
        time.sleep(1.0)
        killed_at = time.time()
        for name in ("coordinator", "planner"):
            victim = system.services[name][0]
            victim.killed = True
            victim.kill()
        for task_id in tasks:
            record = system.wait(task_id, timeout=60)
            assert record["status"] == "TASK_STATUS_SUCCEEDED", record
            assert_causal_order(stored_events(system.nats.url, task_id))
        assert time.time() - killed_at < 30, f"took {time.time() - killed_at:.1f} s"
    finally:
        system.stop()


def test_a_dead_workers_subtask_is_dead_lettered_failed_and_replanned(tmp_path):
    """A worker killed mid-subtask never acks: its item reaches max deliveries (1 here), the dead letter fails the
    subtask, the planner replans, and a live worker finishes the replacement."""
    system = System(tmp_path, workers={"echo": 1}, env={"WF_MAX_DELIVER": "1", "WF_ACK_WAIT_S": "2"}).start()
    try:
        system.llm.script([{"role": "worker:echo", "contains": "stuck step", "times": 1, "delay_ms": 60_000,
                            "reply": {"content": {"content": "never seen", "failed": False}}}])
        task_id = system.submit("SUBTASKS:\n- stuck step @echo")["task_id"]
        deadline = time.time() + 20
        while not [r for r in system.llm.requests() if r["role"] == "worker:echo"]:
            assert time.time() < deadline, "the worker never started"
            time.sleep(0.1)
        dead = system.services["worker-echo"][0]
        dead.killed = True
        dead.kill()
        system.start_service("worker-echo")
        record = system.wait(task_id, timeout=60)
        assert record["status"] == "TASK_STATUS_SUCCEEDED", record
        assert record["replans"] == 1
        events = stored_events(system.nats.url, task_id)
        failed = [e for e in events if e["type"] == "subtask.failed"]
        assert len(failed) == 1 and "dead letter" in failed[0]["message"], failed
        assert any(e["type"] == "replan.requested" for e in events)
        assert_causal_order(events)
    finally:
        system.stop()


def test_a_task_past_its_deadline_ends_failed_and_its_work_stops(tmp_path):
    """The sweeper (or the next message, whichever comes first) ends the task at its deadline; nothing of it runs
    on after."""
    system = System(tmp_path, workers={"echo": 1},
                    env={"WF_TASK_TIMEOUT_S": "4", "WF_SWEEP_PERIOD_S": "0.5"}).start()
    try:
        system.llm.script([{"role": "worker:echo", "times": 1, "delay_ms": 60_000,
                            "reply": {"content": {"content": "never seen", "failed": False}}}])
        started = time.time()
        task_id = system.submit("SUBTASKS:\n- a very long step @echo")["task_id"]
        record = system.wait(task_id, timeout=30)
        assert record["status"] == "TASK_STATUS_FAILED", record
        assert "deadline" in record["failure_reason"]
        assert time.time() - started < 12
        events = stored_events(system.nats.url, task_id)
        assert_causal_order(events)
        kinds = [e["type"] for e in events]
        assert "subtask.succeeded" not in kinds and "task.succeeded" not in kinds, kinds
        assert "subtask.failed" in kinds or "subtask.cancelled" in kinds, kinds
    finally:
        system.stop()
