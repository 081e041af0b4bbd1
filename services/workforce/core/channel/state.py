"""KV buckets with compare-and-set on revision, so several replicas can update the same key safely."""

import asyncio
import random
from collections.abc import Awaitable, Callable

from nats.js.errors import APIError, KeyDeletedError, KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue


ERASE_MARKER_TTL_S = 1   # whole seconds (the Nats-TTL header)


class CasConflict(Exception):
    """The key changed between read and write more times than the retry budget allows."""


class KVStore:
    def __init__(self, kv: KeyValue):
        self.kv = kv

    async def get(self, key: str):
        try:
            return await self.kv.get(key)
        except (KeyNotFoundError, KeyDeletedError):
            return None

    async def create(self, key: str, value: bytes) -> int | None:
        """Write only if the key does not exist; None when it does."""
        try:
            return await self.kv.create(key, value)
        except (KeyWrongLastSequenceError, APIError) as exc:
            if isinstance(exc, KeyWrongLastSequenceError) or getattr(exc, "err_code", 0) == 10071:
                return None
            raise

    async def put(self, key: str, value: bytes) -> int:
        return await self.kv.put(key, value)

    async def update(self, key: str, value: bytes, revision: int) -> int | None:
        """Write only if the key is still at `revision`; None on a conflict."""
        try:
            return await self.kv.update(key, value, last=revision)
        except KeyWrongLastSequenceError:
            return None
        except APIError as exc:
            if getattr(exc, "err_code", 0) == 10071:
                return None
            raise

    async def update_with(
        self, key: str, change: Callable[[bytes], Awaitable[bytes | None] | bytes | None], attempts: int = 50
    ) -> bytes | None:
        """Read-modify-write with compare-and-set; change() returns the new value or None for no write."""
        for _ in range(attempts):
            entry = await self.get(key)
            if entry is None:
                return None
            new = change(entry.value)
            if asyncio.iscoroutine(new):
                new = await new
            if new is None:
                return None
            if await self.update(key, new, entry.revision) is not None:
                return new
            await asyncio.sleep(random.uniform(0.001, 0.02))
        raise CasConflict(key)

    async def keys(self) -> list[str]:
        """The keys that hold a value now.

        nats-py's keys() opens a watcher that may signal its end before its first entry when the entries reach the
        connection before the watcher's consumer info does (a busy client): a full bucket reads as empty. So an
        empty answer is checked against the stream's own subject list, each subject read back directly."""
        try:
            return await self.kv.keys()
        except Exception as exc:  # nats-py raises NoKeysError on an empty bucket, or on that race
            if type(exc).__name__ != "NoKeysError":
                raise
        return [key for key in await self.subject_keys() if await self.get(key) is not None]

    async def subject_keys(self, prefix: str = "") -> list[str]:
        """The keys (starting with `prefix`) of a bucket whose keys are erased (never deleted with a lasting
        marker): its stream's subject list, one request (no watcher). A key erased in the last ERASE_MARKER_TTL_S
        may still be listed (reading it gives None); a key deleted with a marker would be listed too."""
        info = await self.kv._js.stream_info(self.kv._stream, subjects_filter=f"{self.kv._pre}{prefix}>")
        return [subject[len(self.kv._pre):] for subject in (info.state.subjects or {})]

    async def erase(self, key: str) -> None:
        """Remove the key and its history, leaving a purge marker that expires by itself after ERASE_MARKER_TTL_S
        (one publish; the bucket must take per-message TTLs, Channel.bucket(erasable=True)): a bucket whose keys
        come and go stays as small as what it holds, for subject_keys() and its readers."""
        await self.kv.purge(key, msg_ttl=ERASE_MARKER_TTL_S)

    async def delete(self, key: str) -> None:
        try:
            await self.kv.delete(key)
        except (KeyNotFoundError, KeyDeletedError):
            pass
