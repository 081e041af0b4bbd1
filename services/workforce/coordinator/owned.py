"""What this coordinator replica holds in memory for the tasks it applies messages to: each plan and task record
with the KV revision it was read or written at.

The KV buckets stay the truth: every write is a compare-and-set on the cached revision, so a replica whose copy
is stale (another replica applied a message of the task meanwhile) gets a conflict, re-reads, and applies again.
While one replica handles a task's messages, as it does in the steady state, a transition costs one plan write and
no reads.
"""

from collections import OrderedDict

from ..v1 import channel_pb2, common_pb2

CAPACITY = 20_000   # tasks kept; the least recently used are dropped (and re-read when they come back)


class Owned:
    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self._plans: OrderedDict[str, tuple[channel_pb2.PlanState, int, bool]] = OrderedDict()
        self._records: OrderedDict[str, tuple[common_pb2.TaskRecord, int]] = OrderedDict()

    # ---- plans ----

    def plan(self, task_id: str) -> tuple[channel_pb2.PlanState, int, bool] | None:
        """(plan, revision, outbox_published) as last written or read here; None when not held."""
        held = self._plans.get(task_id)
        if held is not None:
            self._plans.move_to_end(task_id)
        return held

    def keep_plan(self, plan: channel_pb2.PlanState, revision: int, published: bool) -> None:
        self._plans[plan.task_id] = (plan, revision, published)
        self._plans.move_to_end(plan.task_id)
        while len(self._plans) > self.capacity:
            self._plans.popitem(last=False)

    def published(self, task_id: str) -> None:
        held = self._plans.get(task_id)
        if held is not None:
            self._plans[task_id] = (held[0], held[1], True)

    # ---- task records ----

    def record(self, task_id: str) -> tuple[common_pb2.TaskRecord, int] | None:
        held = self._records.get(task_id)
        if held is not None:
            self._records.move_to_end(task_id)
        return held

    def keep_record(self, record: common_pb2.TaskRecord, revision: int) -> None:
        self._records[record.task_id] = (record, revision)
        self._records.move_to_end(record.task_id)
        while len(self._records) > self.capacity:
            self._records.popitem(last=False)

    def forget_record(self, task_id: str) -> None:
        self._records.pop(task_id, None)

    def forget(self, task_id: str) -> None:
        self._plans.pop(task_id, None)
        self._records.pop(task_id, None)
