"""The worker runtime every worker type runs on.

Consumes its pool's work subject (one durable consumer shared by all replicas), runs up to N subtasks at once,
heartbeats the message while the agent works, honours cancellation and deadlines, publishes {content, failed}
to the coordinator (de-duplicated by attempt id), records the full trajectory as events, and keeps its entry in
the worker registry alive.
"""

import asyncio
import contextlib
import importlib
import json
import logging
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg

from ..core.channel import Channel, ConsumerLoop, connect, layout
from ..core.channel.consumer import Poison
from ..core.config import Settings
from ..core.llm import make_llm
from ..core.progress import LateSignal
from ..v1 import channel_pb2, common_pb2
from .agent import AgentOutcome, make_agent
from .ended import EndedTasks
from ..core.logging import task_context
from .metrics import SUBTASK_DURATION, WORKER_BUSY, WORKER_CAPACITY
from .tools import ToolBudgetExceeded, ToolContext, WorkerSpec

log = logging.getLogger(__name__)

TRAJECTORY_LIMIT = 256 * 1024  # bytes of message history a result carries (into its outcome event)


def load_spec(worker_type: str, settings: Settings) -> WorkerSpec:
    try:
        module = importlib.import_module(f"workforce.workers.{worker_type.replace('-', '_')}")
    except ModuleNotFoundError as exc:
        raise SystemExit(f"unknown worker type {worker_type!r}: no module workforce.workers.{worker_type}") from exc
    return module.spec(settings)


class WorkerRuntime:
    def __init__(self, spec: WorkerSpec, settings: Settings, channel: Channel, llm):
        self.spec = spec
        self.settings = settings
        self.channel = channel
        self.llm = llm
        self.agent = make_agent(llm, spec, settings)
        self.running: dict[str, asyncio.Task] = {}      # attempt id → the agent's task
        self.cancelled_tasks = EndedTasks()   # heard on wf.cancel.*: their queued subtasks are skipped
        self.pull = ConsumerLoop(
            channel,
            subject=layout.work_subject(spec.worker_type),
            durable=layout.pool_consumer(spec.worker_type),
            stream=layout.WORK_STREAM,
            config=channel.layout.pool_consumer(spec.worker_type),
            handler=self.handle,
            concurrency=settings.worker_concurrency,
        )

    # ---- registry ----

    def info(self) -> common_pb2.WorkerInfo:
        info = common_pb2.WorkerInfo(
            worker_type=self.spec.worker_type,
            instance_id=self.settings.instance_id,
            description=self.spec.description,
            tools=[t.name for t in self.spec.tools],
            concurrency=self.settings.worker_concurrency,
            busy=len(self.running),
            needs_documents=self.spec.needs_documents,
        )
        info.heartbeat_at.GetCurrentTime()
        return info

    async def register_loop(self, stop: asyncio.Event) -> None:
        key = f"{self.spec.worker_type}.{self.settings.instance_id}".replace(":", "_")
        period = max(0.5, self.settings.worker_registry_ttl_s / 3)
        while not stop.is_set():
            with contextlib.suppress(Exception):
                await self.channel.workers.put(key, self.info().SerializeToString())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), period)
        with contextlib.suppress(Exception):
            await self.channel.workers.delete(key)

    # ---- cancellation ----

    async def on_cancel(self, msg) -> None:
        task_id = msg.subject.rsplit(".", 1)[-1]
        self.cancelled_tasks.add(task_id)
        for attempt, running in list(self.running.items()):
            if attempt.startswith(task_id + "/"):
                running.cancel()

    # ---- one subtask ----

    async def handle(self, msg: Msg) -> None:
        try:
            item = channel_pb2.WorkItem.FromString(msg.data)
        except DecodeError as exc:
            raise Poison(f"undecodable work item: {exc}") from exc
        if not item.task_id or not item.attempt_id:
            raise Poison("work item without task or attempt id")
        with task_context(item.task_id, item.subtask_id):
            await self._handle(item, msg)

    async def _handle(self, item: channel_pb2.WorkItem, msg: Msg) -> None:
        if item.task_id in self.cancelled_tasks:
            return  # nothing to do: the task ended (cancelled, failed, deadline) before this subtask started
        outcome = await self.execute(item, msg.metadata.num_delivered if msg.metadata else 1, dict(item.metadata))
        if outcome is None:
            return
        await self.channel.to_coordinator(
            channel_pb2.CoordinatorMessage(task_id=item.task_id, result=self.result(item, outcome)),
            msg_id=f"result:{item.attempt_id}")

    def result(self, item: channel_pb2.WorkItem, outcome: AgentOutcome) -> channel_pb2.SubtaskResult:
        """The outcome as the coordinator records it; the message history rides along (trajectory_json) into the
        subtask's outcome event instead of an event of its own."""
        result = channel_pb2.SubtaskResult(
            task_id=item.task_id, subtask_id=item.subtask_id, attempt_id=item.attempt_id,
            content=outcome.content, failed=outcome.failed, worker_type=self.spec.worker_type,
            worker_instance=self.settings.instance_id, tool_calls=outcome.tool_calls,
            files=getattr(outcome, "files", []), duration_s=getattr(outcome, "duration_s", 0.0),
            trajectory_json=trajectory_json(outcome),
        )
        outcome.usage.merge_into(result.usage)
        return result

    async def execute(self, item: channel_pb2.WorkItem, delivery: int = 1,
                      metadata: dict | None = None) -> AgentOutcome | None:
        """Run the agent on one work item; None when the task was cancelled meanwhile."""
        # made on first use (ToolContext.private_dir): most subtasks never touch a directory
        workdir = Path(tempfile.gettempdir()) / f"wf-{self.spec.worker_type}-{uuid.uuid4().hex}"
        ctx = ToolContext(
            task_id=item.task_id, subtask_id=item.subtask_id, attempt_id=item.attempt_id,
            worker_type=self.spec.worker_type, settings=self.settings, workdir=workdir,
            files=list(item.files), channel=self.channel, metadata=metadata or dict(item.metadata),
            delivery=delivery,
        )
        started_signal = await LateSignal(self.settings.progress_signal_delay_s, lambda: ctx.emit(
            "subtask.started", f"{self.settings.instance_id} (delivery {delivery})",
            {"attempt_id": item.attempt_id, "instance": self.settings.instance_id, "delivery": delivery})).start()
        ctx.before_emit = started_signal.now
        timeout = self._timeout(item)
        started = time.perf_counter()
        WORKER_BUSY.labels(self.spec.worker_type).inc()
        run = asyncio.create_task(self.agent.run(item, ctx))
        self.running[item.attempt_id] = run
        try:
            outcome = await asyncio.wait_for(run, timeout)
        except asyncio.CancelledError:
            if run.cancelled() and item.task_id in self.cancelled_tasks:
                await ctx.emit("subtask.cancelled", "stopped: the task was cancelled")
                return None
            raise
        except asyncio.TimeoutError:
            outcome = AgentOutcome(f"subtask deadline exceeded after {timeout:.0f} s", True)
        except ToolBudgetExceeded as exc:
            outcome = AgentOutcome(f"stopped: {exc}", True, tool_calls=len(ctx.tool_history))
        except Exception as exc:  # an agent bug must become a failed result, not a stuck message
            log.exception("agent crashed on %s", item.attempt_id)
            outcome = AgentOutcome(f"worker error: {type(exc).__name__}: {exc}", True)
        finally:
            await started_signal.settle()
            self.running.pop(item.attempt_id, None)
            WORKER_BUSY.labels(self.spec.worker_type).dec()
            if workdir.exists():
                shutil.rmtree(workdir, ignore_errors=True)
        outcome.duration_s = time.perf_counter() - started
        log.info("subtask %s in %.1f s with %d tool calls: %s", "failed" if outcome.failed else "done",
                 outcome.duration_s, outcome.tool_calls, outcome.content[:200].replace("\n", " "))
        outcome.files = list(ctx.produced)
        SUBTASK_DURATION.labels(self.spec.worker_type, "failed" if outcome.failed else "done").observe(
            outcome.duration_s)
        return outcome

    def _timeout(self, item: channel_pb2.WorkItem) -> float:
        timeout = float(self.settings.subtask_timeout_s)
        if item.HasField("deadline"):
            left = item.deadline.ToDatetime().timestamp() - time.time()
            timeout = max(1.0, min(timeout, left))
        return timeout


def trajectory_json(outcome: AgentOutcome) -> str:
    """The worker's message history (up to TRAJECTORY_LIMIT) and tool count, as JSON."""
    messages, size = [], 0
    for m in outcome.messages:
        size += len(str(m))
        if size > TRAJECTORY_LIMIT:
            messages.append({"role": "note", "content": "trajectory truncated"})
            break
        messages.append(m)
    return json.dumps({"messages": messages, "tool_calls": outcome.tool_calls, "failed": outcome.failed},
                      ensure_ascii=False, default=str)


async def serve(settings: Settings, stop: asyncio.Event, worker_type: str) -> None:
    from ..core.grpc_server import GrpcServer
    from ..v1 import worker_pb2, worker_pb2_grpc
    from .service import WorkerServicer

    spec = load_spec(worker_type, settings)
    if spec.start:
        await spec.start()
    channel = await connect(settings)
    llm = make_llm(settings)
    runtime = WorkerRuntime(spec, settings, channel, llm)
    WORKER_CAPACITY.labels(spec.worker_type).set(settings.worker_concurrency)
    server = GrpcServer(settings.bind_host, settings.grpc_port)
    server.add(worker_pb2_grpc.add_WorkerServicer_to_server, WorkerServicer(runtime),
               worker_pb2.DESCRIPTOR.services_by_name["Worker"].full_name)
    await server.start()
    cancel_sub = await channel.nc.subscribe(f"{layout.CANCEL_PREFIX}.*", cb=runtime.on_cancel)
    tasks = [asyncio.create_task(runtime.pull.run(stop)), asyncio.create_task(runtime.register_loop(stop))]
    await stop.wait()
    await asyncio.gather(*tasks, return_exceptions=True)
    await cancel_sub.unsubscribe()
    await server.stop()
    if spec.stop:
        await spec.stop()
    await channel.close()
