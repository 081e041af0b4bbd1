"""The tasks a worker has heard end, so it skips their queued subtasks without reading any task record.

The coordinator publishes `wf.cancel.<task_id>` (core NATS) whenever a task ends other than by success
(cancelled, failed, deadline); the worker runtime adds each such id here and skips work items of these tasks.
The set is bounded (oldest forgotten first) and lives in memory only: a work item that slips through (a worker
started after the cancel, or an id long forgotten) runs to no effect, since the coordinator records only the
current attempt of a running task. Workers therefore need no access to the tasks bucket.
"""

from collections import OrderedDict

DEFAULT_LIMIT = 10_000


class EndedTasks:
    def __init__(self, limit: int = DEFAULT_LIMIT):
        self.limit = max(1, limit)
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, task_id: str) -> None:
        self._ids[task_id] = None
        self._ids.move_to_end(task_id)
        while len(self._ids) > self.limit:
            self._ids.popitem(last=False)

    def __contains__(self, task_id: str) -> bool:
        return task_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)
