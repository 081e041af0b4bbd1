"""HTTP routes for tool calls held for approval (WF_APPROVE_TOOLS): list a task's gated calls, approve or deny one."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ..v1 import channel_pb2, gateway_pb2
from .http_api import errors
from .openapi_doc import json_ok
from .proto_json import public_json
from .tenancy import Caller
from .tool_approvals import ToolApprovalService


class ApproveCallBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field("", description="A comment kept with the decision")


class DenyCallBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field("", description="Why; the worker's model reads \"denied by <you>: <reason>\" and goes on")


DECIDED = {200: json_ok(channel_pb2.ApprovalDecision, "The decision, as recorded")}


def _json(message) -> dict:
    return public_json(message)


def router(tool_approvals: ToolApprovalService, caller) -> APIRouter:
    """caller: the dependency that authenticates the request (and answers 503 while NATS is down)."""
    r = APIRouter(tags=["approval"])

    @r.get("/v1/tasks/{task_id}/tool-calls", responses={
        200: json_ok(gateway_pb2.ListToolCallsResponse, "The task's gated tool calls"), **errors(404)})
    async def calls(task_id: str, who: Caller = caller):
        """The task's tool calls held for approval, oldest first: `request` (tool, arguments, deadline, policy) and,
        once decided, `decision` (verdict, who, when, via, reason). A call without a decision still waits."""
        return {"calls": [_json(c) for c in await tool_approvals.calls(who, task_id)]}

    @r.post("/v1/tasks/{task_id}/tool-calls/{call_id}/approve", responses={**DECIDED, **errors(403, 404, 409, 415)})
    async def approve(task_id: str, call_id: str, body: ApproveCallBody | None = None, who: Caller = caller):
        """Let a waiting tool call run."""
        body = body or ApproveCallBody()
        return _json(await tool_approvals.decide(who, task_id, call_id, True, body.comment))

    @r.post("/v1/tasks/{task_id}/tool-calls/{call_id}/deny", responses={**DECIDED, **errors(403, 404, 409, 415)})
    async def deny(task_id: str, call_id: str, body: DenyCallBody | None = None, who: Caller = caller):
        """Refuse a waiting tool call: it does not run, and the worker's model gets the denial as its result."""
        body = body or DenyCallBody()
        return _json(await tool_approvals.decide(who, task_id, call_id, False, body.reason))

    return r
