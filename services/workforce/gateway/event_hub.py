"""One event subscription per gateway, fanned out to every watcher of a task.

A watcher registers for its task, then reads the task's events from its start sequence — from the hub's memory
when the hub saw the task from its first event (`recent`, bounded by bytes), else with direct gets (one request
per stored event, no consumer) — then follows what the hub delivers, skipping what it already read by sequence. Registering before reading leaves no gap: an event stored after the registration is delivered by
the hub, one stored before it is found by the reads (or both: the sequence drops the second copy). When the hub
has to re-subscribe (NATS restarted), each watcher reads what it may have missed again. Every KEEPALIVE_S the hub
puts a tick on every watcher's queue (one timer for all: a watcher that asks for keepalives gets None for it, and an
hour of ticks without an event ends a watch); when the gateway stops, every watch ends.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import nats
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from google.protobuf.message import DecodeError

from collections import OrderedDict

from ..core.channel import Channel, layout
from ..v1 import channel_pb2

log = logging.getLogger(__name__)

TERMINAL_EVENTS = {"task.succeeded", "task.failed", "task.cancelled"}
_RESYNC = object()   # put on every watcher's queue when the hub re-subscribed
RESYNC = _RESYNC     # …and on every listener's: what came meanwhile may not have been delivered
RECENT_BYTES = 64 * 1024 * 1024   # events kept in memory for watchers that start late (oldest tasks go first)
KEEPALIVE_S = 15.0
WATCH_IDLE_S = 3600.0   # a watch with no event for this long ends
_TICK = object()
_CLOSED = object()


class EventHub:
    def __init__(self, channel: Channel):
        self.channel = channel
        self.watchers: dict[str, set[asyncio.Queue]] = {}
        # Every event of the tasks whose first event (task.submitted) the hub saw, in order; a watcher of one of
        # them reads its history here instead of from the stream.
        self.recent: OrderedDict[str, list[channel_pb2.TaskEvent]] = OrderedDict()
        self.recent_bytes = 0
        self.ready = asyncio.Event()
        self.running = False
        # Queues that get every event the hub receives, and RESYNC after a re-subscription (the failure log)
        self.listeners: set[asyncio.Queue] = set()

    async def run(self, stop: asyncio.Event) -> None:
        self.running = True
        ticker = asyncio.create_task(self._tick(stop))
        try:
            while not stop.is_set():
                try:
                    await self._follow(stop)
                except Exception:
                    log.exception("event hub stopped; re-subscribing")
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), 1)
                self.ready.clear()
        finally:
            self.running = False   # a watch opened from now on reads the stream itself
            ticker.cancel()
            self._to_watchers(_CLOSED)

    async def _tick(self, stop: asyncio.Event) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), KEEPALIVE_S)
            if stop.is_set():
                return
            self._to_watchers(_TICK)

    def _to_watchers(self, item) -> None:
        for queues in self.watchers.values():
            for queue in queues:
                queue.put_nowait(item)

    async def _follow(self, stop: asyncio.Event) -> None:
        config = ConsumerConfig(deliver_policy=DeliverPolicy.NEW)
        sub = await self.channel.js.subscribe(f"{layout.EVENTS_PREFIX}.*", ordered_consumer=True,
                                              stream=layout.EVENTS_STREAM, config=config)
        # What was stored before this subscription and after a watcher's last read is not delivered here: every
        # current watcher reads it from the stream, and the memory starts over (it must hold whole histories).
        self.recent.clear()
        self.recent_bytes = 0
        self._to_watchers(_RESYNC)
        for queue in self.listeners:
            queue.put_nowait(RESYNC)
        self.ready.set()
        try:
            while not stop.is_set():
                try:
                    msg = await sub.next_msg(timeout=1.0)
                except nats.errors.TimeoutError:
                    continue
                task_id = msg.subject.rsplit(".", 1)[-1]
                try:
                    event = channel_pb2.TaskEvent.FromString(msg.data)
                except DecodeError:
                    continue
                event.seq = msg.metadata.sequence.stream
                self._remember(task_id, event, len(msg.data))
                for queue in self.watchers.get(task_id, ()):
                    queue.put_nowait(event)
                for queue in self.listeners:
                    queue.put_nowait(event)
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    def _remember(self, task_id: str, event: channel_pb2.TaskEvent, size: int) -> None:
        events = self.recent.get(task_id)
        if events is None:
            if event.type != "task.submitted":
                return   # the hub did not see this task from its start: watchers read the stream
            events = self.recent[task_id] = []
        events.append(event)
        self.recent_bytes += size
        while self.recent_bytes > RECENT_BYTES and len(self.recent) > 1:
            _, dropped = self.recent.popitem(last=False)
            self.recent_bytes -= sum(e.ByteSize() for e in dropped)

    def expect(self, task_id: str) -> None:
        """This gateway is about to publish the task's first event: hold its history from now on, so that a watcher
        who comes before the subscription delivers that event reads it here (not with direct gets from the stream).
        Only while subscribed: the open subscription delivers whatever is published after this; a re-subscription
        clears the memory and sends every watcher to the stream."""
        if self.ready.is_set():
            self.recent.setdefault(task_id, [])

    def holds_history(self, task_id: str) -> bool:
        """Whether every event of the task so far is in memory here (the hub saw its first one)."""
        return task_id in self.recent

    async def watch(self, task_id: str, from_seq: int = 0, idle_timeout: float | None = None,
                    keepalive: bool = False) -> AsyncIterator[channel_pb2.TaskEvent | None]:
        """The task's events from stream sequence from_seq (0 = all) until its terminal event, until nothing came
        for idle_timeout seconds (default an hour, counted in keepalive ticks), or until the gateway stops. With
        keepalive, None for each tick."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.ready.wait(), 5)
        queue: asyncio.Queue = asyncio.Queue()
        self.watchers.setdefault(task_id, set()).add(queue)
        last = max(0, from_seq - 1)
        try:
            held = task_id in self.recent    # every event so far is in memory (maybe none yet)
            remembered = list(self.recent.get(task_id) or ())   # a snapshot: later events come on the queue
            for event in remembered:
                if event.seq > last:
                    last = event.seq
                    yield event
                    if event.type in TERMINAL_EVENTS:
                        return
            while True:
                if held:
                    held = False   # the history is complete: only a re-subscription sends us to the stream
                    history = _nothing()
                else:
                    history = self._stored(task_id, last + 1)
                async for event in history:
                    last = event.seq
                    yield event
                    if event.type in TERMINAL_EVENTS:
                        return
                idle = 0.0
                while True:
                    if idle_timeout is None:
                        item = await queue.get()   # no timer per event: the hub's ticks count the idle time
                    else:
                        try:
                            item = await asyncio.wait_for(queue.get(), idle_timeout)
                        except asyncio.TimeoutError:
                            return
                    if item is _TICK:
                        idle += KEEPALIVE_S
                        if idle >= WATCH_IDLE_S:
                            return
                        if keepalive:
                            yield None
                        continue
                    if item is _CLOSED:
                        return
                    idle = 0.0
                    if item is _RESYNC:
                        break   # read what may have been missed, then follow again
                    if item.seq <= last:
                        continue
                    last = item.seq
                    yield item
                    if item.type in TERMINAL_EVENTS:
                        return
        finally:
            queues = self.watchers.get(task_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self.watchers[task_id]

    async def _stored(self, task_id: str, from_seq: int) -> AsyncIterator[channel_pb2.TaskEvent]:
        """The task's stored events from from_seq on, one direct get each."""
        subject = layout.events_subject(task_id)
        seq = max(1, from_seq)
        while True:
            try:
                msg = await self.channel.js.get_msg(layout.EVENTS_STREAM, seq=seq, subject=subject, next=True)
            except NotFoundError:
                return
            try:
                event = channel_pb2.TaskEvent.FromString(msg.data)
            except DecodeError:
                seq = msg.seq + 1
                continue
            event.seq = msg.seq
            yield event
            seq = msg.seq + 1


async def _nothing():
    return
    yield  # pragma: no cover
