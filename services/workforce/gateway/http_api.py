"""The HTTP API (FastAPI; OpenAPI at /docs): tasks, events as Server-Sent Events, workers."""

import json

from fastapi import Depends, FastAPI, File, Form, Header, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from google.protobuf.json_format import MessageToDict
from pydantic import BaseModel, Field
from sse_starlette.sse import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..core.config import Settings
from ..core.metrics import API_REQUESTS
from ..v1 import common_pb2
from . import console
from .auth import ApiKeys, key_from_headers
from .errors import ApiError, InvalidInput, TooLarge
from .tasks import Submission, TaskService


def to_json(message) -> dict:
    return MessageToDict(message, preserving_proto_field_name=True)


class SubmitBody(BaseModel):
    question: str = Field(description="The task, in natural language")
    answer_format: str = Field("", description="Answer-format instructions for the final answer")
    idempotency_key: str = Field("", description="Submitting twice with the same key returns the first task")
    metadata: dict[str, str] = Field(default_factory=dict)
    timeout_s: int = Field(0, description="Task deadline in seconds; 0 = the server default")
    review_plan: bool = Field(False, description="Hold the plan in AWAITING_APPROVAL until a person approves, "
                                                 "edits or rejects it (POST …/plan/approve or …/plan/reject)")
    review_replans: bool = Field(False, description="Hold every replan for approval too")


class CancelBody(BaseModel):
    reason: str = ""


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def build_app(tasks: TaskService, keys: ApiKeys, settings: Settings, extra_routers=()) -> FastAPI:
    app = FastAPI(title="Workforce gateway", version="1", docs_url=None, redoc_url=None, description=
                  "Submit tasks to a Workforce (planner → coordinator → workers), watch them, cancel them. "
                  "The web console is at /.")
    console.install(app)

    @app.middleware("http")
    async def limits(request: Request, call_next):
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_request_bytes:
            return error_response(413, "too_large", f"request body over {settings.max_request_bytes} bytes")
        response = await call_next(request)
        route = request.scope.get("route")
        API_REQUESTS.labels("http", f"{request.method} {getattr(route, 'path', 'unmatched')}",
                            str(response.status_code)).inc()
        return response

    @app.exception_handler(ApiError)
    async def api_error(request, exc: ApiError):
        return error_response(exc.http_status, exc.code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated"}
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "invalid_json", "the request body is not valid JSON")
        detail = "; ".join(f"{'.'.join(str(x) for x in e.get('loc', ()))}: {e.get('msg')}" for e in errors)
        return error_response(422, "invalid_argument", detail)

    def owner(authorization: str | None = Header(None), x_api_key: str | None = Header(None)) -> str:
        return keys.check(key_from_headers(authorization, x_api_key))

    @app.get("/healthz", tags=["health"])
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz():
        if not tasks.channel.nc.is_connected:
            return error_response(503, "unavailable", "not connected to NATS")
        return {"status": "ready"}

    @app.post("/v1/tasks", tags=["tasks"], status_code=201)
    async def submit(body: SubmitBody, who: str = Depends(owner)):
        record, created = await tasks.submit(Submission(
            question=body.question, answer_format=body.answer_format, idempotency_key=body.idempotency_key,
            metadata=body.metadata, timeout_s=body.timeout_s, review_plan=body.review_plan,
            review_replans=body.review_replans), who)
        return JSONResponse({"task_id": record.task_id, "created": created, "task": to_json(record)},
                            status_code=201 if created else 200)

    @app.post("/v1/tasks/upload", tags=["tasks"], status_code=201)
    async def submit_with_files(question: str = Form(...), answer_format: str = Form(""),
                                idempotency_key: str = Form(""), metadata: str = Form("{}"),
                                timeout_s: int = Form(0), review_plan: bool = Form(False),
                                review_replans: bool = Form(False), files: list[UploadFile] = File(default=[]),
                                who: str = Depends(owner)):
        try:
            meta = json.loads(metadata or "{}")
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"metadata is not valid JSON: {exc}") from exc
        if not isinstance(meta, dict):
            raise InvalidInput("metadata must be a JSON object")
        loaded = []
        for f in files:
            data = await f.read(settings.max_file_bytes + 1)
            if len(data) > settings.max_file_bytes:
                raise TooLarge(f"file {f.filename!r} is over {settings.max_file_bytes} bytes")
            loaded.append((f.filename or "file", data, f.content_type or ""))
        record, created = await tasks.submit(Submission(
            question=question, answer_format=answer_format, idempotency_key=idempotency_key,
            metadata={str(k): str(v) for k, v in meta.items()}, timeout_s=timeout_s, files=loaded,
            review_plan=review_plan, review_replans=review_replans), who)
        return JSONResponse({"task_id": record.task_id, "created": created, "task": to_json(record)},
                            status_code=201 if created else 200)

    @app.get("/v1/tasks", tags=["tasks"])
    async def list_tasks(limit: int = Query(50, ge=1, le=settings.list_limit_max), status: str = "",
                         who: str = Depends(owner)):
        code = 0
        if status:
            name = "TASK_STATUS_" + status.upper().removeprefix("TASK_STATUS_")
            if name not in common_pb2.TaskStatus.keys():
                raise InvalidInput(f"unknown status {status!r}")
            code = common_pb2.TaskStatus.Value(name)
        return {"tasks": [to_json(r) for r in await tasks.list_tasks(limit, code)]}

    @app.get("/v1/tasks/{task_id}", tags=["tasks"])
    async def get_task(task_id: str, who: str = Depends(owner)):
        return to_json(await tasks.get(task_id))

    @app.get("/v1/tasks/{task_id}/plan", tags=["tasks"])
    async def get_plan(task_id: str, who: str = Depends(owner)):
        return to_json(await tasks.plan(task_id))

    @app.post("/v1/tasks/{task_id}/cancel", tags=["tasks"])
    async def cancel(task_id: str, body: CancelBody | None = None, who: str = Depends(owner)):
        return to_json(await tasks.cancel(task_id, body.reason if body else ""))

    @app.get("/v1/tasks/{task_id}/events", tags=["tasks"])
    async def events(task_id: str, from_seq: int = Query(0, ge=0), last_event_id: str | None = Header(None),
                     who: str = Depends(owner)):
        """Server-Sent Events from stream sequence `from_seq` (or after `Last-Event-ID`) until the task ends."""
        start = from_seq
        if last_event_id and last_event_id.isdigit():
            start = int(last_event_id) + 1
        await tasks.get(task_id)

        async def stream():
            async for event in tasks.watch(task_id, start):
                yield {"id": str(event.seq), "event": event.type, "data": json.dumps(to_json(event))}

        return EventSourceResponse(stream(), ping=15)

    @app.get("/v1/workers", tags=["workers"])
    async def workers(who: str = Depends(owner)):
        pools, instances = await tasks.workers()
        return {"pools": [to_json(p) for p in pools], "instances": [to_json(i) for i in instances]}

    for router in extra_routers:
        app.include_router(router)
    return app
