"""The gateway's in-memory log of recent subtask failures against a real nats-server: where it starts in the
events stream, and that each caller sees only the failures of tasks it may see."""

import asyncio
import time

from workforce.core.channel import layout
from workforce.gateway.event_hub import EventHub
from workforce.gateway.event_reader import FailureLog
from workforce.gateway.tenancy import Caller
from workforce.v1 import common_pb2


async def _task(channel, task_id: str, owner: str) -> None:
    record = common_pb2.TaskRecord(task_id=task_id, owner=owner, status=common_pb2.TASK_STATUS_RUNNING)
    await channel.tasks.put(task_id, record.SerializeToString())


async def test_it_starts_at_the_first_event_of_its_window(channel):
    await channel.emit("tlogold", "subtask.failed", "long ago", subtask_id="1")
    await asyncio.sleep(1.1)
    since = time.time()
    seq = await channel.emit("tlognew", "subtask.started", subtask_id="1")
    await channel.emit("tlognew", "subtask.failed", "just now", subtask_id="1")
    log = FailureLog(channel, EventHub(channel))
    assert await log._start_seq(since) == seq
    last = (await channel.js.stream_info(layout.EVENTS_STREAM)).state.last_seq
    assert await log._start_seq(time.time() + 60) == last + 1        # nothing that new: only what comes next
    assert await log._start_seq(0) <= seq - 1                          # the "long ago" event


async def test_each_caller_sees_the_failures_of_its_own_tasks(channel):
    await _task(channel, "tfailalice", "alice")
    await _task(channel, "tfailbob", "bob")
    for task_id in ("tfailalice", "tfailbob", "tfailgone"):     # tfailgone: no record (expired)
        await channel.emit(task_id, "subtask.failed", f"{task_id} broke", subtask_id="1",
                           data={"worker_type": "echo", "attempt_id": f"{task_id}:1:1"})
    hub = EventHub(channel)
    log = FailureLog(channel, hub)
    stop = asyncio.Event()
    hub_task = asyncio.create_task(hub.run(stop))
    follower = asyncio.create_task(log.run(stop))
    try:
        def tasks(failures):
            return {f["task_id"] for f in failures} & {"tfailalice", "tfailbob", "tfailgone"}

        assert tasks(await log.snapshot(Caller("alice"))) == {"tfailalice"}
        assert tasks(await log.snapshot(Caller("bob"))) == {"tfailbob"}
        assert tasks(await log.snapshot(Caller("carol"))) == set()
        assert tasks(await log.snapshot(Caller("ops", admin=True))) == {"tfailalice", "tfailbob", "tfailgone"}
        newest = await log.snapshot(Caller("alice"), limit=1)
        assert newest[0]["reason"] == "tfailalice broke" and newest[0]["worker_type"] == "echo"
        # after catching up it follows what the hub receives: a later failure shows without a consumer of its own
        await channel.emit("tfailalice", "subtask.failed", "later", subtask_id="2",
                           data={"worker_type": "echo", "attempt_id": "tfailalice:2:1"})
        for _ in range(50):
            if (await log.snapshot(Caller("alice"), limit=1))[0]["reason"] == "later":
                break
            await asyncio.sleep(0.1)
        assert (await log.snapshot(Caller("alice"), limit=1))[0]["reason"] == "later"
        assert [f["reason"] for f in await log.snapshot(Caller("alice"))].count("tfailalice broke") == 1
        assert len(hub.listeners) == 1
    finally:
        stop.set()
        await follower
        await hub_task
