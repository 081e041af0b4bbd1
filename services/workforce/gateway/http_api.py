"""The HTTP API (FastAPI; OpenAPI at /docs): tasks, events as Server-Sent Events, workers.

Every route but /healthz and /readyz needs an API key (`Authorization: Bearer <key>` or `x-api-key: <key>`;
both are security schemes of the OpenAPI document) and sees only the caller's own tasks. Every status code a
route can answer is in the OpenAPI document, success bodies typed by the protobuf messages they are (proto3 JSON,
openapi_doc.py); errors are `{"error": {"code", "message", "type", "param"}}` (`type` as OpenAI's API names it,
`param` the request field at fault), and 429 / 503 carry Retry-After. Any bad input is a 400 (a body that is not
JSON on a JSON route a 415).
"""

import json

from fastapi import Depends, FastAPI, File, Form, Header, Query, Request, Security, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..core.channel.events import event_json
from ..core.config import Settings
from ..v1 import channel_pb2, common_pb2, gateway_pb2
from . import console, openapi_doc
from .errors import CHANNEL_ERRORS, ApiError, InvalidInput, TooLarge, channel_unavailable
from .limits import SEQ_MAX, EarlyReject, error_payload
from .openapi_doc import EVENT_STREAM_OK, json_body, json_ok
from .proto_json import public_json
from .sse import KEEPALIVE, EventStream, frame
from .submission import MAX_TIMEOUT_S, MAX_TOKEN_BUDGET
from .tasks import Submission, TaskService
from .tenancy import Caller, Tenancy
from .validation import as_api_error, check_known, refuse_unknown_query

UPLOAD_PATH = "/v1/tasks/upload"
UPLOAD_FIELDS = ["question", "answer_format", "idempotency_key", "metadata", "timeout_s", "review_plan",
                 "review_replans", "token_budget", "files"]


def to_json(message) -> dict:
    """A protobuf message as the API sends it (proto3 JSON, without the services' internal fields)."""
    return public_json(message)


class SubmitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")   # a misspelt option is a 400, not a task without it

    question: str = Field(description="The task, in natural language")
    answer_format: str = Field("", description="Answer-format instructions for the final answer")
    idempotency_key: str = Field("", description="Submitting twice with the same key returns the first task "
                                 "(keys are per identity and expire after WF_IDEMPOTENCY_TTL_S); the key with "
                                 "a request that differs in any field (or file) is a 409")
    metadata: dict[str, str] = Field(default_factory=dict)
    timeout_s: int = Field(0, ge=0, le=MAX_TIMEOUT_S, description="Task deadline in seconds; 0 = the server default")
    review_plan: bool = Field(False, description="Hold the plan in AWAITING_APPROVAL until a person approves, "
                                                 "edits or rejects it (POST …/plan/approve or …/plan/reject)")
    review_replans: bool = Field(False, description="Hold every replan for approval too")
    token_budget: int = Field(0, ge=0, le=MAX_TOKEN_BUDGET,
                              description="Tokens the task may use (prompt + completion of every LLM call, "
                                          "workers' included); over it the task fails. 0 = the server default")


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = ""


class ErrorDetail(BaseModel):
    code: str
    message: str
    type: str = Field(description="OpenAI's error type for the status (invalid_request_error, authentication_error, "
                                  "not_found_error, rate_limit_error, server_error, …)")
    param: str | None = Field(None, description="the request field at fault, where one is")


class ErrorBody(BaseModel):
    error: ErrorDetail


_MEANING = {
    400: "Invalid input: a value that does not match the schema (type, range, unknown field), a control "
         "character, a page token, from_seq out of range; `param` names the field",
    401: "Missing or invalid API key",
    403: "The caller may see the task but not decide on its plan (only its owner or a WF_APPROVERS identity)",
    404: "No such task (a task of another identity is answered the same way)",
    409: "The task has already ended (or, for a plan decision, is not waiting for one); on a submission: its "
         "idempotency key was used for another request",
    413: "Request body or a field over its limit",
    415: "The body is not of the route's media type (application/json; multipart/form-data for uploads)",
    422: "The task failed or was cancelled (type `task_failed` / `task_cancelled`)",
    429: "A quota of the calling identity is used up; retry after Retry-After seconds",
    502: "The task ended without an answer",
    503: "The task channel (NATS) is unavailable; retry after Retry-After seconds",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}}
SUBMITTED = {201: json_ok(gateway_pb2.SubmitTaskResponse, "The task, created"),
             200: json_ok(gateway_pb2.SubmitTaskResponse, "The task an earlier submission with the same idempotency "
                                                          "key created (`created` false)")}


IDEMPOTENCY_HEADER = Header(None, alias="Idempotency-Key", max_length=200,
                            description="The idempotency key as a header (instead of the idempotency_key field)")

def errors(*codes: int) -> dict:
    """OpenAPI responses for error codes; every authenticated route can answer 400, 401, 413 and 503."""
    out = {}
    for code in sorted({400, 401, 413, 503, *codes}):
        out[code] = {"model": ErrorBody, "description": _MEANING[code]}
        if code in (429, 503):
            out[code]["headers"] = _RETRY_AFTER
    return out


def error_response(status: int, code: str, message: str, retry_after: int | None = None,
                   param: str | None = None, type_: str | None = None, headers: dict | None = None) -> JSONResponse:
    headers = {**(headers or {}), **({"Retry-After": str(retry_after)} if retry_after else {})}
    return JSONResponse(error_payload(status, code, message, param, type_), status_code=status,
                        headers=headers or None)


def api_error_response(exc: ApiError) -> JSONResponse:
    return error_response(exc.http_status, exc.code, exc.message, exc.retry_after, exc.param, exc.error_type)


def build_asgi(tasks: TaskService, tenancy: Tenancy, settings: Settings, extra_routers=()) -> EarlyReject:
    """What uvicorn serves: the app behind EarlyReject, which must see a request before FastAPI's body limiter
    (that one would answer its own plain-text 413 to an early response)."""
    app = build_app(tasks, tenancy, settings, extra_routers)
    return EarlyReject(app, tenancy, max_bytes=settings.max_json_bytes,
                       max_bytes_by_path={UPLOAD_PATH: settings.max_request_bytes})


def build_app(tasks: TaskService, tenancy: Tenancy, settings: Settings, extra_routers=()) -> FastAPI:
    app = FastAPI(title="Workforce gateway", version="1", max_body_size=settings.max_json_bytes, docs_url=None,
                  redoc_url=None, dependencies=[Depends(refuse_unknown_query)], description=
                  "Submit tasks to a Workforce (planner → coordinator → workers), watch them, cancel them. "
                  "Each API key is an identity that sees only its own tasks. The web console is at /.")
    console.install(app, auth_required=not tenancy.keys.disabled)

    @app.exception_handler(ApiError)
    async def api_error(request, exc: ApiError):
        return api_error_response(exc)

    async def channel_error(request, exc: Exception):
        err = channel_unavailable(exc)
        return error_response(err.http_status, err.code, err.message, err.retry_after)

    for error_type in CHANNEL_ERRORS:
        app.add_exception_handler(error_type, channel_error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request, exc: StarletteHTTPException):
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 406: "not_acceptable",
                 413: "too_large", 415: "unsupported_media_type"}
        return error_response(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail),
                              headers=exc.headers)   # 405: Allow

    @app.exception_handler(RequestValidationError)
    async def invalid(request, exc: RequestValidationError):
        """400 on every route (the OpenAI routes as OpenAI's API answers), naming the field; 415 for a body that is
        not of the route's media type."""
        return api_error_response(as_api_error(request, exc, form_paths=(UPLOAD_PATH,)))

    bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`")
    api_key = APIKeyHeader(name="x-api-key", auto_error=False, description="`x-api-key: <API key>`")

    # async: a plain `def` dependency runs in FastAPI's thread pool, a thread hop per request for no I/O at all
    async def identity(credentials: HTTPAuthorizationCredentials | None = Security(bearer),
                       key: str | None = Security(api_key)) -> Caller:
        return tenancy.caller(f"Bearer {credentials.credentials}" if credentials else None, key)

    async def caller(who: Caller = Depends(identity)) -> Caller:
        """The caller of a route that needs the task channel (503 at once while NATS is down)."""
        tasks.ensure_connected()
        return who

    @app.get("/healthz", tags=["health"], responses={200: json_body("Health", "The process serves")})
    async def healthz():
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={200: json_body("Health", "Connected to NATS"),
                                                    503: {"model": ErrorBody, "description": _MEANING[503],
                                                          "headers": _RETRY_AFTER}})
    async def readyz():
        if not tasks.channel.nc.is_connected:
            return error_response(503, "unavailable", "not connected to NATS", retry_after=5)
        return {"status": "ready"}

    @app.post("/v1/tasks", tags=["tasks"], status_code=201, responses={**SUBMITTED, **errors(409, 415, 429)})
    async def submit(body: SubmitBody, who: Caller = Depends(caller), header_key: str | None = IDEMPOTENCY_HEADER):
        record, created = await tasks.submit(Submission(
            question=body.question, answer_format=body.answer_format,
            idempotency_key=_idempotency_key(body.idempotency_key, header_key),
            metadata=body.metadata, timeout_s=body.timeout_s, review_plan=body.review_plan,
            review_replans=body.review_replans, token_budget=body.token_budget), who)
        return JSONResponse({"task_id": record.task_id, "created": created, "task": to_json(record)},
                            status_code=201 if created else 200)

    @app.post(UPLOAD_PATH, tags=["tasks"], status_code=201, max_body_size=settings.max_request_bytes,
              responses={**SUBMITTED, **errors(409, 415, 429)})
    async def submit_with_files(request: Request, question: str = Form(...), answer_format: str = Form(""),
                                idempotency_key: str = Form(""), metadata: str = Form("{}"),
                                header_key: str | None = IDEMPOTENCY_HEADER,
                                timeout_s: int = Form(0), review_plan: bool = Form(False),
                                review_replans: bool = Form(False), token_budget: int = Form(0),
                                files: list[UploadFile] = File(default=[]),
                                who: Caller = Depends(caller)):
        check_known((await request.form()).keys(), UPLOAD_FIELDS, "in the form")
        try:
            meta = json.loads(metadata or "{}")
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"metadata is not valid JSON: {exc}", param="metadata") from exc
        if not isinstance(meta, dict):
            raise InvalidInput("metadata must be a JSON object", param="metadata")
        loaded = []
        for f in files:
            data = await f.read(settings.max_file_bytes + 1)
            if len(data) > settings.max_file_bytes:
                raise TooLarge(f"file {f.filename!r} is over {settings.max_file_bytes} bytes")
            loaded.append((f.filename or "file", data, f.content_type or ""))
        record, created = await tasks.submit(Submission(
            question=question, answer_format=answer_format,
            idempotency_key=_idempotency_key(idempotency_key, header_key),
            metadata={str(k): str(v) for k, v in meta.items()}, timeout_s=timeout_s, files=loaded,
            review_plan=review_plan, review_replans=review_replans, token_budget=token_budget), who)
        return JSONResponse({"task_id": record.task_id, "created": created, "task": to_json(record)},
                            status_code=201 if created else 200)

    @app.get("/v1/tasks", tags=["tasks"], responses={200: json_ok(gateway_pb2.ListTasksResponse, "A page of tasks"),
                                                     **errors()})
    async def list_tasks(limit: int = Query(50, ge=1, le=settings.list_limit_max),
                         status: str = Query("", max_length=64),
                         page_token: str = Query("", max_length=64, description="next_page_token of the last page"),
                         who: Caller = Depends(caller)):
        """The caller's tasks, newest first (an admin identity sees everyone's), one page at a time."""
        code = 0
        if status:
            name = "TASK_STATUS_" + status.upper().removeprefix("TASK_STATUS_")
            if name not in common_pb2.TaskStatus.keys():
                known = ", ".join(n.removeprefix("TASK_STATUS_").lower() for n in common_pb2.TaskStatus.keys()
                                  if n != "TASK_STATUS_UNSPECIFIED")
                raise InvalidInput(f"unknown status {status[:40]!r}; one of: {known}", param="status")
            code = common_pb2.TaskStatus.Value(name)
        records, next_token = await tasks.list_tasks(who, limit, code, page_token)
        return {"tasks": [to_json(r) for r in records], "next_page_token": next_token}

    @app.get("/v1/tasks/{task_id}", tags=["tasks"], responses={200: json_ok(common_pb2.TaskRecord, "The task"),
                                                               **errors(404)})
    async def get_task(task_id: str, who: Caller = Depends(caller)):
        return to_json(await tasks.get(who, task_id))

    @app.get("/v1/tasks/{task_id}/plan", tags=["tasks"], responses={
        200: json_ok(channel_pb2.PlanState, "The task's plan (empty but for task_id before there is one)"),
        **errors(404)})
    async def get_plan(task_id: str, who: Caller = Depends(caller)):
        return to_json(await tasks.plan(who, task_id))

    @app.post("/v1/tasks/{task_id}/cancel", tags=["tasks"], responses={
        200: json_ok(common_pb2.TaskRecord, "The cancelled task"), **errors(404, 409, 415)})
    async def cancel(task_id: str, body: CancelBody | None = None, who: Caller = Depends(caller)):
        return to_json(await tasks.cancel(who, task_id, body.reason if body else ""))

    @app.get("/v1/tasks/{task_id}/events", tags=["tasks"], responses={200: EVENT_STREAM_OK, **errors(404)},
             response_class=EventStream)
    async def events(task_id: str, from_seq: int = Query(0, ge=0, le=SEQ_MAX),
                     last_event_id: str | None = Header(None, alias="Last-Event-ID", max_length=64),
                     follow: bool = Query(True, description="false: the events stored now, then the stream ends "
                                                            "(a snapshot of a task still running)"),
                     who: Caller = Depends(caller)):
        """Server-Sent Events from stream sequence `from_seq` (or after `Last-Event-ID`) until the task ends (with
        follow=false: until the last event stored when asked); a finished task's stream ends after its last event.
        An `error` event ends a stream the channel cut."""
        start, sent_as = from_seq, None
        if last_event_id:
            if not last_event_id.isdigit() or int(last_event_id) >= SEQ_MAX:
                raise InvalidInput("Last-Event-ID must be the id (sequence number) of an event",
                                   param="Last-Event-ID")
            start, sent_as = int(last_event_id) + 1, ("Last-Event-ID", int(last_event_id))
        watch = await tasks.open_watch(who, task_id, start, keepalive=follow, sent_as=sent_as, follow=follow)

        async def stream():
            try:
                async for event in watch:
                    yield KEEPALIVE if event is None else frame(event.type, event_json(event), id=str(event.seq))
            except CHANNEL_ERRORS as exc:
                err = channel_unavailable(exc)
                yield frame("error", json.dumps({"error": {"code": err.code, "message": err.message,
                                                           "retry_after": err.retry_after}}),
                            retry_ms=err.retry_after * 1000)

        return EventStream(stream())

    @app.get("/v1/workers", tags=["workers"], responses={
        200: json_ok(gateway_pb2.ListWorkersResponse, "Worker pools (one per worker type) and their replicas"),
        **errors()})
    async def workers(who: Caller = Depends(caller)):
        pools, instances = await tasks.workers()
        return {"pools": [to_json(p) for p in pools], "instances": [to_json(i) for i in instances]}

    for make_router in extra_routers:  # factories: (tasks, caller dependency) -> APIRouter
        app.include_router(make_router(tasks, Depends(caller)))
    openapi_doc.install(app)
    return app


def _idempotency_key(field: str, header: str | None) -> str:
    """The submission's key: its `idempotency_key` field or the `Idempotency-Key` header (as on the OpenAI route);
    both, and different, is a 400."""
    if field and header and field != header:
        raise InvalidInput("idempotency_key and the Idempotency-Key header differ: send one", param="Idempotency-Key")
    return field or header or ""
