"""Work in progress per task, so that a cancel (core NATS `wf.cancel.<task_id>`) stops it mid-call —
a model call in the planner or the coordinator included, not only a worker's subtask."""

import asyncio
import collections
import contextlib
import logging

from . import layout

log = logging.getLogger(__name__)


class TaskCancelled(Exception):
    """The task was cancelled while this work ran; the work was stopped."""


class InFlight:
    REMEMBER = 10_000  # cancelled task ids kept, so a request that arrives after its task's cancel is skipped

    def __init__(self):
        self._running: dict[str, set[asyncio.Task]] = {}
        self._cancelled: set[asyncio.Task] = set()
        self._cancelled_tasks: collections.OrderedDict[str, None] = collections.OrderedDict()

    def was_cancelled(self, task_id: str) -> bool:
        """Whether a cancel of the task was heard (since this process started; the last REMEMBER of them)."""
        return task_id in self._cancelled_tasks

    async def run(self, task_id: str, coro):
        """Await `coro` as cancellable work of the task; TaskCancelled if a cancel stopped it."""
        work = asyncio.ensure_future(coro)
        self._running.setdefault(task_id, set()).add(work)
        try:
            return await work
        except asyncio.CancelledError:
            if work in self._cancelled:
                raise TaskCancelled(task_id) from None
            work.cancel()  # we are being cancelled ourselves (shutdown): stop the work too
            raise
        finally:
            self._cancelled.discard(work)
            running = self._running.get(task_id)
            if running is not None:
                running.discard(work)
                if not running:
                    del self._running[task_id]

    def cancel(self, task_id: str) -> int:
        self._cancelled_tasks[task_id] = None
        while len(self._cancelled_tasks) > self.REMEMBER:
            self._cancelled_tasks.popitem(last=False)
        stopped = 0
        for work in list(self._running.get(task_id, ())):
            if not work.done():
                self._cancelled.add(work)
                work.cancel()
                stopped += 1
        return stopped

    async def subscribe(self, nc):
        """Listen for cancels; returns the subscription (unsubscribe it on stop)."""

        async def on_cancel(msg):
            task_id = msg.subject.rsplit(".", 1)[-1]
            with contextlib.suppress(Exception):
                if self.cancel(task_id):
                    log.info("stopped in-flight work of cancelled task", extra={"task_id": task_id})

        return await nc.subscribe(f"{layout.CANCEL_PREFIX}.*", cb=on_cancel)
