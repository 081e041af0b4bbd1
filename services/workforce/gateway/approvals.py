"""Human decisions on plans held in AWAITING_APPROVAL, shared by the HTTP and gRPC front ends.

The gateway checks the decision against the plan as it is now (a clear error for a stale version, a task that no
longer waits, or an edit the planner's rules would refuse), records it once in the approvals bucket — the first
decision on a proposal wins, a second one gets a conflict — and hands it to the coordinator, which applies it.

Who may decide: the task's owner, or an identity named in WF_APPROVERS ("*" = every identity). Anyone else who
cannot see the task (tenancy.py) gets the same "no such task" as for a missing one; an admin identity that sees
the task but neither owns it nor is an approver gets permission_denied.
"""

from dataclasses import dataclass

from ..core.channel import layout
from ..core.channel.registry import RegistryCache
from ..core.ids import valid_task_id
from ..core.plan_edit import PlanEditError, check_edit
from ..v1 import channel_pb2, common_pb2
from .errors import Conflict, Forbidden, InvalidInput, NotFound
from .limits import check_text, shown
from .tasks import TaskService
from .tenancy import Caller

S = common_pb2
APPROVE, REJECT = channel_pb2.APPROVAL_VERDICT_APPROVE, channel_pb2.APPROVAL_VERDICT_REJECT
MAX_REASON_CHARS = 2000


@dataclass
class Decision:
    approve: bool
    plan_version: int | None = None                      # None = the oldest waiting proposal
    subtasks: list[dict] | None = None                   # an edited plan: [{id, content, worker_type, dependencies}]
    reason: str = ""                                     # required to reject; a comment when approving
    via: str = "http"


class ApprovalService:
    def __init__(self, tasks: TaskService):
        self.tasks = tasks
        self.channel = tasks.channel
        self.settings = tasks.settings
        self.approvers = {a.strip() for a in self.settings.approvers.split(",") if a.strip()}
        # an edit is checked against the live pools; a moment's empty registry (late heartbeats) is not "no pools"
        self.registry = RegistryCache(self.channel, wait_s=3.0)

    def is_approver(self, caller: Caller) -> bool:
        return "*" in self.approvers or caller.identity in self.approvers

    async def decidable(self, caller: Caller, task_id: str) -> common_pb2.TaskRecord:
        """The task, if the caller may decide on it (see the module docstring)."""
        record = await self.channel.get_task(task_id) if valid_task_id(task_id) else None
        approver = self.is_approver(caller)
        if record is None or not (caller.sees(record.owner) or approver):
            raise NotFound(f"no task {shown(task_id)}")
        if caller.identity != record.owner and not approver:
            raise Forbidden(f"{caller.identity!r} may not decide on task {task_id}: only its owner or a "
                            "configured approver (WF_APPROVERS)")
        return record

    async def decide(self, caller: Caller, task_id: str, d: Decision) -> channel_pb2.ApprovalDecision:
        check_text("comment" if d.approve else "reason", d.reason or "")
        for item in d.subtasks or ():
            for name in ("id", "content", "worker_type"):
                check_text(f"subtask {name}", str(item.get(name) or ""), multiline=name == "content", param="subtasks")
        record = await self.decidable(caller, task_id)
        who = caller.identity
        reason = (d.reason or "").strip()
        if len(reason) > MAX_REASON_CHARS:
            raise InvalidInput(f"the {'comment' if d.approve else 'reason'} is longer than {MAX_REASON_CHARS} "
                               "characters", param="comment" if d.approve else "reason")
        if not d.approve and not reason:
            raise InvalidInput("a rejection needs a reason", param="reason")
        if record.status != S.TASK_STATUS_AWAITING_APPROVAL:
            raise Conflict(f"task {task_id} is not awaiting approval (it is "
                           f"{S.TaskStatus.Name(record.status).removeprefix('TASK_STATUS_')})")
        plan, _ = await self.channel.get_plan(task_id)
        proposals = list(plan.proposals) if plan is not None else []
        if not proposals:
            raise Conflict(f"task {task_id} has no plan waiting for approval")
        if d.plan_version is None:
            proposal = proposals[0]
        else:
            proposal = next((p for p in proposals if p.plan_version == d.plan_version), None)
            if proposal is None:
                waiting = ", ".join(str(p.plan_version) for p in proposals)
                raise Conflict(f"plan version {d.plan_version} is not waiting for approval (waiting: {waiting})",
                               param="plan_version")
        decision = channel_pb2.ApprovalDecision(plan_version=proposal.plan_version, verdict=APPROVE if d.approve
                                                else REJECT, reason=reason, decided_by=who, via=d.via)
        decision.decided_at.GetCurrentTime()
        if d.approve and d.subtasks:
            workers = {w["id"] for w in await self.registry.workers()}
            try:
                edited = check_edit(d.subtasks, proposal, plan, self.settings.max_subtasks, workers)
            except PlanEditError as exc:
                raise InvalidInput(f"the edited plan is not valid: {exc}", param="subtasks") from exc
            decision.subtasks.extend(edited)
        key = layout.approval_key(task_id, proposal.plan_version)
        if await self.channel.approvals.create(key, decision.SerializeToString()) is None:
            entry = await self.channel.approvals.get(key)
            first = channel_pb2.ApprovalDecision.FromString(entry.value) if entry else None
            by = f" by {first.decided_by}" if first else ""
            raise Conflict(f"plan version {proposal.plan_version} of task {task_id} was already decided{by}")
        await self.channel.to_coordinator(channel_pb2.CoordinatorMessage(task_id=task_id, approval=decision),
                                          msg_id=f"approval:{task_id}:{proposal.plan_version}")
        return decision
