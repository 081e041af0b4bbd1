"""The live worker registry: one KV entry per worker replica, expiring when its heartbeats stop."""

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
                worker_type=info.worker_type, description=info.description, tools=list(info.tools))
        pool.replicas += 1
        pool.capacity += info.concurrency
    if with_depth:
        for pool in by_type.values():
            pool.queue_depth = await channel.consumer_lag(layout.WORK_STREAM, layout.pool_consumer(pool.worker_type))
    return sorted(by_type.values(), key=lambda p: p.worker_type)


class RegistryCache:
    """The worker list as the planner and coordinator show it to the model, cached for a moment."""

    def __init__(self, channel, ttl_s: float = 5.0):
        self.channel = channel
        self.ttl_s = ttl_s
        self._value: list[dict] = []
        self._at = 0.0

    async def workers(self) -> list[dict]:
        if time.monotonic() - self._at > self.ttl_s or not self._value:
            self._value = [{"id": p.worker_type, "description": p.description, "tools": list(p.tools)}
                           for p in await pools(self.channel)]
            self._at = time.monotonic()
        return self._value
