"""Connect to NATS, make sure the streams and buckets exist, and publish/read channel messages."""

import asyncio
import logging
from collections.abc import AsyncIterator

import nats
from google.protobuf.message import Message
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from nats.js.api import DeliverPolicy, ConsumerConfig, KeyValueConfig, StorageType
from nats.js.errors import BadRequestError, KeyNotFoundError, KeyWrongLastSequenceError, NotFoundError

from ...v1 import channel_pb2, common_pb2
from .. import tracing
from ..config import Settings
from . import identities, layout
from .events import encode_data
from .auth import connect_options
from .state import KVStore

log = logging.getLogger(__name__)

_TERMINAL_EVENTS = {"task.succeeded", "task.failed", "task.cancelled"}


# What nats-py's reconnect loop reports on every failed attempt while the server is away: expected, one line each.
_CONNECTION_ERRORS = (OSError, asyncio.TimeoutError, nats.errors.UnexpectedEOF, nats.errors.StaleConnectionError,
                      nats.errors.NoServersError)


async def _on_nats_error(exc: Exception) -> None:
    if isinstance(exc, _CONNECTION_ERRORS):
        log.warning("NATS connection: %s: %s (reconnecting)", type(exc).__name__, exc)
    else:
        log.error("NATS error", exc_info=exc)


async def connect(settings: Settings, name: str = "") -> "Channel":
    opts = dict(servers=[settings.nats_url], name=name or settings.service_name, max_reconnect_attempts=-1,
                error_cb=_on_nats_error)
    opts.update(connect_options(settings))
    nc = await nats.connect(**opts)
    channel = Channel(nc, settings)
    identity = identities.for_service(settings.service_name) if settings.nats_user else None
    if identity is None or identity.setup:
        await channel.ensure()
    else:  # a worker's identity may not create streams: bind what it may use, once the control plane made it
        await channel.bind(identity.buckets)
    return channel


class Channel:
    """One NATS connection and everything a service does on the task channel."""

    def __init__(self, nc: NATS, settings: Settings):
        self.nc = nc
        self.js: JetStreamContext = nc.jetstream(timeout=10)
        self.settings = settings
        self.layout = layout.Layout(settings)
        self.tasks: KVStore | None = None
        self.plans: KVStore | None = None
        self.workers: KVStore | None = None
        self.idempotency: KVStore | None = None
        self.active: KVStore | None = None
        self.approvals: KVStore | None = None
        self.leases: KVStore | None = None
        self.files = None

    async def ensure(self) -> None:
        """Create or update the streams and buckets (idempotent; every service may call it)."""
        for config in self.layout.streams():
            try:
                await self.js.add_stream(config)
            except BadRequestError:
                await self.js.update_stream(config)
        s = self.settings
        self.tasks = await self.bucket(layout.TASKS_BUCKET, history=5, ttl=s.task_ttl_s)
        self.plans = await self.bucket(layout.PLANS_BUCKET, history=5, ttl=s.plan_ttl_s)
        self.workers = await self.bucket(layout.WORKERS_BUCKET, history=1, ttl=s.worker_registry_ttl_s)
        self.idempotency = await self.bucket(layout.IDEMPOTENCY_BUCKET, history=1, ttl=s.idempotency_ttl_s)
        self.active = await self.bucket(layout.ACTIVE_BUCKET, history=1, erasable=True)
        # One output per planner request: a redelivered request re-publishes what was decided the first time.
        self.approvals = await self.bucket(layout.APPROVALS_BUCKET, history=1, ttl=s.event_max_age_s)
        # Leases expire unless renewed; the TTL is how long a dead holder keeps one.
        self.leases = await self.bucket(layout.LEASES_BUCKET, history=1, ttl=max(3.0, 3 * s.sweep_period_s))
        try:
            self.files = await self.js.object_store(layout.FILES_BUCKET)
            await self._keep_settings(f"OBJ_{layout.FILES_BUCKET}", s.file_ttl_s)
        except (NotFoundError, BadRequestError):
            self.files = await self.js.create_object_store(
                bucket=layout.FILES_BUCKET, storage=StorageType.FILE, replicas=s.stream_replicas,
                ttl=s.file_ttl_s or None,
            )

    async def bind(self, buckets, wait_s: float = 1.0) -> None:
        """Bind existing buckets (by name) and the object store without creating anything."""
        attributes = {layout.TASKS_BUCKET: "tasks", layout.PLANS_BUCKET: "plans", layout.WORKERS_BUCKET: "workers",
                      layout.IDEMPOTENCY_BUCKET: "idempotency", layout.ACTIVE_BUCKET: "active"}
        while True:
            try:
                for name in buckets:
                    setattr(self, attributes[name], KVStore(await self.js.key_value(name)))
                self.files = await self.js.object_store(layout.FILES_BUCKET)
                return
            except (NotFoundError, BadRequestError) as exc:
                log.info("channel not set up yet (%s); waiting for the control plane", type(exc).__name__)
                await asyncio.sleep(wait_s)

    async def bucket(self, name: str, history: int, ttl: float | None = None, erasable: bool = False) -> KVStore:
        """A KV bucket, created when missing; an existing one gets the configured TTL (0/None = none). An erasable
        bucket takes per-message TTLs, for KVStore.erase."""
        try:
            await self._keep_settings(f"KV_{name}", ttl or 0, erasable)
            kv = await self.js.key_value(name)
        except (NotFoundError, BadRequestError):
            config = KeyValueConfig(
                bucket=name, history=history, ttl=ttl or None, storage=StorageType.FILE,
                replicas=self.settings.stream_replicas, direct=True,   # reads are direct gets (no API request)
            )
            try:
                kv = await self.js.create_key_value(config)
            except BadRequestError:  # created concurrently by another service
                kv = await self.js.key_value(name)
            if erasable:
                await self._keep_settings(f"KV_{name}", ttl or 0, erasable)
        return KVStore(kv)

    async def _keep_settings(self, stream: str, seconds: float, message_ttls: bool = False) -> None:
        """Settings apply to buckets made before they changed: the TTL (the stream's max_age), direct gets, and
        per-message TTLs for an erasable bucket."""
        config = (await self.js.stream_info(stream)).config
        direct = stream.startswith("KV_")
        if abs((config.max_age or 0) - seconds) < 1 and (config.allow_direct or not direct) and \
                (config.allow_msg_ttl or not message_ttls):
            return
        config.max_age = seconds
        config.allow_direct = config.allow_direct or direct   # buckets made before reads were direct gets
        config.allow_msg_ttl = config.allow_msg_ttl or message_ttls or None   # can be turned on, never off
        if seconds and config.duplicate_window and config.duplicate_window > seconds:
            config.duplicate_window = seconds
        await self.js.update_stream(config)
        log.info("retention of %s set to %ss", stream, seconds or "forever")

    async def close(self) -> None:
        try:
            await self.nc.drain()
        except Exception:  # already closed
            pass

    # ---- publishing ----

    def _headers(self, msg_id: str, task_id: str, type_name: str = "") -> dict:
        headers = {"Content-Type": "application/protobuf"}
        if type_name:
            headers["Wf-Type"] = type_name
        if msg_id:
            headers["Nats-Msg-Id"] = msg_id
        if task_id:
            headers["Wf-Task-Id"] = task_id
        tracing.inject(headers)   # inside a handler, its span is the parent of whatever handles this message
        return headers

    async def publish(self, subject: str, message: Message, msg_id: str = "", task_id: str = "") -> int:
        """Publish a protobuf message; a repeated msg_id within the duplicate window is dropped by the server."""
        return await self.publish_bytes(subject, message.SerializeToString(), msg_id, task_id,
                                        message.DESCRIPTOR.full_name)

    async def publish_bytes(self, subject: str, payload: bytes, msg_id: str = "", task_id: str = "",
                            type_name: str = "") -> int:
        ack = await self.js.publish(subject, payload, headers=self._headers(msg_id, task_id, type_name))
        return ack.seq

    async def publish_pipelined(self, entries, task_id: str = "", timeout: float = 10.0) -> None:
        """Publish (subject, payload, msg_id) entries in order without waiting for each acknowledgement, then wait
        for all of them. The server stores one connection's messages in the order sent, so causal order holds
        (an event queued before a work item is stored before any event the work item's worker sends).
        Cancel subjects go over core NATS (not stored)."""
        acks = []
        for subject, payload, msg_id in entries:
            if subject.startswith(layout.CANCEL_PREFIX + "."):
                await self.nc.publish(subject, payload)
                continue
            acks.append(await self.js.publish_async(subject, payload, headers=self._headers(msg_id, task_id)))
        if acks:
            await asyncio.wait_for(asyncio.gather(*acks), timeout)

    async def to_coordinator(self, message: channel_pb2.CoordinatorMessage, msg_id: str) -> None:
        await self.publish(layout.COORDINATOR_SUBJECT, message, msg_id=msg_id, task_id=message.task_id)

    async def dispatch(self, item: channel_pb2.WorkItem) -> None:
        await self.publish(layout.work_subject(item.worker_type), item, msg_id=item.attempt_id, task_id=item.task_id)

    async def cancel_running(self, task_id: str) -> None:
        await self.nc.publish(layout.cancel_subject(task_id), b"")

    # ---- events ----

    async def emit(
        self,
        task_id: str,
        type_: str,
        message: str = "",
        *,
        subtask_id: str = "",
        data: dict | None = None,
        status: int = 0,
        msg_id: str = "",
    ) -> int:
        subject, payload, msg_id = self.event_entry(task_id, type_, message, subtask_id=subtask_id, data=data,
                                                    status=status, msg_id=msg_id)
        return await self.publish_bytes(subject, payload, msg_id=msg_id, task_id=task_id)

    def event_entry(self, task_id: str, type_: str, message: str = "", *, subtask_id: str = "",
                    data: dict | None = None, status: int = 0, msg_id: str = "") -> tuple[str, bytes, str]:
        """An event as (subject, payload, msg id), for publish_pipelined."""
        event = channel_pb2.TaskEvent(
            task_id=task_id,
            type=type_,
            source=self.settings.instance_id or self.settings.service_name,
            subtask_id=subtask_id,
            message=message,
            status=status,
        )
        event.time.GetCurrentTime()
        if data:
            event.data_json = encode_data(data)
        return layout.events_subject(task_id), event.SerializeToString(), msg_id

    async def watch(self, task_id: str, from_seq: int = 0, idle_timeout: float | None = None) -> AsyncIterator[channel_pb2.TaskEvent]:
        """Yield the task's events from stream sequence from_seq (0 = all) until a terminal event."""
        if from_seq > 0:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=from_seq)
        else:
            config = ConsumerConfig(deliver_policy=DeliverPolicy.ALL)
        sub = await self.js.subscribe(
            layout.events_subject(task_id), ordered_consumer=True, config=config, stream=layout.EVENTS_STREAM
        )
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=idle_timeout or 3600)
                except nats.errors.TimeoutError:
                    return
                event = channel_pb2.TaskEvent.FromString(msg.data)
                event.seq = msg.metadata.sequence.stream
                yield event
                if event.type in _TERMINAL_EVENTS:
                    return
        finally:
            await sub.unsubscribe()

    async def events(self, task_id: str) -> list[channel_pb2.TaskEvent]:
        """Every stored event of a task (for trajectories and tests)."""
        out = []
        async for event in self.watch(task_id, idle_timeout=0.5):
            out.append(event)
        return out

    # ---- task records ----

    async def get_task(self, task_id: str) -> common_pb2.TaskRecord | None:
        entry = await self.tasks.get(task_id)
        return common_pb2.TaskRecord.FromString(entry.value) if entry else None

    async def get_plan(self, task_id: str) -> tuple[channel_pb2.PlanState | None, int]:
        entry = await self.plans.get(task_id)
        if not entry:
            return None, 0
        return channel_pb2.PlanState.FromString(entry.value), entry.revision

    # ---- consumers ----

    async def pull(self, subject: str, durable: str, stream: str, config: ConsumerConfig):
        return await self.js.pull_subscribe(subject, durable=durable, stream=stream, config=config)

    async def consumer_lag(self, stream: str, consumer: str) -> int:
        try:
            info = await self.js.consumer_info(stream, consumer)
        except NotFoundError:
            return 0
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)


__all__ = ["Channel", "connect", "KeyNotFoundError", "KeyWrongLastSequenceError"]
