"""A "still working" signal that is sent only when the work it announces outlasts a delay, so a quick step is
told by its outcome alone (one message less per step) while a slow one still shows progress."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class LateSignal:
    """`send` runs after `delay_s` unless `settle()` comes first; with delay 0 it is sent by `start()` itself.

    settle() must be awaited before the work's outcome is published: a signal not begun is dropped, one already
    being sent is finished, so it never lands after the outcome."""

    def __init__(self, delay_s: float, send: Callable[[], Awaitable[None]]):
        self.delay_s, self._send = delay_s, send
        self._task: asyncio.Task | None = None
        self.sent = False   # whether it was sent (or is being sent)

    async def start(self) -> "LateSignal":
        if self.delay_s <= 0:
            await self._deliver()
        else:
            self._task = asyncio.create_task(self._later())
        return self

    async def _later(self) -> None:
        await asyncio.sleep(self.delay_s)
        await self._deliver()

    async def _deliver(self) -> None:
        self.sent = True
        try:
            await self._send()
        except Exception:  # a progress signal is best effort: the outcome tells the story
            log.warning("could not send a progress signal", exc_info=True)

    async def now(self) -> None:
        """Send it at once unless it was sent (something about the work goes out next, and this must come first);
        one being sent is finished first."""
        task = self._task
        if self.sent:
            if task is not None and not task.done() and task is not asyncio.current_task():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.shield(task)
            return
        self._task = None
        if task is not None:
            task.cancel()
        await self._deliver()

    async def settle(self) -> None:
        task, self._task = self._task, None
        if task is None or task.done():
            return
        if self.sent:   # being sent: let it land before the outcome
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(task)
        else:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
