"""POST /v1/chat/completions: a Workforce used as if it were a model, so OpenAI clients and chat front ends work.

The conversation becomes one task (earlier turns as context); the answer comes back as the assistant message.
With stream=true, progress events arrive as `reasoning_content` deltas and the answer as `content` deltas.
The one model is `workforce` (GET /v1/models); another model is a 404 `model_not_found`. What a task cannot do is
refused with a 400 naming the field, never ignored: tools and functions (the workers use their own tools), a
`response_format` other than text. Fields OpenAI's SDKs send that change nothing here are accepted.

Retries are safe with an `Idempotency-Key` header: a request with a key the caller used before (within
WF_IDEMPOTENCY_TTL_S) answers from the same task instead of starting another (the key with another conversation
is a 409). The OpenAI SDKs retry failed
requests on their own; pass a key per logical request, e.g. `extra_headers={"Idempotency-Key": str(uuid4())}`.
"""

import json
import time
from typing import Any

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ..core.sampling import TEMPERATURE_KEY
from ..v1 import common_pb2
from .errors import CHANNEL_ERRORS, ApiError, InvalidInput, ModelNotFound, channel_unavailable
from .http_api import errors
from .limits import error_payload
from .openapi_doc import json_body
from .tasks import Submission, TaskService
from .tenancy import Caller

MODEL_ID = "workforce"
MODELS = (MODEL_ID,)   # what GET /v1/models lists
# A task's fields as a chat request has them (an idempotency conflict names the field of this body).
CHAT_PARAMS = {"question": "messages", "answer_format": "messages", "metadata": "temperature"}
CHAT_OK = json_body("ChatCompletion", "The task's answer as a chat completion; with stream=true, Server-Sent Events "
                    "of `chat.completion.chunk` objects (progress as `delta.reasoning_content`, then the answer as "
                    "`delta.content`, the last chunk with `usage`), then `data: [DONE]`")
CHAT_OK["content"]["text/event-stream"] = {"schema": {"type": "string"}}
_REFUSED = "is not supported: "


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    role: str
    content: str | list[ContentPart] | None = None


class ChatRequest(BaseModel):
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: StrictBool | None = Field(False, description="true: Server-Sent Events (null or absent: one JSON answer)")
    n: int = Field(1, ge=1, le=1, description="choices to return: one (a task has one answer)")
    temperature: float | None = Field(None, ge=0, le=2, description="the task's sampling temperature (planner and "
                                      "workers); unset: the services' default")
    user: str | None = None
    tools: list[Any] | None = Field(None, description="not supported (400) unless empty: the workers use their own "
                                                      "tools")
    tool_choice: Any = Field(None, description='not supported (400) unless "none"')
    functions: list[Any] | None = Field(None, description="not supported (400) unless empty")
    function_call: Any = Field(None, description='not supported (400) unless "none"')
    response_format: dict[str, Any] | None = Field(None, description='{"type": "text"} only (400 otherwise): the '
                                                   "answer is text; a system message says its format")


def check_supported(body: ChatRequest) -> None:
    """404 for a model other than ours; 400 for what a task would silently not do."""
    if body.model not in MODELS:
        raise ModelNotFound(f"The model {body.model[:100]!r} does not exist; the models: {', '.join(MODELS)} "
                            "(GET /v1/models)")
    for name in ("tools", "functions"):
        if getattr(body, name):
            raise InvalidInput(f"{name} {_REFUSED}a Workforce task's workers use their own tools and the answer is "
                               "always an assistant message; leave out " + name, param=name)
    for name in ("tool_choice", "function_call"):
        if getattr(body, name) not in (None, "none"):
            raise InvalidInput(f"{name} {_REFUSED}there are no tools to call (only \"none\" is accepted)", param=name)
    kind = (body.response_format or {}).get("type", "text")
    if kind != "text":
        raise InvalidInput(f"response_format {str(kind)[:40]!r} {_REFUSED}the answer is text. Describe its format "
                           "in a system message (it becomes the task's answer format); /v1/tasks also takes "
                           "metadata.answer_type (number, integer, boolean)", param="response_format")


def _text(content) -> str:
    if isinstance(content, list):
        return " ".join(p.text or "" for p in content if p.type == "text")
    return content or ""


def to_question(messages: list[ChatMessage]) -> tuple[str, str]:
    """(question, answer format) from a chat: the last user turn, earlier turns as context, system as format."""
    system = "\n".join(_text(m.content) for m in messages if m.role in ("system", "developer"))
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not _text(turns[-1].content).strip():
        raise InvalidInput("the last message must be a user message with text (images and other parts are not "
                           "read)", param="messages")
    question = _text(turns[-1].content)
    if len(turns) > 1:
        history = "\n".join(f"{m.role}: {_text(m.content)}" for m in turns[:-1])
        question = f"Conversation so far:\n{history}\n\nCurrent request:\n{question}"
    return question, system


def router(tasks: TaskService, caller_dep) -> APIRouter:
    api = APIRouter(tags=["openai"])

    @api.get("/v1/models", responses={200: json_body("ModelList", "The models (one: workforce)"), **errors()})
    async def models(who: Caller = caller_dep):
        return {"object": "list", "data": [_model(m) for m in MODELS]}

    @api.get("/v1/models/{model}", responses={200: json_body("Model", "The model"), **errors(404)})
    async def model(model: str, who: Caller = caller_dep):
        """One model (OpenAI's retrieve): 404 `model_not_found` for a model that is not listed."""
        if model not in MODELS:
            raise ModelNotFound(f"The model {model[:100]!r} does not exist; the models: {', '.join(MODELS)}")
        return _model(model)

    @api.post("/v1/chat/completions", responses={200: CHAT_OK, **errors(404, 409, 415, 422, 429)},
              summary="A Workforce task as an OpenAI chat completion",
              description="The last user message is the task's question, earlier turns its context, system "
                          "messages its answer format. A failed or cancelled task is a 422 (type `task_failed` / "
                          "`task_cancelled`), never a 5xx the OpenAI SDKs would retry as a new task. Pass an "
                          "`Idempotency-Key` header to make retries answer from the same task. A model other "
                          "than `workforce` is a 404 `model_not_found`; tools, functions and a response_format "
                          "other than text are a 400. With stream=true, progress comes as `delta.reasoning_content` "
                          "chunks (one line per task event: `[type subtask] message`), then the answer as "
                          "`delta.content` chunks.")
    async def chat(body: ChatRequest, who: Caller = caller_dep,
                   idempotency_key: str | None = Header(None, alias="Idempotency-Key", max_length=200)):
        check_supported(body)
        question, answer_format = to_question(body.messages)
        try:
            record, _ = await tasks.submit(Submission(
                question=question, answer_format=answer_format,
                idempotency_key=f"chat:{idempotency_key}" if idempotency_key else "", metadata=_metadata(body)), who)
        except ApiError as exc:   # named as this body has it: the question and answer format are its messages
            exc.param = CHAT_PARAMS.get(exc.param, exc.param)
            raise
        # the task's own creation time: an idempotent retry answers with the same id and the same `created`
        cid, created = f"chatcmpl-{record.task_id}", record.created_at.seconds or int(time.time())
        watch = await tasks.open_watch(who, record.task_id)
        if body.stream:
            return StreamingResponse(_stream(tasks, who, watch, record.task_id, cid, created),
                                     media_type="text/event-stream")
        final = None
        async for event in watch:
            final = event
        record = await tasks.get(who, record.task_id)
        if record.status != common_pb2.TASK_STATUS_SUCCEEDED:
            status = common_pb2.TaskStatus.Name(record.status).removeprefix("TASK_STATUS_").lower()
            # 422, not a 5xx: the OpenAI SDKs retry a 5xx on their own, and each retry would be a new task
            payload = error_payload(422, status, f"task {record.task_id} {status}: {record.failure_reason}")
            payload["error"]["type"] = "task_" + status
            return JSONResponse(payload, status_code=422)
        usage = _usage(record)
        return {"id": cid, "object": "chat.completion", "created": created, "model": MODEL_ID,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": record.answer}}],
                "usage": usage, "workforce": {"task_id": record.task_id, "last_event": final.type if final else ""}}

    return api


def _model(model_id: str) -> dict:
    return {"id": model_id, "object": "model", "owned_by": "workforce"}


def _metadata(body: ChatRequest) -> dict[str, str]:
    metadata = {"api": "openai"}
    if body.temperature is not None:
        metadata[TEMPERATURE_KEY] = repr(body.temperature)
    return metadata


def _usage(record) -> dict:
    prompt = sum(u.prompt_tokens for u in record.usage.values())
    completion = sum(u.completion_tokens for u in record.usage.values())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def _stream(tasks: TaskService, who: Caller, watch, task_id: str, cid: str, created: int):
    def chunk(delta: dict, finish=None, **extra) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        async for event in watch:
            if event.type in ("task.succeeded", "task.failed", "task.cancelled"):
                break
            note = f"[{event.type}{' ' + event.subtask_id if event.subtask_id else ''}] {event.message[:200]}\n"
            yield chunk({"reasoning_content": note})
        record = await tasks.get(who, task_id)
    except CHANNEL_ERRORS as exc:
        err = channel_unavailable(exc)
        yield f"data: {json.dumps({'error': {'message': err.message, 'type': err.code}})}\n\n"
        yield "data: [DONE]\n\n"
        return
    if record.status == common_pb2.TASK_STATUS_SUCCEEDED:
        text = record.answer
        for i in range(0, len(text), 64):
            yield chunk({"content": text[i:i + 64]})
        yield chunk({}, "stop", usage=_usage(record))
    else:
        status = common_pb2.TaskStatus.Name(record.status).removeprefix("TASK_STATUS_").lower()
        error = {"error": {"message": f"task {task_id} {status}: {record.failure_reason}", "type": "task_" + status}}
        yield f"data: {json.dumps(error)}\n\n"
    yield "data: [DONE]\n\n"
