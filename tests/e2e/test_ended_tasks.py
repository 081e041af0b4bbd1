"""A worker skips the queued subtask of a task that ended meanwhile, without reading the task's record (its NATS
identity may not: it heard the end on wf.cancel.*, workers/ended.py)."""

import asyncio
import time

import nats
import pytest

from tests.support.system import System, dispatches, stored_events
from workforce.core.channel import layout

pytestmark = pytest.mark.e2e


def _pool_state(nats_url: str) -> tuple[int, int]:
    async def read():
        nc = await nats.connect(nats_url)
        try:
            info = await nc.jetstream().consumer_info(layout.WORK_STREAM, layout.pool_consumer("echo"))
            return info.num_pending, info.num_ack_pending
        finally:
            await nc.close()

    return asyncio.run(read())


def _wait_for(predicate, timeout: float, what: str, system):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout} s\n{system.logs()}")


def test_a_queued_subtask_of_a_cancelled_task_is_skipped(tmp_path):
    system = System(tmp_path, workers={"echo": 1}, env={"WF_WORKER_CONCURRENCY": "1"}).start()
    try:
        system.llm.script([{"role": "worker:echo", "contains": "hold the pool", "delay_ms": 5000,
                            "reply": {"content": {"content": "held", "failed": False}}}])
        busy = system.submit("SUBTASKS:\n- hold the pool @echo")["task_id"]
        _wait_for(lambda: any(e["type"] == "subtask.started" for e in stored_events(system.nats.url, busy)), 30,
                  "the busy subtask did not start", system)
        queued = system.submit("SUBTASKS:\n- never run this @echo", metadata={"temperature": "0.3"})["task_id"]
        _wait_for(lambda: dispatches(stored_events(system.nats.url, queued)), 30,
                  "the second subtask was not dispatched", system)
        assert system.cancel(queued, "changed my mind")["status"] == "TASK_STATUS_CANCELLED"

        assert system.wait(busy, timeout=60)["status"] == "TASK_STATUS_SUCCEEDED"
        # the worker took the queued item off the pool, and ran nothing of it
        _wait_for(lambda: _pool_state(system.nats.url) == (0, 0), 30, "the queued item was not consumed", system)
        kinds = [e["type"] for e in stored_events(system.nats.url, queued)]
        assert "subtask.started" not in kinds and "tool.call" not in kinds, kinds
        assert not [r for r in system.llm.requests() if r["task"] == queued and r["role"].startswith("worker")]

        # a task that runs gets its metadata from the work item (the sampling temperature reaches the worker)
        system.llm.reset()
        sampled = system.submit("Sample me @echo", metadata={"temperature": "0.7"})["task_id"]
        assert system.wait(sampled, timeout=60)["status"] == "TASK_STATUS_SUCCEEDED"
        assert ("worker:echo", 0.7) in {(r["role"], r["temperature"]) for r in system.llm.requests()
                                        if r["task"] == sampled}
    finally:
        system.stop()
