"""POST /v1/chat/completions: a Workforce used as if it were a model, so OpenAI clients and chat front ends work.

The conversation becomes one task (earlier turns as context); the answer comes back as the assistant message.
With stream=true, progress events arrive as `reasoning_content` deltas and the answer as `content` deltas.
"""

import json
import time
import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from ..v1 import common_pb2
from .errors import InvalidInput
from .tasks import Submission, TaskService

MODEL_ID = "workforce"


class ChatMessage(BaseModel):
    role: str
    content: str | list | None = None


class ChatRequest(BaseModel):
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    user: str | None = None


def _text(content) -> str:
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return content or ""


def to_question(messages: list[ChatMessage]) -> tuple[str, str]:
    """(question, answer format) from a chat: the last user turn, earlier turns as context, system as format."""
    system = "\n".join(_text(m.content) for m in messages if m.role in ("system", "developer"))
    turns = [m for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1].role != "user" or not _text(turns[-1].content).strip():
        raise InvalidInput("the last message must be a non-empty user message")
    question = _text(turns[-1].content)
    if len(turns) > 1:
        history = "\n".join(f"{m.role}: {_text(m.content)}" for m in turns[:-1])
        question = f"Conversation so far:\n{history}\n\nCurrent request:\n{question}"
    return question, system


def router(tasks: TaskService, owner_dep) -> APIRouter:
    api = APIRouter(tags=["openai"])

    @api.get("/v1/models")
    async def models(who: str = owner_dep):
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "owned_by": "workforce"}]}

    @api.post("/v1/chat/completions")
    async def chat(body: ChatRequest, who: str = owner_dep):
        question, answer_format = to_question(body.messages)
        record, _ = await tasks.submit(Submission(question=question, answer_format=answer_format,
                                                  metadata={"api": "openai"}), who)
        cid, created = f"chatcmpl-{record.task_id}", int(time.time())
        if body.stream:
            return StreamingResponse(_stream(tasks, record.task_id, cid, created), media_type="text/event-stream")
        final = None
        async for event in tasks.watch(record.task_id):
            final = event
        record = await tasks.get(record.task_id)
        if record.status != common_pb2.TASK_STATUS_SUCCEEDED:
            status = common_pb2.TaskStatus.Name(record.status).removeprefix("TASK_STATUS_").lower()
            return JSONResponse({"error": {"message": f"task {record.task_id} {status}: {record.failure_reason}",
                                           "type": "task_" + status, "code": status}}, status_code=502)
        usage = _usage(record)
        return {"id": cid, "object": "chat.completion", "created": created, "model": MODEL_ID,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": record.answer}}],
                "usage": usage, "workforce": {"task_id": record.task_id, "last_event": final.type if final else ""}}

    return api


def _usage(record) -> dict:
    prompt = sum(u.prompt_tokens for u in record.usage.values())
    completion = sum(u.completion_tokens for u in record.usage.values())
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def _stream(tasks: TaskService, task_id: str, cid: str, created: int):
    def chunk(delta: dict, finish=None, **extra) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    async for event in tasks.watch(task_id):
        if event.type in ("task.succeeded", "task.failed", "task.cancelled"):
            break
        note = f"[{event.type}{' ' + event.subtask_id if event.subtask_id else ''}] {event.message[:200]}\n"
        yield chunk({"reasoning_content": note})
    record = await tasks.get(task_id)
    if record.status == common_pb2.TASK_STATUS_SUCCEEDED:
        text = record.answer
        for i in range(0, len(text), 64):
            yield chunk({"content": text[i:i + 64]})
        yield chunk({}, "stop", usage=_usage(record))
    else:
        status = common_pb2.TaskStatus.Name(record.status).removeprefix("TASK_STATUS_").lower()
        yield f"data: {json.dumps({'error': {'message': f'task {task_id} {status}: {record.failure_reason}', 'type': 'task_' + status}})}\n\n"
    yield "data: [DONE]\n\n"


uuid  # ids come from task ids
