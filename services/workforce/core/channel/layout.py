"""Every stream, subject, consumer and bucket of the task channel, with its settings.

Work queues (WorkQueue retention) delete a message once it is acked; each has exactly one durable pull
consumer per subject filter, shared by all replicas of the service that consumes it (competing consumers).
"""

from dataclasses import dataclass

from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from ..config import Settings

# Streams
CONTROL_STREAM = "WF_CONTROL"    # planner requests + coordinator inbox (work queue)
WORK_STREAM = "WF_WORK"          # subtasks for worker pools (work queue)
EVENTS_STREAM = "WF_EVENTS"      # per-task events (limits; watchers resume by sequence)
DLQ_STREAM = "WF_DEAD_LETTERS"   # captured max-deliveries advisories of WF_WORK
TASK_INDEX_STREAM = "WF_TASK_INDEX"  # one message per submitted task, for paginated listing (gateway)

# Subjects
PLANNER_SUBJECT = "wf.planner.requests"
COORDINATOR_SUBJECT = "wf.coordinator.inbox"
WORK_PREFIX = "wf.work"          # wf.work.<worker_type>
EVENTS_PREFIX = "wf.events"      # wf.events.<task_id>
CANCEL_PREFIX = "wf.cancel"      # core NATS (not stored): wf.cancel.<task_id> stops running subtasks
INDEX_PREFIX = "wf.index"        # wf.index.<owner scope>: task ids, each pointing at the owner's previous one
MAX_DELIVERIES_ADVISORY = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES"

# Durable consumers
PLANNER_CONSUMER = "planner"
COORDINATOR_CONSUMER = "coordinator"
DLQ_CONSUMER = "coordinator-dead-letters"

# Buckets
TASKS_BUCKET = "wf-tasks"            # TaskRecord by task id
PLANS_BUCKET = "wf-plans"            # PlanState by task id
WORKERS_BUCKET = "wf-workers"        # WorkerInfo by <type>.<instance>; entries expire without heartbeats
IDEMPOTENCY_BUCKET = "wf-idempotency"  # idempotency key hash → task id
ACTIVE_BUCKET = "wf-active"          # task ids not finished yet (what the deadline sweeper scans)
FILES_BUCKET = "wf-files"            # object store
APPROVALS_BUCKET = "wf-approvals"    # ApprovalDecision by <task_id>.<plan_version>: the first decision wins;
                                     # gated tool calls: ToolCallRequest by <task_id>.ask.<call_id>, their
                                     # ApprovalDecision by <task_id>.tool.<call_id> (tool_request_key / tool_decision_key)
LEASES_BUCKET = "wf-leases"          # <role> → the instance holding it (e.g. the coordinators' sweeper leader)
QUOTA_INFLIGHT_BUCKET = "wf-quota-inflight"  # <owner scope>.<task id> while a task counts as in flight
QUOTA_RATE_BUCKET = "wf-quota-rate"  # <owner scope>.<minute> → submissions in that minute

# Bucket TTLs that are not settings
QUOTA_INFLIGHT_TTL_S = 8 * 24 * 3600   # longer than the longest task deadline (7 days)
QUOTA_RATE_TTL_S = 180                 # two one-minute windows and some slack


def approval_key(task_id: str, plan_version: int) -> str:
    return f"{task_id}.{plan_version}"


def tool_request_key(task_id: str, call_id: str) -> str:
    return f"{task_id}.ask.{call_id}"


def tool_decision_key(task_id: str, call_id: str) -> str:
    return f"{task_id}.tool.{call_id}"


def work_subject(worker_type: str) -> str:
    return f"{WORK_PREFIX}.{worker_type}"


def pool_consumer(worker_type: str) -> str:
    return f"pool-{worker_type}"


def events_subject(task_id: str) -> str:
    return f"{EVENTS_PREFIX}.{task_id}"


def input_file_key(task_id: str, sha256: str, name: str) -> str:
    """Where a file attached to a task is kept in the files object store (content-addressed within the task)."""
    return f"{task_id}/in/{sha256[:16]}/{name}"


def output_file_key(task_id: str, subtask_id: str, sha256: str, name: str) -> str:
    """Where a file a worker produced for a subtask is kept (its FileRef rides in the result into the plan)."""
    return f"{task_id}/out/{subtask_id}/{sha256[:16]}/{name}"


def cancel_subject(task_id: str) -> str:
    return f"{CANCEL_PREFIX}.{task_id}"


def index_subject(scope: str) -> str:
    return f"{INDEX_PREFIX}.{scope}"


@dataclass(frozen=True)
class Layout:
    """Stream and consumer configurations derived from the settings."""

    settings: Settings

    def streams(self) -> list[StreamConfig]:
        s = self.settings
        common = dict(storage=StorageType.FILE, num_replicas=s.stream_replicas, duplicate_window=s.duplicate_window_s)
        return [
            StreamConfig(
                name=CONTROL_STREAM,
                subjects=[PLANNER_SUBJECT, COORDINATOR_SUBJECT],
                retention=RetentionPolicy.WORK_QUEUE,
                **common,
            ),
            StreamConfig(
                name=WORK_STREAM,
                subjects=[f"{WORK_PREFIX}.*"],
                retention=RetentionPolicy.WORK_QUEUE,
                **common,
            ),
            StreamConfig(
                name=EVENTS_STREAM,
                subjects=[f"{EVENTS_PREFIX}.*"],
                retention=RetentionPolicy.LIMITS,
                max_age=s.event_max_age_s,
                discard=DiscardPolicy.OLD,
                **common,
            ),
            StreamConfig(
                name=TASK_INDEX_STREAM,
                subjects=[f"{INDEX_PREFIX}.*"],
                retention=RetentionPolicy.LIMITS,
                max_age=s.task_ttl_s,
                discard=DiscardPolicy.OLD,
                allow_direct=True,          # page reads are direct gets
                **common,
            ),
            StreamConfig(
                name=DLQ_STREAM,
                subjects=[f"{MAX_DELIVERIES_ADVISORY}.{WORK_STREAM}.*"],
                retention=RetentionPolicy.WORK_QUEUE,
                **common,
            ),
        ]

    def control_consumer(self, durable: str, subject: str) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=durable,
            filter_subject=subject,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.settings.control_ack_wait_s,
            # handlers give up after control_max_deliver failed deliveries (ConsumerLoop.give_up); this is the
            # backstop for a message whose handler dies with its process every time
            max_deliver=self.settings.control_max_deliver + 3,
            max_ack_pending=10_000,
        )

    def pool_consumer(self, worker_type: str) -> ConsumerConfig:
        s = self.settings
        backoff = s.backoff() or None
        return ConsumerConfig(
            durable_name=pool_consumer(worker_type),
            filter_subject=work_subject(worker_type),
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=s.ack_wait_s,
            max_deliver=s.max_deliver,
            backoff=backoff,
            max_ack_pending=10_000,
        )

    def dlq_consumer(self) -> ConsumerConfig:
        return ConsumerConfig(
            durable_name=DLQ_CONSUMER,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.settings.control_ack_wait_s,
            max_deliver=-1,
        )
