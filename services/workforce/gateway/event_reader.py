"""Reading stored task events without following them: one subtask's trajectory, and recent worker failures."""

import asyncio
import collections
import contextlib
import logging
import time

import nats
from google.protobuf.message import DecodeError
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from ..core.channel import Channel, layout
from ..core.channel.events import event_data, event_dict
from ..v1 import channel_pb2
from .event_hub import RESYNC, EventHub
from .tenancy import Caller

log = logging.getLogger(__name__)


async def stored_events(channel: Channel, task_id: str, wait_s: float = 2.0) -> list[channel_pb2.TaskEvent]:
    """Every event stored for a task now (read until the consumer has nothing pending)."""
    sub = await channel.js.subscribe(layout.events_subject(task_id), ordered_consumer=True, stream=layout.EVENTS_STREAM,
                                     config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL))
    out = []
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=wait_s)
            except nats.errors.TimeoutError:
                return out
            event = channel_pb2.TaskEvent.FromString(msg.data)
            event.seq = msg.metadata.sequence.stream
            out.append(event)
            if msg.metadata.num_pending == 0:
                return out
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


async def subtask_trajectory(channel: Channel, task_id: str, subtask_id: str) -> list[dict]:
    """The events of one subtask: those that dispatched it, its starts, tool calls, results (with the worker's
    messages)."""
    events = [event_dict(e) for e in await stored_events(channel, task_id)]
    return [e for e in events if e.get("subtask_id") == subtask_id or any(
        d.get("subtask_id") == subtask_id for d in (e.get("data") or {}).get("dispatched") or [])]


class FailureLog:
    """The last subtask failures across all tasks, kept in memory (history: window_s); each caller is shown those
    of the tasks it may see. It reads the stream only to catch up (from the window's start, or after the hub
    re-subscribed), then takes the events the gateway's hub receives anyway: no second delivery of every event."""

    def __init__(self, channel: Channel, hub: EventHub, keep: int = 1000, window_s: int = 3600):
        self.channel = channel
        self.hub = hub
        self.recent: collections.deque = collections.deque(maxlen=keep)
        self.owners: dict[str, str] = {}   # task id → owner (never changes), for the tasks in `recent`
        self.window_s = window_s
        self.caught_up = asyncio.Event()
        self.last_seq = 0                  # the last stream sequence looked at

    async def run(self, stop: asyncio.Event) -> None:
        live: asyncio.Queue = asyncio.Queue()
        self.hub.listeners.add(live)       # before catching up: nothing falls between (sequences drop repeats)
        try:
            while not stop.is_set():
                try:
                    await self._follow(stop, live)
                except Exception:  # NATS restarting: catch up again from where it was, after a pause
                    log.exception("failure log stopped; restarting")
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), 2)
        finally:
            self.hub.listeners.discard(live)

    async def _follow(self, stop: asyncio.Event, live: asyncio.Queue) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.hub.ready.wait(), 5)
        await self._catch_up(stop)
        self.caught_up.set()
        while not stop.is_set():
            try:
                item = await asyncio.wait_for(live.get(), 1.0)
            except asyncio.TimeoutError:
                continue
            if item is RESYNC:
                return   # the hub may have missed events: read them from the stream, then follow again
            self._observe(item)

    def _observe(self, event: channel_pb2.TaskEvent) -> None:
        if event.seq <= self.last_seq:
            return
        self.last_seq = event.seq
        if event.type == "subtask.failed":
            data = event_data(event)
            self.recent.append({
                "time": event.time.ToJsonString(), "task_id": event.task_id, "subtask_id": event.subtask_id,
                "worker_type": data.get("worker_type", ""), "attempt_id": data.get("attempt_id", ""),
                "reason": event.message[:500]})

    async def _start_seq(self, since: float) -> int:
        """The stream sequence of the first event stored at or after `since` (binary search on stored times).

        (Not DeliverPolicy.BY_START_TIME: nats-py re-creates an ordered consumer after a reconnect by start
        sequence but keeps the start time, which the server refuses.)"""
        js = self.channel.js
        state = (await js.stream_info(layout.EVENTS_STREAM)).state
        lo, hi = max(state.first_seq, 1), state.last_seq + 1
        while lo < hi:
            mid = (lo + hi) // 2
            try:
                msg = await js.get_msg(layout.EVENTS_STREAM, seq=mid, subject=f"{layout.EVENTS_PREFIX}.>", next=True)
            except NotFoundError:
                hi = mid                      # nothing stored from mid on
                continue
            if msg.time is not None and msg.time.timestamp() >= since:
                hi = mid                      # sequences from mid to msg.seq are empty: mid is as good
            else:
                lo = msg.seq + 1
        return lo

    async def _catch_up(self, stop: asyncio.Event) -> None:
        """Read the stream from after the last event looked at (at first: the window's start) to its end now."""
        start = self.last_seq + 1 if self.last_seq else await self._start_seq(time.time() - self.window_s)
        if start > (await self.channel.js.stream_info(layout.EVENTS_STREAM)).state.last_seq:
            return
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start)
        sub = await self.channel.js.subscribe(f"{layout.EVENTS_PREFIX}.>", ordered_consumer=True,
                                              stream=layout.EVENTS_STREAM, config=config)
        try:
            while not stop.is_set():
                try:
                    msg = await sub.next_msg(timeout=1.0)
                except nats.errors.TimeoutError:
                    return
                try:
                    event = channel_pb2.TaskEvent.FromString(msg.data)
                except DecodeError:
                    continue
                event.seq = msg.metadata.sequence.stream
                self._observe(event)
                if msg.metadata.num_pending == 0:
                    return
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def snapshot(self, caller: Caller, limit: int = 50) -> list[dict]:
        """The newest failures in tasks the caller may see (a task whose record is gone is shown to admins only)."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.caught_up.wait(), 3)
        recent = list(reversed(self.recent))
        if caller.admin:
            return recent[:limit]
        await self._learn_owners({f["task_id"] for f in recent} - self.owners.keys())
        return [f for f in recent if f["task_id"] in self.owners and caller.sees(self.owners[f["task_id"]])][:limit]

    async def _learn_owners(self, task_ids: set[str]) -> None:
        ids = sorted(task_ids)
        records = await asyncio.gather(*(self.channel.get_task(t) for t in ids))
        for task_id, record in zip(ids, records):
            if record is not None:
                self.owners[task_id] = record.owner
        if len(self.owners) > 2 * (self.recent.maxlen or 0):   # forget tasks no longer in `recent`
            kept = {f["task_id"] for f in self.recent}
            self.owners = {t: o for t, o in self.owners.items() if t in kept}
