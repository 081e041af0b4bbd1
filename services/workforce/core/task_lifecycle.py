"""The rules of a task's life that more than one service applies, kept out of the channel (which only moves
and stores messages): how a written task is started, that a finished record never changes again, and that a
finished task stops counting against its owner's quota."""

from nats.js.errors import NotFoundError

from ..v1 import channel_pb2, common_pb2
from .channel import layout

TERMINAL_STATUSES = {
    common_pb2.TASK_STATUS_SUCCEEDED,
    common_pb2.TASK_STATUS_FAILED,
    common_pb2.TASK_STATUS_CANCELLED,
}


async def start_task(channel, record: common_pb2.TaskRecord, revision: int = 0) -> None:
    """Announce a written task and hand it to the planner. Idempotent (message ids), so an interrupted submit is
    finished by the client's retry (gateway) or by the coordinator's sweeper. With the record's KV revision the
    request carries the record on (to the coordinator, in the first plan), which then reads nothing to start."""
    task_id = record.task_id   # its wf-active entry was written before its record (gateway/tasks.py)
    decompose = channel_pb2.DecomposeRequest(question=record.question, answer_format=record.answer_format,
                                             files=list(record.files))
    if revision:
        decompose.task.CopyFrom(record)
        decompose.task_revision = revision
    request = channel_pb2.PlannerRequest(task_id=task_id, decompose=decompose, metadata=dict(record.metadata))
    await channel.publish_pipelined([
        channel.event_entry(task_id, "task.submitted", record.question[:500], status=common_pb2.TASK_STATUS_QUEUED,
                            msg_id=f"ev:{task_id}:submitted"),
        (layout.PLANNER_SUBJECT, request.SerializeToString(), f"decompose:{task_id}"),
    ], task_id=task_id)


async def update_record(channel, task_id: str, change) -> common_pb2.TaskRecord | None:
    """Compare-and-set loop on the task record: change(record) edits it in place, or returns False to write
    nothing. A terminal record is never changed again (None)."""

    def apply(raw: bytes):
        record = common_pb2.TaskRecord.FromString(raw)
        if record.status in TERMINAL_STATUSES:
            return None
        if change(record) is False:
            return None
        record.updated_at.GetCurrentTime()
        return record.SerializeToString()

    raw = await channel.tasks.update_with(task_id, apply)
    return common_pb2.TaskRecord.FromString(raw) if raw else None


async def release_quota(channel, task_id: str) -> None:
    """A finished task no longer counts against its owner's in-flight quota (gateway/quotas.py): its reservation
    `<owner scope>.<task id>` is purged (no delete marker for a count to read)."""
    try:
        await channel.js.purge_stream(f"KV_{layout.QUOTA_INFLIGHT_BUCKET}",
                                      subject=f"$KV.{layout.QUOTA_INFLIGHT_BUCKET}.*.{task_id}")
    except NotFoundError:
        pass   # no gateway made the bucket: no quotas
