"""What the gateway does, shared by the gRPC and HTTP front ends: validate, then touch the channel.

Every operation takes the Caller: a task another identity owns is answered exactly like a missing one.
"""

import asyncio
import collections
import contextlib
import hashlib
import re
import time
from collections.abc import AsyncIterator

from nats.js.errors import NotFoundError, ObjectNotFoundError

from ..core import tracing
from ..core.channel import Channel, layout
from ..core.channel import registry
from ..core.task_lifecycle import TERMINAL_STATUSES, start_task, update_record
from ..core.config import Settings
from ..core.ids import created_ms, new_task_id, valid_task_id
from ..v1 import channel_pb2, common_pb2
from .event_hub import EventHub
from .errors import Conflict, InvalidInput, NotFound, QuotaExceeded, Unavailable
from .limits import check_from_seq, check_text, shown
from .metrics import TASKS_SUBMITTED
from .quotas import Quotas
from .submission import Submission, differs, file_name, media_type_of, validate
from .task_index import TaskIndex, decode_token, encode_token
from .tenancy import Caller

_SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


# A watch of a finished task waits this long for a late event before it ends.
FINISHED_WATCH_IDLE_S = 2.0


OWNERS_KEPT = 100_000


class TaskService:
    def __init__(self, channel: Channel, settings: Settings):
        self.channel = channel
        self.settings = settings
        self.quotas = Quotas(channel, settings)
        self.index = TaskIndex(channel)
        self.hub = EventHub(channel)   # serve() runs it: one event subscription for every watcher
        # Owners of the tasks submitted here (an owner never changes): watching one whose whole history the hub
        # holds needs no record read.
        self.owners: collections.OrderedDict[str, str] = collections.OrderedDict()

    async def start(self) -> None:
        await self.quotas.start()

    def ensure_connected(self) -> None:
        """Fail fast (503) while NATS is down instead of waiting for a request timeout."""
        if not self.channel.nc.is_connected:
            raise Unavailable("not connected to the task channel (NATS); retry shortly")

    # ---- validation (before anything is written) ----

    def validate(self, sub: Submission) -> None:
        validate(sub, self.settings)

    # ---- commands ----

    async def submit(self, sub: Submission, caller: Caller) -> tuple[common_pb2.TaskRecord, bool]:
        """Write the task and hand it to the planner; the root span of the task's trace (HTTP and gRPC alike)."""
        with tracing.span("submit task", kind="server", attributes={"wf.identity": caller.identity}) as span:
            record, created = await self._submit(sub, caller)
            if record is not None:
                span.set_attributes({"wf.task_id": record.task_id, "wf.created": created})
            return record, created

    async def _submit(self, sub: Submission, caller: Caller) -> tuple[common_pb2.TaskRecord, bool]:
        self.validate(sub)
        task_id = new_task_id()
        idem, claimed = "", False
        if sub.idempotency_key:
            idem = hashlib.sha256(f"{caller.identity}\0{sub.idempotency_key}".encode()).hexdigest()
            claimed = await self.channel.idempotency.create(idem, task_id.encode()) is not None
            if not claimed:
                entry = await self.channel.idempotency.get(idem)
                earlier = entry.value.decode() if entry else task_id
                existing = await self.channel.get_task(earlier)
                if existing is not None:
                    self._same_request(existing, sub)
                    if existing.status == common_pb2.TASK_STATUS_QUEUED:
                        await start_task(self.channel, existing)  # finish what an interrupted submit began
                    return existing, False
                if valid_task_id(earlier) and time.time() * 1000 - created_ms(earlier) < 60_000:
                    task_id = earlier      # the first submission is still being written: converge on it
                else:                      # its record has expired: the key starts a new task
                    await self.channel.idempotency.put(idem, task_id.encode())
                    claimed = True
        try:
            reserved = await self.quotas.admit(caller, task_id)
        except QuotaExceeded:
            if claimed:
                await self.channel.idempotency.delete(idem)
            raise
        try:
            written = await self._write(sub, caller, task_id, reserved)
        except BaseException:
            with contextlib.suppress(Exception):   # the original error is the one to report
                await self.quotas.release(caller, task_id)
            raise
        if written is None:                # a concurrent submission with the same key wrote it first
            existing = await self.channel.get_task(task_id)
            if existing is not None:
                self._same_request(existing, sub)
            return existing, False
        record, revision = written
        self.owners[task_id] = record.owner
        while len(self.owners) > OWNERS_KEPT:
            self.owners.popitem(last=False)
        self.hub.expect(task_id)   # a watcher opened before the hub hears task.submitted reads it from memory
        await start_task(self.channel, record, revision)
        TASKS_SUBMITTED.inc()
        return record, True

    def _same_request(self, existing: common_pb2.TaskRecord, sub: Submission) -> None:
        """Conflict unless `sub` asks for the task its idempotency key already names (every field that shapes it)."""
        field = differs(existing, sub, self.settings)
        if field is not None:
            raise Conflict(f"the idempotency key was used for another request (task {existing.task_id}; this one has "
                           f"another {field}): a retry sends the same request, a new request a new key", param=field)

    async def _write(self, sub: Submission, caller: Caller, task_id: str,
                     quota_reserved: bool) -> tuple[common_pb2.TaskRecord, int] | None:
        """Files, the listing index entry, then the record: (record, its revision); None when it already existed."""
        record = common_pb2.TaskRecord(
            task_id=task_id, status=common_pb2.TASK_STATUS_QUEUED, question=sub.question,
            answer_format=sub.answer_format, idempotency_key=sub.idempotency_key, metadata=sub.metadata,
            owner=caller.identity, review_plan=sub.review_plan, review_replans=sub.review_replans,
            token_budget=sub.token_budget or self.settings.task_token_budget, quota_reserved=quota_reserved)
        record.created_at.GetCurrentTime()
        record.updated_at.CopyFrom(record.created_at)
        timeout = sub.timeout_s or self.settings.task_timeout_s
        record.deadline.FromSeconds(record.created_at.seconds + timeout)   # exact: a retry compares the timeout
        for name, data, media_type in sub.files:
            record.files.append(await self._store_file(task_id, name, data, media_type))
        # Both before the record: the sweeper finds a task whose submit was cut short, a listing finds the task.
        await asyncio.gather(self.index.add(caller, task_id), self.channel.active.put(task_id, b"1"))
        revision = await self.channel.tasks.create(task_id, record.SerializeToString())
        if revision is None:
            return None
        return record, revision

    async def _store_file(self, task_id: str, name: str, data: bytes, media_type: str) -> common_pb2.FileRef:
        name = file_name(name)
        safe = _SAFE_NAME.sub("_", name)[:200] or "file"
        digest = hashlib.sha256(data).hexdigest()
        key = layout.input_file_key(task_id, digest, safe)
        # Written once: a retry that converges on a submit cut short finds it there (replacing an object purges
        # its old chunks, which the gateway may not do).
        try:
            await self.channel.files.get_info(key)
        except ObjectNotFoundError:
            await self.channel.files.put(key, data)
        return common_pb2.FileRef(name=name, object_key=key, size=len(data), media_type=media_type_of(name, media_type),
                                  sha256=digest)

    async def get(self, caller: Caller, task_id: str) -> common_pb2.TaskRecord:
        """The task, if the caller may see it; NotFound (the same answer) when it is missing or not theirs."""
        record = await self.channel.get_task(task_id) if valid_task_id(task_id) else None
        if record is None or not caller.sees(record.owner):
            raise NotFound(f"no task {shown(task_id)}")
        return record

    async def list_tasks(self, caller: Caller, limit: int = 50, status: int = 0,
                         page_token: str = "") -> tuple[list[common_pb2.TaskRecord], str]:
        """A page of the caller's tasks, newest first, and the token of the next page ("" at the end).

        A page examines at most WF_LIST_SCAN_MAX index entries, so a rare status may give a short page with a
        token to go on."""
        if limit <= 0:
            limit = 50
        limit = min(limit, self.settings.list_limit_max)
        try:
            return await self._list(caller, limit, status, decode_token(page_token) if page_token else None)
        except InvalidInput as exc:    # the page token is malformed or another identity's
            exc.param = exc.param or "page_token"
            raise

    async def _list(self, caller: Caller, limit: int, status: int,
                    start: int | None) -> tuple[list[common_pb2.TaskRecord], str]:
        entries = aiter(self.index.entries(caller, start))
        out, scanned = [], 0
        while True:
            want = min(limit - len(out), self.settings.list_scan_max - scanned)
            batch = []
            async for entry in entries:
                batch.append(entry)
                if len(batch) >= max(want, 1):
                    break
            if not batch:
                return out, ""
            if want <= 0:                      # the page is full: the next entry starts the next page
                return out, encode_token(batch[0].seq)
            scanned += len(batch)
            records = await asyncio.gather(*(self.channel.get_task(e.task_id) for e in batch
                                             if valid_task_id(e.task_id)))
            out += [r for r in records if r is not None and caller.sees(r.owner) and (not status or r.status == status)]

    async def cancel(self, caller: Caller, task_id: str, reason: str = "") -> common_pb2.TaskRecord:
        check_text("reason", reason)
        record = await self.get(caller, task_id)
        if record.status in TERMINAL_STATUSES:
            raise Conflict(f"task {task_id} already ended as "
                           f"{common_pb2.TaskStatus.Name(record.status).removeprefix('TASK_STATUS_')}")
        reason = (reason or "cancelled by the user")[:1000]
        if caller.identity != record.owner:
            reason = f"{reason} (by {caller.identity})"

        def cancelled(r):
            r.status = common_pb2.TASK_STATUS_CANCELLED
            r.failure_reason = reason

        updated = await update_record(self.channel, task_id, cancelled)
        if updated is None:
            return await self.get(caller, task_id)
        await self.quotas.release(Caller(record.owner), task_id)   # no longer in flight
        await self.channel.emit(task_id, "task.cancelled", reason, status=common_pb2.TASK_STATUS_CANCELLED,
                                msg_id=f"ev:{task_id}:terminal")
        await self.channel.cancel_running(task_id)
        await self.channel.to_coordinator(channel_pb2.CoordinatorMessage(
            task_id=task_id, cancel=channel_pb2.CancelTask(reason=reason)), msg_id=f"cancel:{task_id}")
        return updated

    async def open_watch(self, caller: Caller, task_id: str, from_seq: int = 0, keepalive: bool = False,
                         sent_as: tuple[str, int] | None = None,
                         follow: bool = True) -> AsyncIterator[channel_pb2.TaskEvent | None]:
        """The watch below; with follow=False it ends at the task's last event stored now (a snapshot)."""
        if follow:
            return await self._open_watch(caller, task_id, from_seq, keepalive, sent_as)
        watch = await self._open_watch(caller, task_id, from_seq, False, sent_as)
        last = await self._last_event_seq(task_id)
        return _until(watch, last) if last and from_seq <= last else _closed(watch)

    async def _open_watch(self, caller: Caller, task_id: str, from_seq: int, keepalive: bool,
                          sent_as: tuple[str, int] | None) -> AsyncIterator[channel_pb2.TaskEvent | None]:
        """Check everything first (so errors come before a stream starts), then the task's events from stream
        sequence from_seq (0 = all) until its terminal event. A finished task's watch ends after the events it
        has, at once when from_seq is past them. With keepalive, None comes now and then while nothing happens
        (from the event hub; a TaskService without one sends none). `sent_as`: what the client sent for from_seq
        (its name and value, e.g. ("Last-Event-ID", from_seq - 1)), as errors name it."""
        owner = self.owners.get(task_id)
        if owner is not None and not from_seq and self.hub.running and self.hub.holds_history(task_id):
            if not caller.sees(owner):
                raise NotFound(f"no task {shown(task_id)}")
            return self.hub.watch(task_id, keepalive=keepalive)   # ends at the terminal event the hub holds
        record = await self.get(caller, task_id)
        if from_seq:
            param, sent = sent_as or ("from_seq", from_seq)
            stream_end = (await self.channel.js.stream_info(layout.EVENTS_STREAM)).state.last_seq
            check_from_seq(from_seq, stream_end, param, sent)
        idle = None
        if record.status in TERMINAL_STATUSES:
            last = await self._last_event_seq(task_id)
            if not last or from_seq > last:
                return _nothing()
            idle = FINISHED_WATCH_IDLE_S
        if self.hub.running:
            return self.hub.watch(task_id, from_seq, idle_timeout=idle, keepalive=keepalive)
        return self.channel.watch(task_id, from_seq, idle_timeout=idle)   # no hub (a TaskService without serve)

    async def _last_event_seq(self, task_id: str) -> int:
        try:
            msg = await self.channel.js.get_last_msg(layout.EVENTS_STREAM, layout.events_subject(task_id))
        except NotFoundError:
            return 0
        return msg.seq

    async def plan(self, caller: Caller, task_id: str) -> channel_pb2.PlanState:
        await self.get(caller, task_id)
        plan, _ = await self.channel.get_plan(task_id)
        if plan is None:
            return channel_pb2.PlanState(task_id=task_id)
        return plan   # its bookkeeping (outbox, applied, …) is left out where it is answered: proto_json.INTERNAL

    async def workers(self) -> tuple[list[common_pb2.WorkerPool], list[common_pb2.WorkerInfo]]:
        return await registry.pools(self.channel, with_depth=True), await registry.instances(self.channel)


async def _nothing():
    return
    yield  # pragma: no cover


async def _closed(watch: AsyncIterator) -> AsyncIterator[channel_pb2.TaskEvent]:
    """No events: a snapshot past the task's last one (the watch opened for the checks is closed)."""
    if hasattr(watch, "aclose"):
        await watch.aclose()
    return
    yield  # pragma: no cover


async def _until(watch: AsyncIterator, last_seq: int) -> AsyncIterator[channel_pb2.TaskEvent]:
    """The watch's events up to stream sequence `last_seq` (read after the watch opened: nothing falls between)."""
    try:
        async for event in watch:
            if event is None:
                continue
            if event.seq > last_seq:
                return
            yield event
            if event.seq == last_seq:
                return
    finally:
        if hasattr(watch, "aclose"):
            await watch.aclose()     # unregistered from the event hub now, not when collected
