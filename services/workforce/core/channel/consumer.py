"""A durable pull consumer loop: N messages in flight per replica, heartbeats while a handler works,
ack on success, delayed redelivery on error, termination of poison messages."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import nats
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig

log = logging.getLogger(__name__)


class Poison(Exception):
    """The message can never be handled (undecodable, invalid); it is terminated, not redelivered."""


class PullWorker:
    def __init__(
        self,
        channel,
        *,
        subject: str,
        durable: str,
        stream: str,
        config: ConsumerConfig,
        handler: Callable[[Msg], Awaitable[None]],
        concurrency: int = 1,
        heartbeat_s: float | None = None,
        retry_delay_s: float = 1.0,
    ):
        self.channel = channel
        self.subject = subject
        self.durable = durable
        self.stream = stream
        self.config = config
        self.handler = handler
        self.concurrency = max(1, concurrency)
        ack_wait = config.ack_wait or 30.0
        self.heartbeat_s = heartbeat_s or max(0.2, ack_wait / 3)
        self.retry_delay_s = retry_delay_s
        self._inflight: set[asyncio.Task] = set()
        self.busy = 0

    async def run(self, stop: asyncio.Event) -> None:
        sub = await self.channel.pull(self.subject, self.durable, self.stream, self.config)
        slots = asyncio.Semaphore(self.concurrency)
        try:
            while not stop.is_set():
                free = self.concurrency - self.busy
                if free <= 0:
                    await slots.acquire()
                    slots.release()
                    continue
                try:
                    msgs = await sub.fetch(free, timeout=1.0)
                except nats.errors.TimeoutError:
                    continue
                except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
                    break
                except Exception as exc:  # transient server errors: back off, keep consuming
                    log.warning("fetch on %s failed: %s", self.durable, exc)
                    await asyncio.sleep(0.5)
                    continue
                for msg in msgs:
                    await slots.acquire()
                    self.busy += 1
                    task = asyncio.create_task(self._handle(msg))
                    self._inflight.add(task)

                    def _done(t, slots=slots):
                        self._inflight.discard(t)
                        self.busy -= 1
                        slots.release()

                    task.add_done_callback(_done)
        finally:
            if self._inflight:
                await asyncio.wait(self._inflight, timeout=10)
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _handle(self, msg: Msg) -> None:
        beat = asyncio.create_task(self._heartbeat(msg))
        try:
            await self.handler(msg)
        except Poison as exc:
            log.error("dropping undeliverable message on %s: %s", self.durable, exc)
            with contextlib.suppress(Exception):
                await msg.term()
            return
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await msg.nak(delay=self.retry_delay_s)
            raise
        except Exception:
            log.exception("handler on %s failed; message will be redelivered", self.durable)
            with contextlib.suppress(Exception):
                await msg.nak(delay=self.retry_delay_s)
            return
        finally:
            beat.cancel()
        with contextlib.suppress(Exception):
            await msg.ack_sync(timeout=5)

    async def _heartbeat(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            with contextlib.suppress(Exception):
                await msg.in_progress()
