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


async def test_a_watch_opened_before_the_hub_hears_a_task_submitted_here_reads_nothing_from_the_stream(channel):
    hub, stop, running = await _started(channel)

    async def no_stream_reads(task_id, from_seq):
        raise AssertionError("read the stream for a task submitted through this gateway")
        yield  # pragma: no cover

    try:
        hub._stored = no_stream_reads    # the direct gets a watcher of an unknown task makes
        hub.expect("thubmine")           # what the submit does before it publishes task.submitted
        assert hub.holds_history("thubmine")
        events = hub.watch("thubmine")
        first = asyncio.create_task(events.__anext__())
        await asyncio.sleep(0.1)         # the watch is open and has nothing yet
        await channel.emit("thubmine", "task.submitted")
        await channel.emit("thubmine", "task.succeeded", "done")
        seen = [(await asyncio.wait_for(first, 10)).type] + [e.type async for e in events]
        assert seen == ["task.submitted", "task.succeeded"]
        assert [e.type for e in hub.recent["thubmine"]] == seen   # a later watcher reads it from memory too
    finally:
        stop.set()
        await running


async def test_a_task_expected_before_a_resubscription_is_read_from_the_stream(channel):
    hub, stop, running = await _started(channel)
    try:
        hub.expect("thubresub")
        hub.ready.clear()                # as _follow starts over after an error: the memory is cleared
        hub.recent.clear()
        assert not hub.holds_history("thubresub")
        hub.expect("thubresub")          # not subscribed: nothing promised
        assert not hub.holds_history("thubresub")
        hub.ready.set()
        await channel.emit("thubresub", "task.submitted")
        await channel.emit("thubresub", "task.succeeded", "done")
        seen = [e.type async for e in hub.watch("thubresub")]
        assert seen == ["task.submitted", "task.succeeded"]
    finally:
        stop.set()
        await running
