"""Reading stored task events without following them: one subtask's trajectory, and recent worker failures."""

import asyncio
import collections
import contextlib
import logging
import time
from datetime import datetime, timezone

import nats
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import DecodeError
from nats.js.api import ConsumerConfig, DeliverPolicy

from ..core.channel import Channel, layout
from ..v1 import channel_pb2

log = logging.getLogger(__name__)


def _json(event: channel_pb2.TaskEvent) -> dict:
    return MessageToDict(event, preserving_proto_field_name=True)


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
    """The events of one subtask: dispatches, starts, tool calls, the worker's messages, its results."""
    return [_json(e) for e in await stored_events(channel, task_id) if e.subtask_id == subtask_id]


class FailureLog:
    """The last subtask failures across all tasks, kept in memory from the event stream (history: window_s)."""

    def __init__(self, channel: Channel, keep: int = 200, window_s: int = 3600):
        self.channel = channel
        self.recent: collections.deque = collections.deque(maxlen=keep)
        self.window_s = window_s
        self.caught_up = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._follow(stop)
            except Exception:  # NATS restarting: start over (from the window) after a pause
                log.exception("failure log stopped; restarting")
                self.recent.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 2)

    async def _follow(self, stop: asyncio.Event) -> None:
        start = datetime.fromtimestamp(time.time() - self.window_s, timezone.utc)
        config = ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_TIME,
                                opt_start_time=start.isoformat().replace("+00:00", "Z"))
        sub = await self.channel.js.subscribe(f"{layout.EVENTS_PREFIX}.>", ordered_consumer=True,
                                              stream=layout.EVENTS_STREAM, config=config)
        try:
            while not stop.is_set():
                try:
                    msg = await sub.next_msg(timeout=1.0)
                except nats.errors.TimeoutError:
                    self.caught_up.set()
                    continue
                if msg.metadata.num_pending == 0:
                    self.caught_up.set()
                try:
                    event = channel_pb2.TaskEvent.FromString(msg.data)
                except DecodeError:
                    continue
                if event.type == "subtask.failed":
                    data = MessageToDict(event.data) if event.HasField("data") else {}
                    self.recent.append({
                        "time": event.time.ToJsonString(), "task_id": event.task_id, "subtask_id": event.subtask_id,
                        "worker_type": data.get("worker_type", ""), "attempt_id": data.get("attempt_id", ""),
                        "reason": event.message[:500]})
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def snapshot(self, limit: int = 50) -> list[dict]:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.caught_up.wait(), 3)
        return list(reversed(self.recent))[:limit]
