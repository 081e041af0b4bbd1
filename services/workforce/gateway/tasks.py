"""What the gateway does, shared by the gRPC and HTTP front ends: validate, then touch the channel."""

import hashlib
import mimetypes
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from ..core.channel import Channel
from ..core.channel import registry
from ..core.channel.client import TERMINAL_STATUSES
from ..core.config import Settings
from ..core.ids import new_task_id, valid_task_id
from ..core.metrics import TASKS_SUBMITTED
from ..core.sampling import temperature_of
from ..v1 import channel_pb2, common_pb2
from .errors import Conflict, InvalidInput, NotFound, TooLarge

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class Submission:
    question: str
    answer_format: str = ""
    idempotency_key: str = ""
    files: list[tuple[str, bytes, str]] = field(default_factory=list)   # (name, data, media type)
    metadata: dict[str, str] = field(default_factory=dict)
    timeout_s: int = 0
    review_plan: bool = False        # hold the plan for a person's approval before it runs
    review_replans: bool = False     # … and every replan


class TaskService:
    def __init__(self, channel: Channel, settings: Settings):
        self.channel = channel
        self.settings = settings

    # ---- validation (before anything is written) ----

    def validate(self, sub: Submission) -> None:
        s = self.settings
        if not sub.question or not sub.question.strip():
            raise InvalidInput("question is empty")
        if len(sub.question) > s.max_question_chars:
            raise TooLarge(f"question has {len(sub.question)} characters; the limit is {s.max_question_chars}")
        if len(sub.answer_format) > s.max_answer_format_chars:
            raise TooLarge(f"answer_format is longer than {s.max_answer_format_chars} characters")
        if len(sub.idempotency_key) > s.max_idempotency_key_chars:
            raise InvalidInput(f"idempotency_key is longer than {s.max_idempotency_key_chars} characters")
        if len(sub.metadata) > s.max_metadata_entries or any(
                len(k) > 100 or len(v) > 1000 for k, v in sub.metadata.items()):
            raise InvalidInput(f"metadata: at most {s.max_metadata_entries} entries, keys ≤ 100 and values ≤ 1000 chars")
        try:
            temperature_of(sub.metadata)
        except ValueError as exc:
            raise InvalidInput(f"metadata.temperature: {exc}") from exc
        if sub.timeout_s < 0 or sub.timeout_s > 7 * 24 * 3600:
            raise InvalidInput("timeout_s must be between 0 (server default) and 604800")
        if len(sub.files) > s.max_files:
            raise TooLarge(f"{len(sub.files)} files; at most {s.max_files} per task")
        for name, data, _ in sub.files:
            if not name or len(name) > 255:
                raise InvalidInput("every file needs a name of at most 255 characters")
            if len(data) > s.max_file_bytes:
                raise TooLarge(f"file {name!r} has {len(data)} bytes; the limit is {s.max_file_bytes}")

    # ---- commands ----

    async def submit(self, sub: Submission, owner: str) -> tuple[common_pb2.TaskRecord, bool]:
        self.validate(sub)
        task_id = new_task_id()
        if sub.idempotency_key:
            idem = hashlib.sha256(f"{owner}\0{sub.idempotency_key}".encode()).hexdigest()
            if await self.channel.idempotency.create(idem, task_id.encode()) is None:
                entry = await self.channel.idempotency.get(idem)
                task_id = entry.value.decode()
                existing = await self.channel.get_task(task_id)
                if existing is not None:
                    return existing, False
        record = common_pb2.TaskRecord(
            task_id=task_id, status=common_pb2.TASK_STATUS_QUEUED, question=sub.question,
            answer_format=sub.answer_format, idempotency_key=sub.idempotency_key, metadata=sub.metadata, owner=owner,
            review_plan=sub.review_plan, review_replans=sub.review_replans)
        record.created_at.GetCurrentTime()
        record.updated_at.CopyFrom(record.created_at)
        timeout = sub.timeout_s or self.settings.task_timeout_s
        record.deadline.FromSeconds(int(time.time() + timeout))
        for name, data, media_type in sub.files:
            record.files.append(await self._store_file(task_id, name, data, media_type))
        if await self.channel.tasks.create(task_id, record.SerializeToString()) is None:
            return await self.channel.get_task(task_id), False
        await self.channel.active.put(task_id, b"1")
        await self.channel.emit(task_id, "task.submitted", sub.question[:500], status=common_pb2.TASK_STATUS_QUEUED,
                                msg_id=f"ev:{task_id}:submitted")
        request = channel_pb2.PlannerRequest(task_id=task_id, decompose=channel_pb2.DecomposeRequest(
            question=sub.question, answer_format=sub.answer_format, files=list(record.files)))
        await self.channel.to_planner(request, msg_id=f"decompose:{task_id}")
        TASKS_SUBMITTED.inc()
        return record, True

    async def _store_file(self, task_id: str, name: str, data: bytes, media_type: str) -> common_pb2.FileRef:
        safe = _SAFE_NAME.sub("_", name.rsplit("/", 1)[-1])[:200] or "file"
        digest = hashlib.sha256(data).hexdigest()
        key = f"{task_id}/in/{digest[:16]}/{safe}"
        await self.channel.files.put(key, data)
        media_type = media_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        return common_pb2.FileRef(name=name, object_key=key, size=len(data), media_type=media_type, sha256=digest)

    async def get(self, task_id: str) -> common_pb2.TaskRecord:
        if not valid_task_id(task_id):
            raise NotFound(f"no task {task_id!r}")
        record = await self.channel.get_task(task_id)
        if record is None:
            raise NotFound(f"no task {task_id!r}")
        return record

    async def list_tasks(self, limit: int = 50, status: int = 0) -> list[common_pb2.TaskRecord]:
        if limit <= 0:
            limit = 50
        limit = min(limit, self.settings.list_limit_max)
        out = []
        for key in sorted(await self.channel.tasks.keys(), reverse=True):  # ids are time-ordered
            record = await self.channel.get_task(key)
            if record is not None and (not status or record.status == status):
                out.append(record)
                if len(out) >= limit:
                    break
        return out

    async def cancel(self, task_id: str, reason: str = "") -> common_pb2.TaskRecord:
        record = await self.get(task_id)
        if record.status in TERMINAL_STATUSES:
            raise Conflict(f"task {task_id} already ended as "
                           f"{common_pb2.TaskStatus.Name(record.status).removeprefix('TASK_STATUS_')}")
        reason = (reason or "cancelled by the user")[:1000]

        def cancelled(r):
            r.status = common_pb2.TASK_STATUS_CANCELLED
            r.failure_reason = reason

        updated = await self.channel.update_task(task_id, cancelled)
        if updated is None:
            return await self.get(task_id)
        await self.channel.emit(task_id, "task.cancelled", reason, status=common_pb2.TASK_STATUS_CANCELLED,
                                msg_id=f"ev:{task_id}:terminal")
        await self.channel.cancel_running(task_id)
        await self.channel.to_coordinator(channel_pb2.CoordinatorMessage(
            task_id=task_id, cancel=channel_pb2.CancelTask(reason=reason)), msg_id=f"cancel:{task_id}")
        return updated

    async def watch(self, task_id: str, from_seq: int = 0) -> AsyncIterator[channel_pb2.TaskEvent]:
        await self.get(task_id)
        async for event in self.channel.watch(task_id, from_seq):
            yield event

    async def plan(self, task_id: str) -> channel_pb2.PlanState:
        await self.get(task_id)
        plan, _ = await self.channel.get_plan(task_id)
        if plan is None:
            return channel_pb2.PlanState(task_id=task_id)
        del plan.outbox[:]
        del plan.applied[:]
        return plan

    async def workers(self) -> tuple[list[common_pb2.WorkerPool], list[common_pb2.WorkerInfo]]:
        return await registry.pools(self.channel, with_depth=True), await registry.instances(self.channel)
