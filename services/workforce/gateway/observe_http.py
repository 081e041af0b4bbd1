"""HTTP routes for looking closer (used by the console): who is calling, one subtask's trajectory, recent worker
failures. Like every task route they see only the caller's own tasks (an admin identity sees everyone's)."""

from fastapi import APIRouter, Query

from .event_reader import FailureLog, subtask_trajectory
from .http_api import errors
from .limits import check_text
from .openapi_doc import json_body
from .tasks import TaskService
from .tenancy import Caller


def router(tasks: TaskService, failures: FailureLog, caller, auth_enabled: bool = True) -> APIRouter:
    """caller: the dependency that authenticates the request (and answers 503 while NATS is down)."""
    r = APIRouter()

    @r.get("/v1/me", tags=["auth"], responses={200: json_body("Identity", "Who is calling"), **errors()})
    async def me(who: Caller = caller):
        """The identity (API key name) this request carries, and whether it is an admin that sees every task."""
        return {"name": who.identity, "admin": who.admin, "auth": auth_enabled}

    @r.get("/v1/tasks/{task_id}/subtasks/{subtask_id}/trajectory", tags=["tasks"], responses={
        200: json_body("Trajectory", "The subtask's events"), **errors(400, 404)})
    async def trajectory(task_id: str, subtask_id: str, who: Caller = caller):
        """Every stored event of one subtask: dispatches, tool calls, the worker's messages and its results."""
        check_text("subtask_id", subtask_id, multiline=False)
        await tasks.get(who, task_id)
        return {"task_id": task_id, "subtask_id": subtask_id,
                "events": await subtask_trajectory(tasks.channel, task_id, subtask_id)}

    @r.get("/v1/workers/failures", tags=["workers"], responses={
        200: json_body("WorkerFailures", "Recent subtask failures, newest first"), **errors()})
    async def recent_failures(limit: int = Query(50, ge=1, le=200), who: Caller = caller):
        """The most recent subtask failures of the last hour in the caller's tasks, newest first."""
        return {"failures": await failures.snapshot(who, limit)}

    return r
