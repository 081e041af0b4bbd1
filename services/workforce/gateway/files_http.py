"""HTTP route for the files a task's workers produced (a program's output, a downloaded document): each subtask's
`subtask.succeeded` event lists them (`data.files`: name, size, media_type, sha256), the plan keeps them with their
store keys (`Subtask.files`), and this route sends one.
Like every task route it serves only the caller's own tasks (an admin identity sees everyone's)."""

from urllib.parse import quote

from fastapi import APIRouter, Response
from nats.js.errors import ObjectNotFoundError

from ..v1 import common_pb2
from .errors import NotFound
from .http_api import errors
from .limits import check_text, shown
from .tasks import TaskService
from .tenancy import Caller

FILE_OK = {"description": "The file's bytes (Content-Disposition: attachment, with its name)",
           "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}


async def produced_file(tasks: TaskService, task_id: str, subtask_id: str, name: str) -> common_pb2.FileRef | None:
    """The file `name` of the subtask's last success, as the plan keeps it (one read: no scan of the events)."""
    plan, _ = await tasks.channel.get_plan(task_id)
    subtask = next((s for s in plan.subtasks if s.subtask_id == subtask_id), None) if plan else None
    return next((f for f in subtask.files if f.name == name), None) if subtask else None


def router(tasks: TaskService, caller) -> APIRouter:
    """caller: the dependency that authenticates the request (and answers 503 while NATS is down)."""
    r = APIRouter()

    @r.get("/v1/tasks/{task_id}/subtasks/{subtask_id}/files/{name}", tags=["tasks"], response_class=Response,
           responses={200: FILE_OK, **errors(400, 404)})
    async def download(task_id: str, subtask_id: str, name: str, who: Caller = caller):
        """A file a worker produced for the subtask (listed in its `subtask.succeeded` event's `data.files`)."""
        check_text("subtask_id", subtask_id, multiline=False)
        check_text("name", name, multiline=False)
        await tasks.get(who, task_id)
        ref = await produced_file(tasks, task_id, subtask_id, name)
        missing = f"subtask {shown(subtask_id)} of task {shown(task_id)} produced no file {shown(name)}"
        if ref is None:
            raise NotFound(missing)
        try:
            stored = await tasks.channel.files.get(ref.object_key)
        except ObjectNotFoundError:
            raise NotFound(missing + " that is still stored") from None
        return Response(stored.data, media_type=ref.media_type or "application/octet-stream",
                        headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"})

    return r
