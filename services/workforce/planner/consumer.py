"""The planner on the channel: handles PlannerRequests and answers the coordinator.

A request that cannot be handled ends its task with a reason instead of being redelivered forever: a
PlannerFailed at once, an unexpected error after WF_CONTROL_MAX_DELIVER deliveries. A cancel of the task
stops its in-flight model call.
"""

import json
import logging

from google.protobuf.message import DecodeError

from ..core.channel import Channel, ConsumerLoop, layout
from ..core.progress import LateSignal
from ..core.task_lifecycle import update_record
from ..core.channel.consumer import Poison
from ..core.channel.inflight import InFlight, TaskCancelled
from ..core.channel.registry import RegistryCache
from ..core.logging import task_context
from ..core.sampling import answer_type_of, temperature_of
from ..v1 import channel_pb2, common_pb2
from .logic import Outcome, Planner, PlannerFailed

log = logging.getLogger(__name__)


class PlannerConsumer:
    def __init__(self, planner: Planner, channel: Channel, concurrency: int = 16):
        self.planner = planner
        self.channel = channel
        self.registry = RegistryCache(channel)
        self.inflight = InFlight()
        self.pull = ConsumerLoop(
            channel, subject=layout.PLANNER_SUBJECT, durable=layout.PLANNER_CONSUMER, stream=layout.CONTROL_STREAM,
            config=channel.layout.control_consumer(layout.PLANNER_CONSUMER, layout.PLANNER_SUBJECT),
            handler=self.handle, concurrency=concurrency,
            max_attempts=channel.layout.settings.control_max_deliver, give_up=self.give_up,
        )

    @staticmethod
    def _decode(msg) -> channel_pb2.PlannerRequest:
        try:
            return channel_pb2.PlannerRequest.FromString(msg.data)
        except DecodeError as exc:
            raise Poison(f"undecodable planner request: {exc}") from exc

    async def handle(self, msg) -> None:
        request = self._decode(msg)
        task_id = request.task_id
        with task_context(task_id):
            if self.inflight.was_cancelled(task_id):
                return
            kind = request.WhichOneof("kind")
            # the task's options travel with the request: no record read per request
            temperature = _safe_temperature(request.metadata)  # per request: handlers run concurrently
            try:
                answer_type = answer_type_of(request.metadata)
            except ValueError:
                answer_type = "text"
            try:
                await self.inflight.run(task_id, self._dispatch(task_id, kind, request, temperature, answer_type))
            except TaskCancelled:
                log.info("planner stopped: the task was cancelled")
            except PlannerFailed as exc:
                await self._fail(task_id, kind, _version(request), str(exc), exc.attempts, exc.usage)

    async def give_up(self, msg, reason: str) -> None:
        """Called after the last allowed delivery failed with an unexpected error: the task fails with it."""
        request = self._decode(msg)
        with task_context(request.task_id):
            await self._fail(request.task_id, request.WhichOneof("kind") or "unknown", _version(request),
                             f"planner error: {reason}", [])

    async def _fail(self, task_id: str, kind: str, version: int, reason: str, attempts: list[dict],
                    usage=None) -> None:
        log.warning("planner failed (%s): %s", kind, reason)
        await self.channel.emit(task_id, "planner.failed", reason[:500], data={"stage": kind, "attempts": attempts},
                                msg_id=f"ev:{task_id}:planfail:{kind}:{version}")
        failure = channel_pb2.PlannerFailure(stage=kind, reason=reason, plan_version=version)
        if usage is not None:
            usage.merge_into(failure.usage)
        await self.channel.to_coordinator(
            channel_pb2.CoordinatorMessage(task_id=task_id, planner_failure=failure),
            msg_id=f"planfail:{task_id}:{kind}:{version}")

    async def _dispatch(self, task_id: str, kind: str, request, temperature, answer_type: str = "text") -> None:
        if kind == "decompose":
            await self._decompose(task_id, request.decompose, temperature)
        elif kind == "replan":
            await self._replan(task_id, request.replan, temperature)
        elif kind == "synthesize":
            await self._synthesize(task_id, request.synthesize, temperature, answer_type)
        else:
            raise Poison("planner request without a kind")

    async def _decompose(self, task_id: str, request: channel_pb2.DecomposeRequest, temperature) -> None:
        async def planning():
            def queued_to_planning(record):
                if record.status != common_pb2.TASK_STATUS_QUEUED:
                    return False
                record.status = common_pb2.TASK_STATUS_PLANNING

            await update_record(self.channel, task_id, queued_to_planning)
            await self.channel.emit(task_id, "task.planning", status=common_pb2.TASK_STATUS_PLANNING,
                                    msg_id=f"ev:{task_id}:planning")

        signal = await LateSignal(self.channel.layout.settings.progress_signal_delay_s, planning).start()
        try:
            workers = await self.registry.workers_for(request.question, bool(request.files))
            plan, outcome = await self.planner.decompose(task_id, request, workers, temperature)
        finally:
            await signal.settle()
        if request.HasField("task") and not signal.sent:   # the record as submitted is still the record
            plan.task.CopyFrom(request.task)
            plan.task_revision = request.task_revision
        log.info("plan created: %d subtasks, %d repairs", len(plan.subtasks), len(outcome.repairs))
        await self._answer(task_id, plan, outcome, f"plan:{task_id}:0")

    async def _replan(self, task_id: str, request: channel_pb2.ReplanRequest, temperature) -> None:
        workers = await self.registry.workers_for(request.question, request.has_files)
        plan, outcome = await self.planner.replan(task_id, request, workers, temperature)
        log.info("replanned %s: %d subtasks", request.failed_subtask_id, len(plan.subtasks))
        await self._answer(task_id, plan, outcome, f"plan:{task_id}:{request.plan_version}")

    async def _synthesize(self, task_id: str, request: channel_pb2.SynthesizeRequest, temperature,
                          answer_type: str) -> None:
        async def synthesizing():   # the record's SYNTHESIZING status is the coordinator's (it asked)
            await self.channel.emit(task_id, "task.synthesizing", status=common_pb2.TASK_STATUS_SYNTHESIZING,
                                    msg_id=f"ev:{task_id}:synthesizing")

        signal = await LateSignal(self.channel.layout.settings.progress_signal_delay_s, synthesizing).start()
        try:
            final, outcome = await self.planner.synthesize(task_id, request, temperature, answer_type)
        finally:
            await signal.settle()
        log.info("answer created")
        final.trace_json = json.dumps({"planner_messages": outcome.messages, "planner_output": final.planner_output,
                                       "attempts": outcome.attempts}, ensure_ascii=False, default=str)
        await self.channel.to_coordinator(channel_pb2.CoordinatorMessage(task_id=task_id, final_answer=final),
                                          msg_id=f"final:{task_id}")

    async def _answer(self, task_id: str, plan: channel_pb2.PlanReady, outcome: Outcome, msg_id: str) -> None:
        """One message to the coordinator, which records the plan's event from it. A redelivered request calls the
        model again, but its message has the same id: the server keeps the first, so the plan recorded is the
        plan run."""
        plan.trace_json = json.dumps(_plan_data(plan, outcome), ensure_ascii=False, default=str)
        await self.channel.to_coordinator(channel_pb2.CoordinatorMessage(task_id=task_id, plan=plan), msg_id=msg_id)


def _plan_data(plan: channel_pb2.PlanReady, outcome: Outcome) -> dict:
    return {"planner_messages": outcome.messages, "planner_output": plan.planner_output,
            "attempts": outcome.attempts, "repairs": outcome.repairs,
            "subtasks": [{"id": s.subtask_id, "content": s.content, "dependencies": list(s.dependencies)}
                         for s in plan.subtasks]}


def _version(request) -> int:
    return request.replan.plan_version if request.WhichOneof("kind") == "replan" else 0


def _safe_temperature(metadata) -> float | None:
    try:
        return temperature_of(metadata)
    except ValueError:
        return None  # the gateway validates it; an old record with a bad value uses the default
