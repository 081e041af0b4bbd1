"""A durable pull consumer loop: N messages in flight per replica, heartbeats while a handler works,
ack on success, delayed redelivery on error, termination of poison messages."""

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable

import nats
from nats.aio.msg import Msg
from nats.js.api import ConsumerConfig

from .. import tracing

log = logging.getLogger(__name__)


class Poison(Exception):
    """The message can never be handled (undecodable, invalid); it is terminated, not redelivered."""


class Interrupted(Exception):
    """The message's work was stopped on purpose (a cancel): it is redelivered like any failure, but this is no
    error, and the log says so in one line."""


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
        self.fetch_timeout_s = fetch_timeout_s  # how long a pull request stays open
        # After `max_attempts` deliveries that raised, `give_up(msg, reason)` ends the work (e.g. fails the task)
        # and the message is terminated instead of being redelivered forever.
        self.max_attempts = max_attempts
        self.give_up = give_up
        self.busy = 0

    async def run(self, stop: asyncio.Event) -> None:
        """Keep up to `concurrency` messages in hand with as few pull requests as possible.

        One pull request asks for every free slot at once and stays open (up to `fetch_timeout_s`, with idle
        heartbeats): messages arrive as they are published, each handled as soon as it lands, and a new request is
        sent only when half the slots are free and unrequested (or none is open): about one request per
        concurrency/2 messages instead of one per message, and one or two waiting requests per replica instead of
        one per slot (a consumer allows 512 waiting)."""
        await self._bind()
        nc = self.channel.nc
        inbox = nc.new_inbox()
        arrivals: asyncio.Queue = asyncio.Queue()   # messages, status messages, and None = "look again"

        async def arrived(msg: Msg) -> None:
            arrivals.put_nowait(msg)

        sub = await nc.subscribe(inbox, cb=arrived)
        waker = asyncio.create_task(self._wake_on(stop, arrivals))
        handlers: set[asyncio.Task] = set()
        expires = max(1.0, self.fetch_timeout_s)
        beat = min(5.0, max(0.5, expires / 4))
        loop = asyncio.get_running_loop()
        outstanding, heard = 0, loop.time()   # messages asked for and not yet delivered or expired
        try:
            while not stop.is_set():
                free = self.concurrency - self.busy - outstanding
                if free > 0 and (outstanding == 0 or 2 * free >= self.concurrency):
                    try:
                        await nc.publish(self._next_subject, json.dumps({
                            "batch": free, "expires": int(expires * 1e9), "idle_heartbeat": int(beat * 1e9),
                        }).encode(), reply=inbox)
                    except (nats.errors.ConnectionClosedError, nats.errors.DrainTimeoutError):
                        return
                    except Exception as exc:   # reconnecting: try again shortly
                        log.warning("pull request on %s failed: %s", self.durable, type(exc).__name__)
                        await asyncio.sleep(0.5)
                        continue
                    outstanding, heard = outstanding + free, loop.time()
                try:
                    msg = await asyncio.wait_for(arrivals.get(), 3 * beat)
                except asyncio.TimeoutError:
                    if outstanding and loop.time() - heard > 3 * beat:
                        outstanding = 0   # no heartbeat: the server lost the requests (restart, reconnect)
                    continue
                if msg is None:
                    continue
                heard = loop.time()
                status = (msg.headers or {}).get("Status")
                if status:
                    outstanding = await self._on_status(msg, status, outstanding)
                    continue
                outstanding = max(0, outstanding - 1)
                self.busy += 1   # counted now, not when the task starts: the next look at the free slots sees it
                handler = asyncio.create_task(self._handle_counted(msg, arrivals))
                handlers.add(handler)
                handler.add_done_callback(handlers.discard)
        finally:
            waker.cancel()
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            while not arrivals.empty():   # delivered after the stop: straight back for another replica
                msg = arrivals.get_nowait()
                if msg is not None and not (msg.headers or {}).get("Status"):
                    with contextlib.suppress(Exception):
                        await msg.nak()
            if handlers and stop.is_set():
                await asyncio.wait(handlers, timeout=30)   # busy handlers finish their message first
            for handler in handlers:
                handler.cancel()

    @property
    def _next_subject(self) -> str:
        return f"$JS.API.CONSUMER.MSG.NEXT.{self.stream}.{self.durable}"

    async def _bind(self) -> None:
        """Create or bind the durable consumer (its own pull subscription is not used)."""
        sub = await self.channel.pull(self.subject, self.durable, self.stream, self.config)
        with contextlib.suppress(Exception):
            await sub.unsubscribe()

    @staticmethod
    async def _wake_on(stop: asyncio.Event, arrivals: asyncio.Queue) -> None:
        await stop.wait()
        arrivals.put_nowait(None)

    async def _on_status(self, msg: Msg, status: str, outstanding: int) -> int:
        """A status message about our requests: a heartbeat, or a request that ended with `Nats-Pending-Messages`
        of its batch undelivered (expired, no messages, or refused)."""
        if status == "100":
            return outstanding
        pending = (msg.headers or {}).get("Nats-Pending-Messages")
        left = max(0, outstanding - int(pending)) if pending and pending.isdigit() else 0
        if status not in ("404", "408"):
            description = (msg.headers or {}).get("Description", "")
            log.warning("pull request on %s ended: %s %s", self.durable, status, description)
            await asyncio.sleep(0.5)   # refused (too many waiting, a leader change): not straight back
            if "deleted" in description.lower():
                with contextlib.suppress(Exception):
                    await self._bind()
        return left

    async def _handle_counted(self, msg: Msg, arrivals: asyncio.Queue) -> None:
        try:
            await self._handle(msg)
        finally:
            self.busy -= 1
            arrivals.put_nowait(None)   # a slot is free

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
            if isinstance(exc, Interrupted):
                log.info("%s on %s (delivery %d); message will be redelivered", exc, self.durable, delivered)
            else:
                log.exception("handler on %s failed (delivery %d); message will be redelivered", self.durable,
                              delivered)
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
