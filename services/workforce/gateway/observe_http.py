"""HTTP routes for looking closer (used by the console): one subtask's trajectory, recent worker failures."""

from fastapi import APIRouter, Query

from .event_reader import FailureLog, subtask_trajectory
from .tasks import TaskService


def router(tasks: TaskService, failures: FailureLog, owner, auth_enabled: bool = True) -> APIRouter:
    r = APIRouter()

    @r.get("/v1/me", tags=["auth"])
    async def me(who: str = owner):
        """The name of the API key this request carries (the console shows who is signed in)."""
        return {"name": who, "auth": auth_enabled}

    @r.get("/v1/tasks/{task_id}/subtasks/{subtask_id}/trajectory", tags=["tasks"])
    async def trajectory(task_id: str, subtask_id: str, who: str = owner):
        """Every stored event of one subtask: dispatches, tool calls, the worker's messages and its results."""
        await tasks.get(task_id)
        return {"task_id": task_id, "subtask_id": subtask_id,
                "events": await subtask_trajectory(tasks.channel, task_id, subtask_id)}

    @r.get("/v1/workers/failures", tags=["workers"])
    async def recent_failures(limit: int = Query(50, ge=1, le=200), who: str = owner):
        """The most recent subtask failures of the last hour, newest first."""
        return {"failures": await failures.snapshot(limit)}

    return r
