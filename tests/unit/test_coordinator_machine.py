"""The coordinator's transitions on a plan, without I/O."""

from workforce.coordinator import dag
from workforce.coordinator.assign import AssignmentError, validate
from workforce.coordinator.machine import Effects, Machine
from workforce.core.channel.events import event_data
from workforce.core.config import Settings
from workforce.v1 import channel_pb2, common_pb2

import pytest

S = common_pb2


def plan_with(*specs) -> channel_pb2.PlanState:
    plan = channel_pb2.PlanState(task_id="t1", question="q", status=S.TASK_STATUS_PLANNING)
    ready = channel_pb2.PlanReady()
    assignments = {}
    for sid, deps in specs:
        ready.subtasks.add(subtask_id=sid, content=f"do {sid}", dependencies=deps)
        assignments[sid] = ("echo", deps)
    Machine(Settings()).on_plan(plan, ready, assignments, Effects())
    return plan


def result(plan, sid, failed=False, content="ok"):
    sub = dag.by_id(plan)[sid]
    return channel_pb2.SubtaskResult(task_id="t1", subtask_id=sid, attempt_id=sub.attempt_id, failed=failed,
                                     content=content)


def subjects(plan):
    return [e.subject for e in plan.outbox]


def test_ready_subtasks_are_dispatched_at_once_and_dependents_wait():
    plan = plan_with(("1", []), ("2", []), ("3", ["1", "2"]))
    assert subjects(plan).count("wf.work.echo") == 2
    machine = Machine(Settings())
    machine.on_result(plan, result(plan, "1"), Effects())
    assert subjects(plan).count("wf.work.echo") == 2
    machine.on_result(plan, result(plan, "2"), Effects())
    assert subjects(plan).count("wf.work.echo") == 3
    item = channel_pb2.WorkItem.FromString([e for e in plan.outbox if e.subject == "wf.work.echo"][-1].payload)
    assert [d.subtask_id for d in item.dependencies] == ["1", "2"]


def events(plan) -> list[channel_pb2.TaskEvent]:
    return [channel_pb2.TaskEvent.FromString(e.payload) for e in plan.outbox if e.subject.startswith("wf.events.")]


def test_dispatches_are_listed_in_the_event_that_caused_them_ahead_of_the_work_items():
    import json

    plan = plan_with(("1", []), ("2", []), ("3", ["1", "2"]))
    assert subjects(plan) == ["wf.events.t1", "wf.work.echo", "wf.work.echo"]   # the event first
    (assigned,) = events(plan)
    data = event_data(assigned)
    assert assigned.type == "plan.assigned"
    assert [(d["subtask_id"], d["worker_type"]) for d in data["dispatched"]] == [("1", "echo"), ("2", "echo")]
    machine = Machine(Settings())
    del plan.outbox[:]   # as the engine does: each transition queues a new outbox
    machine.on_result(plan, result(plan, "1"), Effects())
    assert [e.type for e in events(plan)] == ["subtask.succeeded"] and "dispatched" not in event_data(events(plan)[0])
    done = result(plan, "2")
    done.trajectory_json = json.dumps({"messages": [{"role": "user", "content": "do 2"}], "tool_calls": 0})
    del plan.outbox[:]
    machine.on_result(plan, done, Effects())
    (succeeded,) = events(plan)
    data = event_data(succeeded)
    assert [d["subtask_id"] for d in data["dispatched"]] == ["3"]
    assert data["trajectory"]["messages"][0]["content"] == "do 2"   # the worker's history rides in its outcome
    assert subjects(plan) == ["wf.events.t1", "wf.work.echo"]


def test_duplicate_and_stale_results_are_ignored():
    plan = plan_with(("1", []))
    machine = Machine(Settings())
    stale = result(plan, "1")
    stale.attempt_id = "t1/1/0"
    machine.on_result(plan, stale, Effects())
    assert dag.by_id(plan)["1"].status == S.SUBTASK_STATUS_DISPATCHED
    effects = Effects()
    machine.on_result(plan, result(plan, "1"), effects)
    machine.on_result(plan, result(plan, "1"), effects)
    assert effects.subtask_results == [("echo", "done")]
    assert plan.status == S.TASK_STATUS_SYNTHESIZING


def test_failure_asks_for_a_replan_until_the_threshold():
    plan = plan_with(("1", []), ("2", ["1"]))
    machine = Machine(Settings(replan_threshold=2))
    machine.on_result(plan, result(plan, "1", failed=True, content="blocked"), Effects())
    assert plan.replans == 1 and "wf.planner.requests" in subjects(plan)
    replacement = channel_pb2.PlanReady(plan_version=1, replaced_subtask_id="1")
    replacement.subtasks.add(subtask_id="1.r1.1", content="other way", dependencies=[])
    machine.on_plan(plan, replacement, {"1.r1.1": ("echo", [])}, Effects())
    assert list(dag.by_id(plan)["2"].dependencies) == ["1.r1.1"]
    assert dag.by_id(plan)["1.r1.1"].failures == 1
    effects = Effects()
    machine.on_result(plan, result(plan, "1.r1.1", failed=True, content="blocked again"), effects)
    assert plan.status == S.TASK_STATUS_FAILED
    assert plan.failure_reason == ("subtask 1.r1.1 failed: blocked again (2 failures with the subtasks it replaces; "
                                   "replan threshold 2)"), plan.failure_reason   # the cause first
    assert effects.finished == S.TASK_STATUS_FAILED
    assert dag.by_id(plan)["2"].status == S.SUBTASK_STATUS_CANCELLED


def test_replan_keeps_done_subtasks():
    plan = plan_with(("1", []), ("2", ["1"]), ("3", ["2"]))
    machine = Machine(Settings())
    machine.on_result(plan, result(plan, "1", content="fact"), Effects())
    machine.on_result(plan, result(plan, "2", failed=True), Effects())
    replacement = channel_pb2.PlanReady(plan_version=1, replaced_subtask_id="2")
    replacement.subtasks.add(subtask_id="2.r1.a", content="alt", dependencies=["1"])
    machine.on_plan(plan, replacement, {"2.r1.a": ("echo", ["1"])}, Effects())
    index = dag.by_id(plan)
    assert index["1"].status == S.SUBTASK_STATUS_DONE and index["1"].result == "fact"
    assert index["2.r1.a"].status == S.SUBTASK_STATUS_DISPATCHED


def test_deadlines():
    plan = plan_with(("1", []))
    plan.deadline.FromSeconds(100)
    Machine(Settings()).on_deadlines(plan, 101, Effects())
    assert plan.status == S.TASK_STATUS_FAILED and plan.failure_reason == "task deadline exceeded"


def test_assignment_validation_names_bad_ids():
    subtasks = [channel_pb2.Subtask(subtask_id="1", content="a"), channel_pb2.Subtask(subtask_id="2", content="b")]
    ok = validate({"assignments": [{"task_id": "1", "assignee_id": "web", "dependencies": []},
                                   {"task_id": "2", "assignee_id": "code", "dependencies": ["1"]}]},
                  subtasks, {"web", "code"}, set())
    assert ok == {"1": ("web", []), "2": ("code", ["1"])}
    with pytest.raises(AssignmentError, match="unknown worker id 'chef'"):
        validate({"assignments": [{"task_id": "1", "assignee_id": "chef"}]}, subtasks, {"web"}, set())
    with pytest.raises(AssignmentError, match="without an assignment: 2"):
        validate({"assignments": [{"task_id": "1", "assignee_id": "web"}]}, subtasks, {"web"}, set())


def test_assignment_keyed_form_and_repairs():
    subtasks = [channel_pb2.Subtask(subtask_id="1", content="a"),
                channel_pb2.Subtask(subtask_id="2", content="b", dependencies=["1"])]
    assert validate({"assignments": {"1": "web", "2": "code"}}, subtasks, {"web", "code"}, set()) == \
        {"1": ("web", []), "2": ("code", ["1"])}
    repairs = []
    out = validate({"assignments": [{"task_id": "1", "assignee_id": "web", "dependencies": ["2", "9", "1"]},
                                    {"task_id": "2", "assignee_id": "web"}, {"task_id": "7", "assignee_id": "web"},
                                    {"task_id": "2", "assignee_id": "code"}]},
                   subtasks, {"web", "code"}, set(), repairs)
    assert out == {"1": ("web", []), "2": ("web", ["1"])}   # the added 1 → 2 would close a cycle with 2 → 1
    assert len(repairs) == 5, repairs


def test_work_items_carry_the_tasks_metadata():
    # workers read no task record (their NATS identity may not): the item hands them the task's metadata
    from workforce.coordinator.machine import new_plan
    plan = new_plan(common_pb2.TaskRecord(task_id="t1", question="q", metadata={"temperature": "0.9"}))
    ready = channel_pb2.PlanReady()
    ready.subtasks.add(subtask_id="1", content="do 1")
    Machine(Settings()).on_plan(plan, ready, {"1": ("echo", [])}, Effects())
    (entry,) = [e for e in plan.outbox if e.subject == "wf.work.echo"]
    assert dict(channel_pb2.WorkItem.FromString(entry.payload).metadata) == {"temperature": "0.9"}
