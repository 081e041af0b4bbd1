"""The live worker registry: one KV entry per worker replica, expiring when its heartbeats stop."""

import asyncio
import re
import time

from ...v1 import common_pb2
from . import layout


async def instances(channel) -> list[common_pb2.WorkerInfo]:
    out = []
    for key in await channel.workers.keys():
        entry = await channel.workers.get(key)
        if entry and entry.value:
            out.append(common_pb2.WorkerInfo.FromString(entry.value))
    return out


async def pools(channel, with_depth: bool = False) -> list[common_pb2.WorkerPool]:
    by_type: dict[str, common_pb2.WorkerPool] = {}
    for info in await instances(channel):
        pool = by_type.get(info.worker_type)
        if pool is None:
            pool = by_type[info.worker_type] = common_pb2.WorkerPool(
                worker_type=info.worker_type, description=info.description, tools=list(info.tools),
                needs_documents=info.needs_documents)
        pool.replicas += 1
        pool.capacity += info.concurrency
    if with_depth:
        for pool in by_type.values():
            pool.queue_depth = await channel.consumer_lag(layout.WORK_STREAM, layout.pool_consumer(pool.worker_type))
    return sorted(by_type.values(), key=lambda p: p.worker_type)


URL = re.compile(r"https?://", re.IGNORECASE)


def eligible(workers: list[dict], needs_documents: set[str], question: str, has_files: bool) -> list[dict]:
    """The worker pools a task can use: one that needs documents (worker-document) only when the task has files
    or its question a URL — else a small model plans and assigns for it anyway and it answers "no files are
    attached". Every pool when that would leave none."""
    if has_files or URL.search(question):
        return workers
    return [w for w in workers if w["id"] not in needs_documents] or workers


class RegistryCache:
    """The worker list as the planner and coordinator show it to the model, cached for a moment.

    An empty registry is often a moment's gap (a replica restarting, heartbeats late on a busy machine): the last
    list seen within `stale_ok_s` is kept, and with none the registry is read again for up to `wait_s` before
    the answer is "no pools"."""

    def __init__(self, channel, ttl_s: float = 5.0, stale_ok_s: float = 60.0, wait_s: float = 10.0):
        self.channel = channel
        self.ttl_s = ttl_s
        self.stale_ok_s = stale_ok_s
        self.wait_s = wait_s
        self._value: list[dict] = []
        self._at = 0.0
        self.needs_documents: set[str] = set()   # pools of the last list that need files or a URL (WorkerPool)

    async def workers(self) -> list[dict]:
        now = time.monotonic()
        if now - self._at <= self.ttl_s and self._value:
            return self._value
        deadline = now + self.wait_s
        while True:
            fresh = await self._read()
            now = time.monotonic()
            if fresh:
                self._value, self._at = fresh, now
                return fresh
            if self._value and now - self._at <= self.stale_ok_s:
                return self._value
            if now >= deadline:
                return []
            await asyncio.sleep(1.0)

    async def workers_for(self, question: str, has_files: bool) -> list[dict]:
        """The pools this task can use (`eligible`): what the planner plans with and the coordinator assigns to."""
        workers = await self.workers()
        return eligible(workers, self.needs_documents, question, has_files)

    async def _read(self) -> list[dict]:
        found = await pools(self.channel)
        if found:
            self.needs_documents = {p.worker_type for p in found if p.needs_documents}
        return [{"id": p.worker_type, "description": p.description, "tools": list(p.tools)} for p in found]
