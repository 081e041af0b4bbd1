"""The coordinator's consumers: its inbox, the dead-letter advisories of the worker pools, the deadline sweeper."""

import asyncio
import contextlib
import json
import logging
import time

from google.protobuf.message import DecodeError
from nats.js.errors import NotFoundError

from ..core.channel import ConsumerLoop, layout
from ..core.channel.consumer import Interrupted, Poison
from ..core.channel.inflight import TaskCancelled
from ..core.channel.lease import Lease
from ..core.logging import task_context
from ..v1 import channel_pb2
from .engine import Coordinator, UnknownTask
from .metrics import QUEUE_DEPTH

log = logging.getLogger(__name__)


class CoordinatorConsumers:
    def __init__(self, coordinator: Coordinator, concurrency: int = 32):
        self.coordinator = coordinator
        channel = coordinator.channel
        self.channel = channel
        self.inbox = ConsumerLoop(
            channel, subject=layout.COORDINATOR_SUBJECT, durable=layout.COORDINATOR_CONSUMER,
            stream=layout.CONTROL_STREAM,
            config=channel.layout.control_consumer(layout.COORDINATOR_CONSUMER, layout.COORDINATOR_SUBJECT),
            handler=self.handle, concurrency=concurrency,
            max_attempts=coordinator.settings.control_max_deliver, give_up=self.give_up)
        self.inflight = coordinator.inflight   # a cancel stops a running assignment call (wf.cancel.<task>)
        self.dead_letters = ConsumerLoop(
            channel, subject=f"{layout.MAX_DELIVERIES_ADVISORY}.{layout.WORK_STREAM}.*", durable=layout.DLQ_CONSUMER,
            stream=layout.DLQ_STREAM, config=channel.layout.dlq_consumer(), handler=self.handle_dead_letter,
            concurrency=4)
        # Messages of one task are applied one at a time per replica (fewer CAS conflicts); tasks run in parallel.
        self._locks: dict[str, asyncio.Lock] = {}
        # Results of a task that arrive while one of its transitions runs wait here and go in as one transition.
        self._waiting: dict[str, list[tuple[str, channel_pb2.CoordinatorMessage, asyncio.Future]]] = {}

    def _lock(self, task_id: str) -> asyncio.Lock:
        lock = self._locks.get(task_id)
        if lock is None:
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            lock = self._locks[task_id] = asyncio.Lock()
        return lock

    @staticmethod
    def _decode(msg) -> channel_pb2.CoordinatorMessage:
        try:
            message = channel_pb2.CoordinatorMessage.FromString(msg.data)
        except DecodeError as exc:
            raise Poison(f"undecodable coordinator message: {exc}") from exc
        if not message.task_id or not message.WhichOneof("kind"):
            raise Poison("coordinator message without task id or kind")
        return message

    async def handle(self, msg) -> None:
        message = self._decode(msg)
        key = (msg.headers or {}).get("Nats-Msg-Id") or f"seq:{msg.metadata.sequence.stream}"
        task_id = message.task_id
        with task_context(task_id):
            if message.WhichOneof("kind") == "result":
                await self._apply_result(task_id, key, message)
                return
            async with self._lock(task_id):
                await self._apply(task_id, [(key, message)],
                                  first_delivery=not msg.metadata or msg.metadata.num_delivered <= 1)

    async def _apply_result(self, task_id: str, key: str, message: channel_pb2.CoordinatorMessage) -> None:
        """Results that queued behind a transition of their task are applied together, by whichever of their
        handlers gets the task first: one plan write and one outbox for all of them. Each handler acks its own
        message once that transition is committed and published (or sees its error, and is redelivered)."""
        done = asyncio.get_running_loop().create_future()
        entry = (key, message, done)
        self._waiting.setdefault(task_id, []).append(entry)
        try:
            async with self._lock(task_id):
                if not done.done():
                    batch = self._waiting.pop(task_id)
                    try:
                        await self._apply(task_id, [(k, m) for k, m, _ in batch])
                    except BaseException as exc:
                        for *_, other in batch:
                            if other is not done:
                                other.set_exception(Interrupted(f"applied with a result that failed: {exc!r}"[:300]))
                                other.exception()   # read by its handler, if that still waits; never logged unread
                        raise
                    for *_, other in batch:
                        if other is not done:
                            other.set_result(None)
                    return
        except asyncio.CancelledError:   # stopped while waiting: its message goes back, not into another's batch
            waiting = self._waiting.get(task_id)
            if waiting and entry in waiting:
                waiting.remove(entry)
                if not waiting:
                    del self._waiting[task_id]
            raise
        done.result()   # applied by another handler's transition, or failed with it (raises)

    async def _apply(self, task_id: str, messages: list, first_delivery: bool = False) -> None:
        try:
            await self.coordinator.apply_batch(task_id, messages, first_delivery=first_delivery)
        except UnknownTask as exc:
            raise Poison(f"message for unknown task {exc}") from exc
        except TaskCancelled:
            # Stopped mid-call by a cancel: redelivered, it finds the task ended and only records it.
            raise Interrupted(f"{messages[0][1].WhichOneof('kind')} interrupted by a cancel") from None

    async def give_up(self, msg, reason: str) -> None:
        """The message failed on every allowed delivery: its task fails with the reason."""
        message = self._decode(msg)
        with task_context(message.task_id):
            async with self._lock(message.task_id):
                await self.coordinator.fail_task(message.task_id, f"coordinator error: {reason}")

    async def handle_dead_letter(self, msg) -> None:
        advisory = json.loads(msg.data)
        seq = int(advisory.get("stream_seq", 0))
        try:
            raw = await self.channel.js.get_msg(layout.WORK_STREAM, seq)
        except NotFoundError:
            return  # already handled by another replica
        item = channel_pb2.WorkItem.FromString(raw.data)
        letter = channel_pb2.DeadLetter(subtask_id=item.subtask_id, attempt_id=item.attempt_id, stream_seq=seq,
                                        deliveries=int(advisory.get("deliveries", 0)))
        async with self._lock(item.task_id):
            with contextlib.suppress(UnknownTask):
                await self.coordinator.apply(item.task_id, f"dl:{item.attempt_id}",
                                             channel_pb2.CoordinatorMessage(task_id=item.task_id, dead_letter=letter))
        with contextlib.suppress(NotFoundError):
            await self.channel.js.delete_msg(layout.WORK_STREAM, seq)

    async def sweep(self, stop: asyncio.Event) -> None:
        """Deadlines, approval timeouts, stalled submits and queue-depth gauges, every period, on the one replica
        that holds the sweeper lease. A task whose messages are being applied here is skipped this round."""
        period = self.coordinator.settings.sweep_period_s
        lease = Lease(self.channel.leases, "coordinator-sweeper", self.coordinator.settings.instance_id or "coordinator")
        while not stop.is_set():
            try:
                if await lease.hold():
                    await self._sweep_once()
            except Exception:
                log.exception("sweep failed")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), period)
        with contextlib.suppress(Exception):
            await lease.release()

    async def _sweep_once(self) -> None:
        now = time.time()
        for task_id in await self.channel.active.subject_keys():   # finished tasks' entries are erased
            lock = self._lock(task_id)
            if lock.locked():
                continue   # busy (e.g. an assignment call): its own message moves it on
            async with lock:
                await self.coordinator.sweep_task(task_id, now)
        for name, stream in ((layout.PLANNER_CONSUMER, layout.CONTROL_STREAM),
                             (layout.COORDINATOR_CONSUMER, layout.CONTROL_STREAM)):
            QUEUE_DEPTH.labels(name).set(await self.channel.consumer_lag(stream, name))
        for info in await self.channel.js.consumers_info(layout.WORK_STREAM):
            QUEUE_DEPTH.labels(info.name).set((info.num_pending or 0) + (info.num_ack_pending or 0))
