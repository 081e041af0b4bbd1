"""HTTP routes for human review of plans: approve (as proposed or edited) or reject a plan awaiting approval."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ..v1 import channel_pb2
from .approvals import ApprovalService, Decision
from .errors import InvalidInput
from .http_api import errors
from .openapi_doc import json_ok
from .proto_json import public_json
from .tenancy import Caller

DECIDED = {200: json_ok(channel_pb2.ApprovalDecision, "The decision, as recorded")}


class EditedSubtask(BaseModel):
    model_config = ConfigDict(extra="forbid")   # a misspelt field is a 400, not a decision without it
    id: str = Field(description="Subtask id; keep a proposed id to edit that subtask, use a new one to add one")
    content: str = Field(description="What to do, self-contained")
    worker_type: str = Field(description="A registered worker type (GET /v1/workers)")
    dependencies: list[str] = Field(default_factory=list, description="Ids this subtask waits for")


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")   # a misspelt field is a 400, not a decision without it
    plan_version: int | None = Field(None, description="The proposal decided on (GET …/plan: proposals[]."
                                                       "plan_version); omitted = the oldest one waiting")
    subtasks: list[EditedSubtask] | None = Field(
        None, description="The edited plan, complete (subtasks left out are dropped); omitted = as proposed")
    comment: str = ""


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")   # a misspelt field is a 400, not a decision without it
    plan_version: int | None = None
    reason: str = Field(description="Why the plan is rejected (required); the task fails with it")


def _json(decision) -> dict:
    return public_json(decision)


def router(approvals: ApprovalService, caller) -> APIRouter:
    """caller: the dependency that authenticates the request (and answers 503 while NATS is down)."""
    r = APIRouter(tags=["approval"])

    @r.post("/v1/tasks/{task_id}/plan/approve", responses={**DECIDED, **errors(403, 404, 409, 415)})
    async def approve(task_id: str, body: ApproveBody | None = None, who: Caller = caller):
        """Run a plan held in AWAITING_APPROVAL, as proposed or as edited here (checked like the planner's own)."""
        body = body or ApproveBody()
        edits = [s.model_dump() for s in body.subtasks] if body.subtasks is not None else None
        if edits == []:
            raise InvalidInput("the edited plan has no subtasks (omit 'subtasks' to approve as proposed)")
        return _json(await approvals.decide(who, task_id, Decision(
            approve=True, plan_version=body.plan_version, subtasks=edits, reason=body.comment)))

    @r.post("/v1/tasks/{task_id}/plan/reject", responses={**DECIDED, **errors(403, 404, 409, 415)})
    async def reject(task_id: str, body: RejectBody, who: Caller = caller):
        """Reject a plan held in AWAITING_APPROVAL: the task fails with the reason."""
        return _json(await approvals.decide(who, task_id, Decision(
            approve=False, plan_version=body.plan_version, reason=body.reason)))

    return r
