"""Human decisions on tool calls held for approval (WF_APPROVE_TOOLS), shared by the HTTP and gRPC front ends.

A worker writes each gated call's request to the approvals bucket (<task>.ask.<call_id>) and watches the decision's
key (<task>.tool.<call_id>). The gateway lists a task's requests with their decisions, and records a person's
decision once — the first decision on a call wins (a person's, or the worker's timeout decision); a second one gets
a conflict. The worker that waits sees it at once and records it as an event.

Who may decide: as for plans (approvals.py) — the task's owner or an identity named in WF_APPROVERS; anyone who
cannot see the task gets "no such task", an admin identity that sees it but may not decide gets permission_denied.
"""

import asyncio
import re

from ..core.channel import layout
from ..core.task_lifecycle import TERMINAL_STATUSES
from ..core.ids import valid_task_id
from ..v1 import channel_pb2, gateway_pb2
from .approvals import ApprovalService
from .errors import Conflict, InvalidInput, NotFound
from .limits import check_text, shown
from .tenancy import Caller

APPROVE, REJECT = channel_pb2.APPROVAL_VERDICT_APPROVE, channel_pb2.APPROVAL_VERDICT_REJECT
CALL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}\.[0-9]{1,9}\.[0-9]{1,6}\.[0-9a-f]{12}$")
MAX_REASON_CHARS = 2000
MAX_CALLS_LISTED = 1000


class ToolApprovalService:
    def __init__(self, approvals: ApprovalService):
        self.approvals = approvals
        self.channel = approvals.channel

    async def _visible(self, caller: Caller, task_id: str) -> None:
        """NotFound unless the caller sees the task or is an approver (who may decide on any task)."""
        record = await self.channel.get_task(task_id) if valid_task_id(task_id) else None
        if record is None or not (caller.sees(record.owner) or self.approvals.is_approver(caller)):
            raise NotFound(f"no task {shown(task_id)}")

    async def _entries(self, prefix: str) -> dict[str, bytes]:
        """The current values under `<prefix>.>`: the stream's subject list, each read directly (a KV watcher may
        signal its end before its first entry on a busy connection, and a task's calls would read as none)."""
        approvals = self.channel.approvals
        keys = (await approvals.subject_keys(prefix + "."))[:MAX_CALLS_LISTED]
        entries = await asyncio.gather(*(approvals.get(key) for key in keys))
        return {key.removeprefix(prefix + "."): e.value for key, e in zip(keys, entries) if e is not None and e.value}

    async def calls(self, caller: Caller, task_id: str) -> list[gateway_pb2.ToolCallApproval]:
        """The task's gated tool calls, oldest first, each with its decision once there is one."""
        await self._visible(caller, task_id)
        asked = await self._entries(f"{task_id}.ask")
        decided = await self._entries(f"{task_id}.tool") if asked else {}
        out = []
        for call, raw in asked.items():
            item = gateway_pb2.ToolCallApproval(request=channel_pb2.ToolCallRequest.FromString(raw))
            if call in decided:
                item.decision.CopyFrom(channel_pb2.ApprovalDecision.FromString(decided[call]))
            out.append(item)
        out.sort(key=lambda c: (c.request.asked_at.seconds, c.request.subtask_id, c.request.call_index))
        return out

    async def decide(self, caller: Caller, task_id: str, call_id: str, approve: bool, reason: str = "",
                     via: str = "http") -> channel_pb2.ApprovalDecision:
        check_text("reason", reason or "")
        reason = (reason or "").strip()
        if len(reason) > MAX_REASON_CHARS:
            raise InvalidInput(f"the reason is longer than {MAX_REASON_CHARS} characters", param="reason")
        record = await self.approvals.decidable(caller, task_id)  # NotFound / Forbidden as for plans
        if not CALL_ID.match(call_id or ""):
            raise NotFound(f"no tool call {shown(call_id)} of task {task_id}")
        entry = await self.channel.approvals.get(layout.tool_request_key(task_id, call_id))
        if entry is None:
            raise NotFound(f"no tool call {shown(call_id)} of task {task_id}")
        if record.status in TERMINAL_STATUSES:
            raise Conflict(f"task {task_id} has ended; its tool calls no longer wait")
        decision = channel_pb2.ApprovalDecision(call_id=call_id, verdict=APPROVE if approve else REJECT,
                                                reason=reason, decided_by=caller.identity, via=via)
        decision.decided_at.GetCurrentTime()
        key = layout.tool_decision_key(task_id, call_id)
        if await self.channel.approvals.create(key, decision.SerializeToString()) is None:
            first = await self.channel.approvals.get(key)
            by = f" by {channel_pb2.ApprovalDecision.FromString(first.value).decided_by}" if first else ""
            raise Conflict(f"tool call {call_id} of task {task_id} was already decided{by}")
        return decision
