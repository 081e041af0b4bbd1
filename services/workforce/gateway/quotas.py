"""Per-identity quotas, shared by every gateway replica through the task channel's KV buckets.

- Tasks in flight (WF_QUOTA_TASKS_IN_FLIGHT): a submission first reserves `<scope>.<task_id>` in
  wf-quota-inflight, then counts the identity's reservations; over the quota it withdraws its own and answers
  429 / RESOURCE_EXHAUSTED. Reserving before counting means two racing submissions can both be refused but
  never both admitted past the quota. While the reservations are within the quota that is the whole check
  (one stream-info request); the coordinator purges a task's reservation when the task ends, so the count is
  normally the tasks in flight. Past the quota, each is verified (a reservation a crash left behind): it counts while its task is in wf-active (not finished), its
  record is not terminal, or it has no record yet and is younger than a minute (still being submitted);
  the others are removed. So a count reads at most the quota plus one reservations, and a cancel removes
  its reservation at once.
- Submissions per minute (WF_QUOTA_SUBMISSIONS_PER_MINUTE): a sliding window estimated from this minute's and
  the last minute's counters (compare-and-set increments in wf-quota-rate), with Retry-After from the estimate.

WF_QUOTA_OVERRIDES sets other numbers for named identities ("batch=500/3000": in flight / per minute).
"""

import asyncio
import math
import time
from dataclasses import dataclass

from ..core.channel import layout
from ..core.task_lifecycle import TERMINAL_STATUSES
from ..core.config import Settings
from .errors import QuotaExceeded
from .tenancy import Caller

# A reservation whose task record does not exist yet belongs to a submission still being written.
_GRACE_S = 60.0


@dataclass(frozen=True)
class Limits:
    in_flight: int
    per_minute: int


def parse_overrides(text: str) -> dict[str, Limits]:
    out = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        name, sep, numbers = item.rpartition("=")
        in_flight, slash, per_minute = numbers.partition("/")
        if not sep or not slash or not name.strip():
            raise SystemExit(f"WF_QUOTA_OVERRIDES: {item!r} is not name=in_flight/per_minute")
        try:
            out[name.strip()] = Limits(int(in_flight), int(per_minute))
        except ValueError:
            raise SystemExit(f"WF_QUOTA_OVERRIDES: {item!r} is not name=in_flight/per_minute") from None
    return out


class Quotas:
    def __init__(self, channel, settings: Settings):
        self.channel = channel
        self.settings = settings
        self.default = Limits(settings.quota_tasks_in_flight, settings.quota_submissions_per_minute)
        self.overrides = parse_overrides(settings.quota_overrides)
        self.inflight = None
        self.rate = None

    async def start(self) -> None:
        self.inflight = await self.channel.bucket(layout.QUOTA_INFLIGHT_BUCKET, history=1,
                                                  ttl=layout.QUOTA_INFLIGHT_TTL_S)
        self.rate = await self.channel.bucket(layout.QUOTA_RATE_BUCKET, history=1, ttl=layout.QUOTA_RATE_TTL_S)

    def limits(self, caller: Caller) -> Limits:
        return self.overrides.get(caller.identity, self.default)

    async def admit(self, caller: Caller, task_id: str) -> bool:
        """Count a new task against the caller's quotas, or raise QuotaExceeded (with Retry-After). True when the
        task holds an in-flight reservation (released when it ends; none when that quota is off)."""
        limits = self.limits(caller)
        reserved = False
        if limits.in_flight > 0:
            await self.inflight.put(self._key(caller, task_id), str(time.time()).encode())
            reserved = True
            count = await self._in_flight(caller, limits.in_flight)
            if count > limits.in_flight:
                await self.release(caller, task_id)
                raise QuotaExceeded(f"{limits.in_flight} tasks in flight is the quota of {caller.identity!r}; "
                                    "wait for one to finish (or cancel one)",
                                    retry_after=self.settings.quota_retry_after_s)
        if limits.per_minute > 0:
            try:
                await self._take(caller, limits.per_minute)
            except QuotaExceeded:
                if reserved:
                    await self.release(caller, task_id)
                raise
        return reserved

    async def release(self, caller: Caller, task_id: str) -> None:
        """Withdraw a reservation: the submission did not go through, or the task has ended (a cancel)."""
        await self._remove(self._key(caller, task_id))

    async def _remove(self, key: str) -> None:
        """Remove a reservation without leaving a delete marker (a count would read every marker)."""
        await self.channel.js.purge_stream(f"KV_{layout.QUOTA_INFLIGHT_BUCKET}",
                                           subject=f"$KV.{layout.QUOTA_INFLIGHT_BUCKET}.{key}")

    @staticmethod
    def _key(caller: Caller, task_id: str) -> str:
        return f"{caller.scope}.{task_id}"

    async def _in_flight(self, caller: Caller, limit: int) -> int:
        """The caller's tasks in flight, exact once it nears `limit` (below that, reservations of finished tasks
        may still count: they are only cleared when they could matter, which keeps a typical count to one
        stream-info request)."""
        keys = await self._reservations(caller)
        if len(keys) <= limit:
            return len(keys)
        count = 0
        # wf-active holds the unfinished task ids (the gateway adds them, the coordinator removes them).
        active = await asyncio.gather(*(self.channel.active.get(_task_of(key)) for key in keys))
        for key, running in zip(keys, active):
            if running is not None or await self._unfinished(key):
                count += 1
            else:
                await self._remove(key)                # finished (or abandoned): no longer counts
        return count

    async def _reservations(self, caller: Caller) -> list[str]:
        """The caller's reservation keys, from one stream-info request (no consumer, no values)."""
        prefix = f"$KV.{layout.QUOTA_INFLIGHT_BUCKET}."
        info = await self.channel.js.stream_info(f"KV_{layout.QUOTA_INFLIGHT_BUCKET}",
                                                 subjects_filter=f"{prefix}{caller.scope}.*")
        return [subject.removeprefix(prefix) for subject in (info.state.subjects or {})]

    async def _unfinished(self, key: str) -> bool:
        """For a reservation whose task is not in wf-active: still being submitted, or not finished."""
        record = await self.channel.get_task(_task_of(key))
        if record is not None:
            return record.status not in TERMINAL_STATUSES
        entry = await self.inflight.get(key)
        return entry is not None and time.time() - _float(entry.value) < _GRACE_S

    async def _take(self, caller: Caller, per_minute: int) -> None:
        now = time.time()
        minute = int(now // 60)
        elapsed = now - minute * 60
        previous = await self.rate.get(f"{caller.scope}.{minute - 1}")
        before = _int(previous.value) if previous else 0
        carried = before * (60 - elapsed) / 60      # the part of last minute still inside the window
        key = f"{caller.scope}.{minute}"
        for _ in range(50):
            entry = await self.rate.get(key)
            current = _int(entry.value) if entry else 0
            if carried + current + 1 > per_minute:
                raise QuotaExceeded(f"{per_minute} submissions per minute is the quota of {caller.identity!r}",
                                    retry_after=_retry_after(before, current, elapsed, per_minute))
            value = str(current + 1).encode()
            written = (await self.rate.create(key, value) if entry is None
                       else await self.rate.update(key, value, entry.revision))
            if written is not None:
                return
        raise QuotaExceeded("too many concurrent submissions; retry shortly", retry_after=1)


def _retry_after(before: int, current: int, elapsed: float, per_minute: int) -> int:
    """Seconds until the sliding-window estimate leaves room for one more submission."""
    excess = before * (60 - elapsed) / 60 + current + 1 - per_minute
    if before and excess <= before * (60 - elapsed) / 60:
        return max(1, math.ceil(excess * 60 / before))     # last minute's share drains at before/60 per second
    # Only the next minute helps: then this minute's count is the one that drains.
    wait = 60 - elapsed
    if current:
        wait += max(0.0, (current + 1 - per_minute) * 60 / current)
    return max(1, math.ceil(wait))


def _task_of(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def _int(raw: bytes | None) -> int:
    try:
        return int(raw or b"0")
    except ValueError:
        return 0


def _float(raw: bytes | None) -> float:
    try:
        return float(raw or b"0")
    except ValueError:
        return 0.0
