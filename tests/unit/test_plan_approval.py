"""Plan approval as coordinator transitions (no I/O) and the checks on an edited plan."""

import pytest

from workforce.coordinator import approval, dag
from workforce.coordinator.machine import Effects, Machine
from workforce.core.channel.events import event_data
from workforce.core.config import Settings
from workforce.core.plan_edit import PlanEditError, changes, check_edit
from workforce.v1 import channel_pb2, common_pb2

S = common_pb2
APPROVE, REJECT = channel_pb2.APPROVAL_VERDICT_APPROVE, channel_pb2.APPROVAL_VERDICT_REJECT


def ready_with(*specs, replaced="", version=0):
    ready = channel_pb2.PlanReady(plan_version=version, replaced_subtask_id=replaced)
    assignments = {}
    for sid, deps in specs:
        ready.subtasks.add(subtask_id=sid, content=f"do {sid}", dependencies=deps)
        assignments[sid] = ("echo", deps)
    return ready, assignments


def reviewed_plan(*specs, review_replans=False):
    plan = channel_pb2.PlanState(task_id="t1", question="q", status=S.TASK_STATUS_PLANNING, review_plan=True,
                                 review_replans=review_replans)
    ready, assignments = ready_with(*specs)
    Machine(Settings()).on_plan(plan, ready, assignments, Effects())
    return plan


def events(plan):
    return [channel_pb2.TaskEvent.FromString(e.payload) for e in plan.outbox if e.subject.startswith("wf.events.")]


def decision(verdict=APPROVE, version=0, subtasks=(), reason="", who="alice"):
    d = channel_pb2.ApprovalDecision(plan_version=version, verdict=verdict, reason=reason, decided_by=who, via="http",
                                     subtasks=list(subtasks))
    d.decided_at.GetCurrentTime()
    return d


def test_a_reviewed_plan_waits_and_dispatches_nothing():
    plan = reviewed_plan(("1", []), ("2", ["1"]))
    assert plan.status == S.TASK_STATUS_AWAITING_APPROVAL
    assert not plan.subtasks and [p.plan_version for p in plan.proposals] == [0]
    assert [s.assignee for s in plan.proposals[0].subtasks] == ["echo", "echo"]
    assert not [e for e in plan.outbox if e.subject.startswith("wf.work.")]
    requested = [e for e in events(plan) if e.type == "approval.requested"]
    assert len(requested) == 1 and event_data(requested[0])["kind"] == "plan"
    assert [s["id"] for s in event_data(requested[0])["subtasks"]] == ["1", "2"]


def test_approval_runs_the_plan_as_proposed():
    plan = reviewed_plan(("1", []), ("2", ["1"]))
    approval.on_decision(Machine(Settings()), plan, decision(), Effects())
    assert plan.status == S.TASK_STATUS_RUNNING and not plan.proposals
    assert [s.subtask_id for s in dag.dispatched(plan)] == ["1"]
    approved = [e for e in events(plan) if e.type == "approval.approved"]
    assert approved and event_data(approved[0])["decided_by"] == "alice"


def test_an_edit_replaces_the_plan_and_records_what_changed():
    plan = reviewed_plan(("1", []), ("2", ["1"]))
    edited = check_edit([{"id": "1", "content": "do 1 carefully", "worker_type": "echo", "dependencies": []},
                         {"id": "3", "content": "new step", "worker_type": "echo", "dependencies": ["1"]}],
                        plan.proposals[0], plan, 12, {"echo"})
    approval.on_decision(Machine(Settings()), plan, decision(subtasks=edited), Effects())
    assert [s.subtask_id for s in plan.subtasks] == ["1", "3"]
    assert dag.by_id(plan)["1"].content == "do 1 carefully"
    event = next(e for e in events(plan) if e.type == "approval.edited")
    diff = event_data(event)["changes"]
    assert diff["added"] == ["3"] and diff["dropped"] == ["2"]
    assert diff["changed"][0]["id"] == "1" and diff["changed"][0]["content"][1] == "do 1 carefully"


def test_a_rejection_fails_the_task_with_the_reason_and_a_late_decision_is_ignored():
    plan = reviewed_plan(("1", []))
    machine = Machine(Settings())
    approval.on_decision(machine, plan, decision(REJECT, reason="too broad"), Effects())
    assert plan.status == S.TASK_STATUS_FAILED and "too broad" in plan.failure_reason
    assert "alice" in plan.failure_reason
    before = plan.SerializeToString()
    approval.on_decision(machine, plan, decision(), Effects())
    assert plan.SerializeToString() == before


def test_a_decision_for_another_version_is_ignored():
    plan = reviewed_plan(("1", []))
    approval.on_decision(Machine(Settings()), plan, decision(version=3), Effects())
    assert plan.status == S.TASK_STATUS_AWAITING_APPROVAL and len(plan.proposals) == 1


def test_replans_are_held_only_when_asked_and_other_subtasks_keep_running():
    machine = Machine(Settings())
    plan = reviewed_plan(("1", []), ("2", []), ("3", ["1", "2"]), review_replans=True)
    approval.on_decision(machine, plan, decision(), Effects())
    sub = dag.by_id(plan)["1"]
    failure = channel_pb2.SubtaskResult(subtask_id="1", attempt_id=sub.attempt_id, failed=True, content="down")
    machine.on_result(plan, failure, Effects())
    ready, assignments = ready_with(("1.r1.1", []), replaced="1", version=1)
    machine.on_plan(plan, ready, assignments, Effects())
    assert plan.status == S.TASK_STATUS_AWAITING_APPROVAL and plan.proposals[0].replaced_subtask_id == "1"
    assert dag.by_id(plan)["2"].status == S.SUBTASK_STATUS_DISPATCHED   # unaffected work goes on
    approval.on_decision(machine, plan, decision(version=1), Effects())
    assert plan.status == S.TASK_STATUS_RUNNING
    assert dag.by_id(plan)["1"].status == S.SUBTASK_STATUS_REPLACED
    assert list(dag.by_id(plan)["3"].dependencies) == ["2", "1.r1.1"]


def test_without_review_nothing_waits():
    plan = channel_pb2.PlanState(task_id="t1", question="q", status=S.TASK_STATUS_PLANNING)
    ready, assignments = ready_with(("1", []))
    Machine(Settings()).on_plan(plan, ready, assignments, Effects())
    assert plan.status == S.TASK_STATUS_RUNNING and not plan.proposals


def test_the_timeout_decision_follows_the_policy():
    assert approval.timeout_decision(Settings(approval_timeout_policy="approve"), 2).verdict == APPROVE
    rejected = approval.timeout_decision(Settings(), 2)
    assert rejected.verdict == REJECT and rejected.decided_by == "timeout" and rejected.plan_version == 2


@pytest.mark.parametrize("items, message", [
    ([], "no subtasks"),
    ([{"id": "1", "content": " ", "worker_type": "echo"}], "no content"),
    ([{"id": "1", "content": "a", "worker_type": "echo"}, {"id": "1", "content": "b", "worker_type": "echo"}],
     "duplicate"),
    ([{"id": "1", "content": "a", "worker_type": "ghost"}], "unknown worker type"),
    ([{"id": "1", "content": "a", "worker_type": ""}], "no worker type"),
    ([{"id": "1", "content": "a", "worker_type": "echo", "dependencies": ["9"]}], "unknown subtask 9"),
    ([{"id": "1", "content": "a", "worker_type": "echo", "dependencies": ["1"]}], "depends on itself"),
    ([{"id": "1", "content": "a", "worker_type": "echo", "dependencies": ["2"]},
      {"id": "2", "content": "b", "worker_type": "echo", "dependencies": ["1"]}], "cycle"),
    ([{"id": "bad id!", "content": "a", "worker_type": "echo"}], "must be 1-64"),
    ([{"id": str(i), "content": "a", "worker_type": "echo"} for i in range(13)], "at most 12"),
    (["just text"], "not an object"),
    ([{"id": "1", "content": "a", "worker_type": "echo", "dependencies": "2"}], "must be a list"),
])
def test_bad_edits_are_refused_with_a_reason(items, message):
    plan = reviewed_plan(("1", []))
    with pytest.raises(PlanEditError, match=message):
        check_edit(items, plan.proposals[0], plan, 12, {"echo"})


def test_an_edited_replan_may_depend_on_done_subtasks_but_not_reuse_their_ids():
    machine = Machine(Settings())
    plan = reviewed_plan(("1", []), ("2", ["1"]), review_replans=True)
    approval.on_decision(machine, plan, decision(), Effects())
    machine.on_result(plan, channel_pb2.SubtaskResult(subtask_id="1", attempt_id=dag.by_id(plan)["1"].attempt_id,
                                                      content="fine"), Effects())
    machine.on_result(plan, channel_pb2.SubtaskResult(subtask_id="2", attempt_id=dag.by_id(plan)["2"].attempt_id,
                                                      failed=True, content="x"), Effects())
    ready, assignments = ready_with(("2.r1.1", []), replaced="2", version=1)
    machine.on_plan(plan, ready, assignments, Effects())
    proposal = plan.proposals[0]
    ok = check_edit([{"id": "2b", "content": "retry", "worker_type": "echo", "dependencies": ["1"]}],
                    proposal, plan, 12, {"echo"})
    assert list(ok[0].dependencies) == ["1"]
    with pytest.raises(PlanEditError, match="already used"):
        check_edit([{"id": "1", "content": "retry", "worker_type": "echo"}], proposal, plan, 12, {"echo"})


def test_changes_of_an_unchanged_plan_are_empty():
    plan = reviewed_plan(("1", []), ("2", ["1"]))
    subtasks = list(plan.proposals[0].subtasks)
    assert changes(subtasks, subtasks) == {"added": [], "dropped": [], "changed": []}


def test_a_trajectory_keeps_what_a_person_changed():
    from workforce_train.runner.trajectory import build_trajectory

    events = [
        {"seq": 1, "type": "approval.requested", "data": {"plan_version": 0, "subtasks": [{"id": "1"}]}},
        {"seq": 2, "type": "approval.edited", "message": "narrower",
         "data": {"decided_by": "alice", "changes": {"added": ["2"], "dropped": [], "changed": []}}},
    ]
    approvals = build_trajectory(events)["approvals"]
    assert [a["decision"] for a in approvals] == ["requested", "edited"]
    assert approvals[1]["decided_by"] == "alice" and approvals[1]["changes"]["added"] == ["2"]
