"""Human approval of risky tool calls (WF_APPROVE_TOOLS), asked from inside Tool.run: the tool-call side of what
coordinator/approval.py does for plans, with the same approvals bucket and the same people deciding.

A call whose "<worker_type>.<tool>" matches a pattern waits before it runs:
1. the request is written once to the approvals bucket (<task>.ask.<call_id>: tool, arguments, deadline, policy)
   and a `tool.approval_requested` event says what waits;
2. the worker watches the decision's key (<task>.tool.<call_id>; a KV watch, no polling) while the consumer loop
   keeps the work item alive with in-progress heartbeats;
3. at the deadline it writes the timeout decision by WF_TOOL_APPROVAL_TIMEOUT_POLICY — unless a person wrote one
   first: the first decision written wins, as for plans;
4. the decision is an event (`tool.approved` / `tool.denied`: who, when, via, reason) in the task's trajectory;
   approve runs the call, deny returns "denied by <who>: <reason>" to the model as the call's (failed) result, and
   the model goes on.
A redelivered work item makes the same call under the same call id (the attempt, the call's number, a digest of the
subtask, tool and arguments), so it finds the request, its deadline and any decision again: it does not ask twice.
The wait counts against the subtask's time (WF_SUBTASK_TIMEOUT_S), not against the tool's own timeout.
"""

import contextlib
import fnmatch
import hashlib
import json
import logging
import time
from datetime import datetime, timezone

import nats

from ..core.channel import layout
from ..core.channel.state import KVStore
from ..v1 import channel_pb2

log = logging.getLogger(__name__)

APPROVE, REJECT = channel_pb2.APPROVAL_VERDICT_APPROVE, channel_pb2.APPROVAL_VERDICT_REJECT


def patterns(settings) -> list[str]:
    return [p.strip() for p in (settings.approve_tools or "").split(",") if p.strip()]


def gated(settings, worker_type: str, tool: str) -> bool:
    """Whether a call of `tool` by a `worker_type` worker waits for a person (WF_APPROVE_TOOLS patterns)."""
    name = f"{worker_type}.{tool}"
    return any(fnmatch.fnmatchcase(name, p) for p in patterns(settings))


def call_id(subtask_id: str, attempt_id: str, index: int, tool: str, arguments: dict) -> str:
    """<subtask>.<attempt>.<call number>.<digest>: stable across redeliveries of the same call, new for another."""
    digest = hashlib.sha256(json.dumps([subtask_id, tool, arguments], sort_keys=True, default=str).encode())
    attempt = attempt_id.rsplit("/", 1)[-1] or "0"
    return f"{subtask_id.replace('.', '_')}.{attempt}.{index}.{digest.hexdigest()[:12]}"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="seconds")


def denial(decision: channel_pb2.ApprovalDecision) -> str:
    return f"denied by {decision.decided_by}: {decision.reason or 'no reason given'}"


async def _bucket(channel) -> KVStore:
    """The approvals bucket; a worker binds it on its first gated call (its NATS identity may read it)."""
    if getattr(channel, "approvals", None) is None:
        channel.approvals = KVStore(await channel.js.key_value(layout.APPROVALS_BUCKET))
    return channel.approvals


async def _request(kv: KVStore, ctx, call: str, tool: str, arguments: dict, index: int
                   ) -> channel_pb2.ToolCallRequest:
    """Write the request once; a redelivered call gets the first one back (and keeps its deadline)."""
    settings = ctx.settings
    now = time.time()
    request = channel_pb2.ToolCallRequest(
        task_id=ctx.task_id, call_id=call, subtask_id=ctx.subtask_id, attempt_id=ctx.attempt_id,
        worker_type=ctx.worker_type, tool=tool, arguments=json.dumps(arguments, ensure_ascii=False, default=str),
        call_index=index, timeout_policy=settings.tool_approval_timeout_policy,
        worker_instance=settings.instance_id)
    request.asked_at.FromSeconds(int(now))
    request.deadline.FromSeconds(int(now + settings.tool_approval_timeout_s))
    key = layout.tool_request_key(ctx.task_id, call)
    if await kv.create(key, request.SerializeToString()) is None:
        entry = await kv.get(key)
        if entry is not None:
            return channel_pb2.ToolCallRequest.FromString(entry.value)
    return request


async def _wait(kv: KVStore, key: str, deadline: float) -> channel_pb2.ApprovalDecision | None:
    """The decision under `key` (already there, or when it is written), or None at the deadline."""
    watcher = await kv.kv.watch(key)
    try:
        while True:
            left = deadline - time.time()
            if left <= 0:
                return None
            try:
                entry = await watcher.updates(timeout=left)
            except nats.errors.TimeoutError:
                return None
            if entry is not None and entry.value and entry.operation is None:
                return channel_pb2.ApprovalDecision.FromString(entry.value)
    finally:
        with contextlib.suppress(Exception):
            await watcher.stop()


def _timeout_decision(settings, call: str) -> channel_pb2.ApprovalDecision:
    policy = settings.tool_approval_timeout_policy
    decision = channel_pb2.ApprovalDecision(
        call_id=call, verdict=APPROVE if policy == "approve" else REJECT, decided_by="timeout", via="timeout",
        reason=f"nobody decided within {settings.tool_approval_timeout_s} s (policy: {policy})")
    decision.decided_at.GetCurrentTime()
    return decision


async def ask(ctx, tool: str, arguments: dict) -> str | None:
    """Hold the call for a person's decision: None to run it, or the text the model gets instead."""
    if ctx.channel is None:
        return f"denied: {tool} needs a person's approval (WF_APPROVE_TOOLS) and this worker has no task channel"
    index = len(ctx.tool_history) + 1
    call = call_id(ctx.subtask_id, ctx.attempt_id, index, tool, arguments)
    kv = await _bucket(ctx.channel)
    key = layout.tool_decision_key(ctx.task_id, call)
    entry = await kv.get(key)
    decision = channel_pb2.ApprovalDecision.FromString(entry.value) if entry is not None else None
    if decision is None:
        request = await _request(kv, ctx, call, tool, arguments, index)
        await ctx.ensure_started()
        await ctx.channel.emit(
            ctx.task_id, "tool.approval_requested", f"{tool} waits for approval", subtask_id=ctx.subtask_id,
            msg_id=f"toolask:{ctx.task_id}:{call}", data={
                "call_id": call, "tool": tool, "arguments": request.arguments, "call_index": index,
                "attempt_id": ctx.attempt_id, "worker_type": ctx.worker_type,
                "asked_at": _iso(request.asked_at.seconds), "deadline": _iso(request.deadline.seconds),
                "timeout_policy": request.timeout_policy})
        log.info("tool call %s (%s) waits for approval until %s", call, tool, _iso(request.deadline.seconds))
        decision = await _wait(kv, key, request.deadline.seconds)
        if decision is None:
            decision = _timeout_decision(ctx.settings, call)
            if await kv.create(key, decision.SerializeToString()) is None:  # a person decided at the last moment
                entry = await kv.get(key)
                if entry is not None:
                    decision = channel_pb2.ApprovalDecision.FromString(entry.value)
    approved = decision.verdict == APPROVE
    await ctx.ensure_started()
    await ctx.channel.emit(
        ctx.task_id, "tool.approved" if approved else "tool.denied", decision.reason or tool,
        subtask_id=ctx.subtask_id, msg_id=f"tooldecision:{ctx.task_id}:{call}", data={
            "call_id": call, "tool": tool, "decided_by": decision.decided_by,
            "decided_at": _iso(decision.decided_at.seconds), "via": decision.via, "reason": decision.reason,
            "verdict": "approve" if approved else "deny"})
    return None if approved else denial(decision)


__all__ = ["ask", "call_id", "denial", "gated", "patterns"]
