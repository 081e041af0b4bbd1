"""A durable pull consumer loop: N messages in flight per replica, heartbeats while a handler works,
ack on success, delayed redelivery on error, termination of poison messages."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import nats
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig

from .. import tracing

log = logging.getLogger(__name__)


class Poison(Exception):
    """The message can never be handled (undecodable, invalid); it is terminated, not redelivered."""


class ConsumerLoop:
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
        fetch_timeout_s: float = 10.0,
        max_attempts: int = 0,
        give_up: Callable[[Msg, str], Awaitable[None]] | None = None,
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
        self.fetch_timeout_s = fetch_timeout_s  # how long an idle slot's pull request waits
        # After `max_attempts` deliveries that raised, `give_up(msg, reason)` ends the work (e.g. fails the task)
        # and the message is terminated instead of being redelivered forever.
        self.max_attempts = max_attempts
        self.give_up = give_up
        self.busy = 0

    async def run(self, stop: asyncio.Event) -> None:
        """One fetch loop per slot: each asks for one message and handles it (a batch fetch would wait for the
        whole batch or its expiry, adding up to the fetch timeout to every hop)."""
        sub = await self.channel.pull(self.subject, self.durable, self.stream, self.config)
        slots = [asyncio.create_task(self._slot(sub, stop)) for _ in range(self.concurrency)]
        try:
            await stop.wait()
            # Idle slots wait in a long fetch: cancel those; busy ones finish their message first.
            for slot in slots:
                if not getattr(slot, "busy", False):
                    slot.cancel()
            await asyncio.wait(slots, timeout=30)
        finally:
            for slot in slots:
                slot.cancel()
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    async def _slot(self, sub, stop: asyncio.Event) -> None:
        me = asyncio.current_task()
        while not stop.is_set():
            try:
                msgs = await sub.fetch(1, timeout=self.fetch_timeout_s)
            except nats.errors.TimeoutError:
                continue
            except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
                return
            except Exception as exc:  # transient server errors: back off, keep consuming
                log.warning("fetch on %s failed: %s", self.durable, type(exc).__name__)
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                self.busy += 1
                me.busy = True
                try:
                    await asyncio.shield(self._handle(msg))
                finally:
                    self.busy -= 1
                    me.busy = False

    async def _handle(self, msg: Msg) -> None:
        beat = asyncio.create_task(self._heartbeat(msg))
        try:
            with tracing.span(f"process {self.subject}", parent=msg.headers, kind="consumer",
                              attributes=self._trace_attributes(msg) if tracing.enabled() else None):
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
        except Exception as exc:
            delivered = msg.metadata.num_delivered if msg.metadata else 1
            if self.give_up is not None and self.max_attempts and delivered >= self.max_attempts:
                reason = f"{type(exc).__name__}: {exc}"[:500]
                log.exception("handler on %s failed %d times; giving up: %s", self.durable, delivered, reason)
                try:
                    await self.give_up(msg, reason)
                except Exception:
                    log.exception("give-up on %s failed; message will be redelivered", self.durable)
                    with contextlib.suppress(Exception):
                        await msg.nak(delay=self.retry_delay_s)
                    return
                with contextlib.suppress(Exception):
                    await msg.term()
                return
            log.exception("handler on %s failed (delivery %d); message will be redelivered", self.durable, delivered)
            with contextlib.suppress(Exception):
                await msg.nak(delay=self.retry_delay_s * delivered)
            return
        finally:
            beat.cancel()
        with contextlib.suppress(Exception):
            await msg.ack()   # a lost ack only redelivers: the handlers are idempotent

    def _trace_attributes(self, msg: Msg) -> dict:
        headers = msg.headers or {}
        return {"messaging.system": "nats", "messaging.operation.type": "process",
                "messaging.destination.name": msg.subject, "messaging.consumer.group.name": self.durable,
                "messaging.message.id": headers.get("Nats-Msg-Id"), "wf.task_id": headers.get("Wf-Task-Id"),
                "messaging.message.delivery_count": msg.metadata.num_delivered if msg.metadata else None}

    async def _heartbeat(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            with contextlib.suppress(Exception):
                await msg.in_progress()
