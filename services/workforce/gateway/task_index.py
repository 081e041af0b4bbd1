"""The listing index: newest-first pages of task ids per owner, read without scanning every key.

Each submission appends one message (the task id) to stream WF_TASK_INDEX on subject wf.index.<owner scope>.
Its header Wf-Prev-Seq holds the sequence of the owner's previous index message, and the publish carries
Nats-Expected-Last-Subject-Sequence, so concurrent submissions of one owner cannot fork the chain (the loser
re-reads and retries; one replica appends an owner's entries one at a time from the end it remembers). A page for an owner starts at the subject's last message (or the page token) and
follows the chain; for an admin it walks the stream's sequences down. A page reads at most `scan_max` index
messages and only their task records. The stream's max age is WF_TASK_TTL_S: old entries fall off the end.
"""

import asyncio
import base64
import binascii
import random
from dataclasses import dataclass

from nats.js.errors import APIError, NotFoundError

from ..core.channel import layout
from .errors import InvalidInput, Unavailable
from .tenancy import Caller

_WRONG_LAST_SEQUENCE = 10071
_PREV = "Wf-Prev-Seq"


@dataclass
class Entry:
    seq: int
    task_id: str
    prev: int           # the owner's previous entry; 0 = none


def encode_token(seq: int) -> str:
    return base64.urlsafe_b64encode(f"s{seq}".encode()).decode().rstrip("=")


def decode_token(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        if len(token) > 40 or not raw.startswith("s") or not raw[1:].isdigit():
            raise ValueError
        seq = int(raw[1:])
        if not 0 < seq < 2**63:
            raise ValueError
        return seq
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("page_token is not a token this API returned", param="page_token") from None


class TaskIndex:
    def __init__(self, channel):
        self.js = channel.js
        # Per owner: the sequence of its last entry as this replica wrote or read it, and a lock, so this
        # replica's submissions of one owner append one after the other (no conflicts among themselves, no read
        # before each append). A conflict (another replica appended) re-reads the end of the chain.
        self._last: dict[str, int] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def add(self, caller: Caller, task_id: str) -> None:
        subject = layout.index_subject(caller.scope)
        lock = self._locks.get(subject)
        if lock is None:
            if len(self._locks) > 10_000:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
                self._last.clear()
            lock = self._locks[subject] = asyncio.Lock()
        async with lock:
            for attempt in range(50):
                prev = self._last.get(subject)
                if prev is None:
                    prev = await self._last_seq(subject)
                try:
                    ack = await self.js.publish(subject, task_id.encode(), headers={
                        _PREV: str(prev), "Nats-Expected-Last-Subject-Sequence": str(prev),
                        "Nats-Msg-Id": f"index:{task_id}"})
                except APIError as exc:
                    if exc.err_code != _WRONG_LAST_SEQUENCE:
                        raise
                    self._last.pop(subject, None)
                    await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                    continue
                if not ack.duplicate:
                    self._last[subject] = ack.seq
                return
        raise Unavailable("the task index is contended; retry shortly")

    async def _last_seq(self, subject: str) -> int:
        try:
            return (await self.js.get_last_msg(layout.TASK_INDEX_STREAM, subject, direct=True)).seq
        except NotFoundError:
            return 0

    async def entries(self, caller: Caller, start: int | None):
        """The caller's index entries from sequence `start` (None = the newest) downwards."""
        if caller.admin:
            state = (await self.js.stream_info(layout.TASK_INDEX_STREAM)).state
            seq = min(start or state.last_seq, state.last_seq)
            while seq and seq >= state.first_seq:
                entry = await self._read(seq)
                if entry is not None:
                    yield entry
                seq -= 1
            return
        subject = layout.index_subject(caller.scope)
        seq = start if start is not None else await self._last_seq(subject)
        while seq:
            entry = await self._read(seq, subject)
            if entry is None:
                return          # older entries have expired
            yield entry
            seq = entry.prev

    async def _read(self, seq: int, subject: str | None = None) -> Entry | None:
        try:
            msg = await self.js.get_msg(layout.TASK_INDEX_STREAM, seq=seq, direct=True)
        except NotFoundError:
            return None
        except APIError as exc:
            if exc.code == 404 or exc.err_code == 10037:   # no message at this sequence
                return None
            raise
        if subject is not None and msg.subject != subject:
            # Chains never leave their subject, so only a page token can point elsewhere.
            raise InvalidInput("page_token is not a token this API returned", param="page_token")
        prev = (msg.headers or {}).get(_PREV, "0")
        return Entry(seq, (msg.data or b"").decode(), int(prev) if prev.isdigit() else 0)
