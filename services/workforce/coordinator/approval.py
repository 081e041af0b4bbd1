"""Human approval of plans, as state in the plan (no waiting process): a task submitted with review_plan (or
review_replans) holds each assigned plan as a PlanProposal in AWAITING_APPROVAL until a decision arrives.

A decision is created once in the approvals KV bucket (by the gateway for a person, by the sweeper here when the
proposal's deadline passes) — the first one written wins — then applied through the inbox like any message,
under the message key `approval:<task>:<version>`, so it is applied exactly once whoever delivers it.
"""

import time
from datetime import datetime, timezone

from ..core.channel import layout
from ..core.plan_edit import PlanEditError, changes, check_edit, subtask_view
from ..v1 import channel_pb2, common_pb2

S = common_pb2
TERMINAL = (S.TASK_STATUS_SUCCEEDED, S.TASK_STATUS_FAILED, S.TASK_STATUS_CANCELLED)
APPROVE, REJECT = channel_pb2.APPROVAL_VERDICT_APPROVE, channel_pb2.APPROVAL_VERDICT_REJECT


def wanted(plan: channel_pb2.PlanState, ready: channel_pb2.PlanReady) -> bool:
    return plan.review_replans if ready.replaced_subtask_id else plan.review_plan


def message_key(task_id: str, plan_version: int) -> str:
    return f"approval:{task_id}:{plan_version}"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def propose(machine, plan: channel_pb2.PlanState, ready: channel_pb2.PlanReady,
            subtasks: list[channel_pb2.Subtask], assignment: dict | None = None) -> None:
    """Hold an assigned plan for a person's decision instead of dispatching it (`assignment`: how the model
    assigned it, kept in the event)."""
    if any(p.plan_version == ready.plan_version for p in plan.proposals):
        return
    settings = machine.settings
    now = time.time()
    proposal = plan.proposals.add(plan_version=ready.plan_version, replaced_subtask_id=ready.replaced_subtask_id,
                                  subtasks=subtasks)
    proposal.proposed_at.FromSeconds(int(now))
    proposal.deadline.FromSeconds(int(now + settings.approval_timeout_s))
    plan.status = S.TASK_STATUS_AWAITING_APPROVAL
    what = f"replan of {ready.replaced_subtask_id}" if ready.replaced_subtask_id else "plan"
    waiting = f"{len(subtasks)} subtask{'s wait' if len(subtasks) != 1 else ' waits'}"
    machine.event(plan, "approval.requested", f"{what}: {waiting} for approval",
                  subtask_id=ready.replaced_subtask_id, status=S.TASK_STATUS_AWAITING_APPROVAL, data={
                      "plan_version": ready.plan_version, "replaced_subtask_id": ready.replaced_subtask_id,
                      "kind": "replan" if ready.replaced_subtask_id else "plan",
                      "subtasks": [subtask_view(s) for s in subtasks],
                      "deadline": _iso(now + settings.approval_timeout_s),
                      "timeout_policy": settings.approval_timeout_policy,
                      **({"assignment": assignment} if assignment else {})})


def on_decision(machine, plan: channel_pb2.PlanState, decision: channel_pb2.ApprovalDecision, effects) -> None:
    """Apply a decision to its proposal: run it (as proposed or edited) or fail the task with the reason."""
    index = next((i for i, p in enumerate(plan.proposals) if p.plan_version == decision.plan_version), None)
    if plan.status in TERMINAL or index is None:
        return  # decided already, or the task ended meanwhile
    proposal = channel_pb2.PlanProposal()
    proposal.CopyFrom(plan.proposals[index])
    del plan.proposals[index]
    who = {"decided_by": decision.decided_by, "decided_at": _iso(decision.decided_at.seconds), "via": decision.via,
           "plan_version": decision.plan_version, "replaced_subtask_id": proposal.replaced_subtask_id}
    if decision.verdict != APPROVE:
        machine.event(plan, "approval.rejected", decision.reason, subtask_id=proposal.replaced_subtask_id,
                      data={**who, "reason": decision.reason})
        machine.finish(plan, S.TASK_STATUS_FAILED, effects,
                       reason=f"plan rejected by {decision.decided_by}: {decision.reason or 'no reason given'}")
        return
    subtasks = list(proposal.subtasks)
    if decision.subtasks:
        try:
            subtasks = check_edit([subtask_view(s) for s in decision.subtasks], proposal, plan,
                                  machine.settings.max_subtasks)
        except PlanEditError as exc:  # the gateway checked it; this is a plan that changed under the decision
            machine.event(plan, "approval.invalid", str(exc), data=who)
            machine.finish(plan, S.TASK_STATUS_FAILED, effects, reason=f"the edited plan is not valid: {exc}")
            return
        diff = changes(list(proposal.subtasks), subtasks)
        edited = bool(diff["added"] or diff["dropped"] or diff["changed"])
    else:
        diff, edited = {"added": [], "dropped": [], "changed": []}, False
    machine.event(plan, "approval.edited" if edited else "approval.approved", decision.reason,
                  subtask_id=proposal.replaced_subtask_id,
                  data={**who, "comment": decision.reason, "changes": diff,
                        "subtasks": [subtask_view(s) for s in subtasks]})
    machine.apply_plan(plan, subtasks, proposal.replaced_subtask_id, proposal.plan_version, effects)
    if plan.proposals and plan.status not in TERMINAL:
        plan.status = S.TASK_STATUS_AWAITING_APPROVAL


def timeout_decision(settings, plan_version: int) -> channel_pb2.ApprovalDecision:
    verdict = APPROVE if settings.approval_timeout_policy == "approve" else REJECT
    decision = channel_pb2.ApprovalDecision(
        plan_version=plan_version, verdict=verdict, decided_by="timeout", via="timeout",
        reason=f"nobody decided within {settings.approval_timeout_s} s (policy: {settings.approval_timeout_policy})")
    decision.decided_at.GetCurrentTime()
    return decision


async def sweep(coordinator, task_id: str, plan: channel_pb2.PlanState, now: float) -> None:
    """Apply decisions that were written but not yet applied, and decide expired proposals by the policy."""
    channel = coordinator.channel
    for proposal in list(plan.proposals):
        key = layout.approval_key(task_id, proposal.plan_version)
        entry = await channel.approvals.get(key)
        if entry is None:
            if now < proposal.deadline.seconds:
                continue
            decision = timeout_decision(coordinator.settings, proposal.plan_version)
            if await channel.approvals.create(key, decision.SerializeToString()) is None:
                entry = await channel.approvals.get(key)  # a person decided at the last moment
        if entry is not None:
            decision = channel_pb2.ApprovalDecision.FromString(entry.value)
        await coordinator.apply(task_id, message_key(task_id, proposal.plan_version),
                                channel_pb2.CoordinatorMessage(task_id=task_id, approval=decision))
