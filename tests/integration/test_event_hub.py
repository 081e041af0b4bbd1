"""The gateway's event hub against a real nats-server: a watch follows a task's events to its terminal one, gets
a keepalive (None) on each of the hub's ticks when it asks for them, and ends when the gateway stops."""

import asyncio

from workforce.gateway import event_hub
from workforce.gateway.event_hub import EventHub
from workforce.gateway.sse import KEEPALIVE, frame


async def _started(channel) -> tuple[EventHub, asyncio.Event, asyncio.Task]:
    hub, stop = EventHub(channel), asyncio.Event()
    task = asyncio.create_task(hub.run(stop))
    await asyncio.wait_for(hub.ready.wait(), 10)
    return hub, stop, task


async def test_a_watch_gets_keepalives_between_events_and_ends_at_the_terminal_one(channel, monkeypatch):
    monkeypatch.setattr(event_hub, "KEEPALIVE_S", 0.2)
    hub, stop, running = await _started(channel)
    try:
        await channel.emit("thubkeep", "task.submitted")
        seen = []

        async def read():
            async for event in hub.watch("thubkeep", keepalive=True):
                seen.append(None if event is None else event.type)

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.7)
        await channel.emit("thubkeep", "task.succeeded", "done")
        await asyncio.wait_for(reader, 10)
        assert seen[0] == "task.submitted" and seen[-1] == "task.succeeded", seen
        assert seen.count(None) >= 2, seen   # ticks while nothing happened

        quiet = [e async for e in hub.watch("thubkeep")]   # without keepalive: only events
        assert [e.type for e in quiet] == ["task.submitted", "task.succeeded"]
    finally:
        stop.set()
        await running


async def test_every_watch_ends_when_the_gateway_stops(channel):
    hub, stop, running = await _started(channel)
    await channel.emit("thubstop", "task.submitted")
    seen = []

    async def read():
        async for event in hub.watch("thubstop", keepalive=True):
            seen.append(event.type)

    reader = asyncio.create_task(read())
    await asyncio.sleep(0.3)
    stop.set()
    await asyncio.wait_for(running, 10)
    await asyncio.wait_for(reader, 5)   # ended without a terminal event: the client resumes elsewhere
    assert seen == ["task.submitted"] and not hub.watchers


def test_frames_are_the_event_stream_wire_format():
    assert frame("task.submitted", '{"a": 1}', id="7") == b'id: 7\r\nevent: task.submitted\r\ndata: {"a": 1}\r\n\r\n'
    assert frame("error", "two\nlines", retry_ms=2000) == b"event: error\r\nretry: 2000\r\ndata: two\r\ndata: lines\r\n\r\n"
    assert frame("x", "") == b"event: x\r\ndata: \r\n\r\n"
    assert KEEPALIVE.startswith(b":") and KEEPALIVE.endswith(b"\r\n\r\n")
