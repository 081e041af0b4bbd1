"""The channel's identities: one NATS user per service, with the subjects it may publish and subscribe to.

Derived from layout.py's names. Local mode writes them into nats-server's configuration (local/nats_auth.py);
the chart carries the same lists for its bundled NATS (tests/chart/test_nats_identities.py compares them).

- gateway, planner, coordinator (the control plane): the JetStream API (they create and update the channel's
  streams and buckets) and the channel's subjects and buckets; never delete or purge a stream or a stored
  message, never the account, server or $SYS APIs.
- worker-<type>: consume its own pool (the durable pool-<type> on wf.work.<type>, nothing else of WF_WORK),
  publish results (wf.coordinator.inbox) and events (wf.events.*), hear cancellations (wf.cancel.*), read and
  add files (wf-files), keep its own registry entries (wf-workers, <type>.*), and for tool calls held for
  approval (WF_APPROVE_TOOLS) read and watch the approvals bucket and write only its tool-gate keys
  (<task>.ask.<call>, the request; <task>.tool.<call>, the timeout decision) — never a plan's. A work item
  carries what the worker needs of its task (question, files, deadline, metadata) and a worker skips items of
  tasks it heard end on wf.cancel.* (workers/ended.py), so it reads no task record: it cannot read the tasks,
  plans, idempotency or active-task buckets, dispatch work, send planner requests, create, delete or purge
  streams, or read another pool.
Replies come to a per-user inbox prefix (_INBOX_<user>), so no service can listen to another's replies.

What the identities do not do: a worker may read any task's files and any approval decision (NATS permissions
cannot follow task ownership, nor restrict which keys an ordered consumer watches); it could write a tool-call
decision, which gates what its own model does, not what the worker itself may do; the code worker's untrusted
code runs in the sandbox executor and the web worker's Chromium in the browser server, neither of which has
NATS access.
"""

from dataclasses import dataclass

from . import layout

CONTROL_PLANE = ("gateway", "planner", "coordinator")
WORKER_TYPES = ("web", "document", "code", "tool", "echo")  # services.WORKER_TYPES
KV_BUCKETS = (layout.TASKS_BUCKET, layout.PLANS_BUCKET, layout.WORKERS_BUCKET, layout.IDEMPOTENCY_BUCKET,
              layout.ACTIVE_BUCKET, layout.APPROVALS_BUCKET, layout.LEASES_BUCKET,
              layout.QUOTA_INFLIGHT_BUCKET, layout.QUOTA_RATE_BUCKET)
WORKER_BUCKETS = (layout.WORKERS_BUCKET,)  # the KV buckets a worker binds
APP_STREAMS = (layout.CONTROL_STREAM, layout.WORK_STREAM, layout.EVENTS_STREAM, layout.DLQ_STREAM,
               layout.TASK_INDEX_STREAM)
NEVER = ["$JS.API.STREAM.DELETE.>", "$JS.API.STREAM.PURGE.>", "$JS.API.STREAM.MSG.DELETE.>",
         "$JS.API.ACCOUNT.>", "$JS.API.SERVER.>", "$JS.API.META.>", "$SYS.>"]


def kv_stream(bucket: str) -> str:
    return f"KV_{bucket}"


def obj_stream(bucket: str) -> str:
    return f"OBJ_{bucket}"


def inbox_prefix(user: str) -> str:
    return f"_INBOX_{user}"


def _read_stream(stream: str) -> list[str]:
    """Read a KV or object store stream: bind (info), get messages (direct and by API), ordered consumers."""
    return [
        f"$JS.API.STREAM.INFO.{stream}",
        f"$JS.API.STREAM.MSG.GET.{stream}",
        f"$JS.API.DIRECT.GET.{stream}",
        f"$JS.API.DIRECT.GET.{stream}.>",
        f"$JS.API.CONSUMER.CREATE.{stream}",
        f"$JS.API.CONSUMER.CREATE.{stream}.>",
        f"$JS.API.CONSUMER.DELETE.{stream}.>",
        f"$JS.FC.{stream}.>",
    ]


@dataclass(frozen=True)
class Identity:
    user: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    deny_publish: tuple[str, ...]
    setup: bool                      # creates and updates the streams and buckets (Channel.ensure)
    buckets: tuple[str, ...]         # the KV buckets it binds (all when setup)

    def permissions(self) -> dict:
        """nats-server's `permissions` block of this user."""
        return {
            "publish": {"allow": list(self.publish), "deny": list(self.deny_publish)},
            "subscribe": {"allow": list(self.subscribe)},
        }


def control(name: str) -> Identity:
    """The JetStream API but for deleting and purging (NEVER wins over the allow list), the channel's subjects
    and buckets; its own inbox."""
    publish = ["$JS.API.>", "$JS.ACK.>", "$JS.FC.>", layout.PLANNER_SUBJECT, layout.COORDINATOR_SUBJECT,
               f"{layout.WORK_PREFIX}.*", f"{layout.EVENTS_PREFIX}.*", f"{layout.CANCEL_PREFIX}.*",
               f"{layout.INDEX_PREFIX}.*", *(f"$KV.{b}.>" for b in KV_BUCKETS), f"$O.{layout.FILES_BUCKET}.>"]
    subscribe = [f"{inbox_prefix(name)}.>", f"{layout.CANCEL_PREFIX}.*"]
    deny = list(NEVER)
    if name in ("gateway", "coordinator"):
        # A task's quota reservation is cleared by purging its key of the quota bucket (no delete markers): by the
        # gateway when a submission is refused or cancelled, by the coordinator when the task ends. Every other
        # stream stays unpurgeable (a finished task's wf-active entry is erased with an expiring marker, a publish).
        purgeable = {layout.QUOTA_INFLIGHT_BUCKET}
        deny.remove("$JS.API.STREAM.PURGE.>")
        deny += [f"$JS.API.STREAM.PURGE.{stream}" for stream in
                 (*APP_STREAMS, *(kv_stream(b) for b in KV_BUCKETS if b not in purgeable),
                  obj_stream(layout.FILES_BUCKET))]
    return Identity(name, tuple(publish), tuple(subscribe), tuple(deny), True, KV_BUCKETS)


def worker(worker_type: str) -> Identity:
    name = f"worker-{worker_type}"
    pool, work = layout.pool_consumer(worker_type), layout.WORK_STREAM
    publish = [
        "$JS.API.INFO",
        "$JS.API.STREAM.NAMES",  # stream names only (the object store looks its stream up by subject)
        # its own pool consumer: bind, create or update it with its own filter, pull, ack / nak / heartbeat
        f"$JS.API.STREAM.INFO.{work}",
        f"$JS.API.CONSUMER.INFO.{work}.{pool}",
        f"$JS.API.CONSUMER.CREATE.{work}.{pool}.{layout.work_subject(worker_type)}",
        f"$JS.API.CONSUMER.MSG.NEXT.{work}.{pool}",
        f"$JS.ACK.{work}.{pool}.>",
        # results and events (JetStream publishes); its registry entries; files
        layout.COORDINATOR_SUBJECT,
        f"{layout.EVENTS_PREFIX}.*",
        f"$JS.API.STREAM.INFO.{kv_stream(layout.WORKERS_BUCKET)}",
        f"$KV.{layout.WORKERS_BUCKET}.{worker_type}.>",
        *_read_stream(obj_stream(layout.FILES_BUCKET)),
        f"$O.{layout.FILES_BUCKET}.>",
        # tool calls held for approval: watch decisions; write the request and the timeout decision
        *_read_stream(kv_stream(layout.APPROVALS_BUCKET)),
        f"$JS.API.CONSUMER.INFO.{kv_stream(layout.APPROVALS_BUCKET)}.>",  # a KV watch asks its consumer's state
        f"$KV.{layout.APPROVALS_BUCKET}.{layout.tool_request_key('*', '>')}",
        f"$KV.{layout.APPROVALS_BUCKET}.{layout.tool_decision_key('*', '>')}",
    ]
    subscribe = [f"{inbox_prefix(name)}.>", f"{layout.CANCEL_PREFIX}.*"]
    return Identity(name, tuple(publish), tuple(subscribe), tuple(NEVER), False, WORKER_BUCKETS)


def for_service(name: str) -> Identity | None:
    """The identity of a service by its name (WF_SERVICE_NAME); None for services without NATS access."""
    if name in CONTROL_PLANE:
        return control(name)
    if name.startswith("worker-"):
        return worker(name.removeprefix("worker-"))
    return None


def every_identity(worker_types=WORKER_TYPES) -> list[Identity]:
    return [control(n) for n in CONTROL_PLANE] + [worker(t) for t in worker_types]
