"""The planner on the channel: handles PlannerRequests and answers the coordinator.

A request that cannot be handled ends its task with a reason instead of being redelivered forever: a
PlannerFailed at once, an unexpected error after WF_CONTROL_MAX_DELIVER deliveries. A cancel of the task
stops its in-flight model call.
"""

import base64
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
                redelivered = bool(msg.metadata and msg.metadata.num_delivered > 1)
                await self.inflight.run(task_id, self._dispatch(task_id, kind, request, temperature, answer_type,
                                                                redelivered))
            except TaskCancelled:
                log.info("planner stopped: the task was cancelled")
            except PlannerFailed as exc:
                await self._fail(task_id, kind, _version(request), str(exc), exc.attempts)

    async def give_up(self, msg, reason: str) -> None:
        """Called after the last allowed delivery failed with an unexpected error: the task fails with it."""
        request = self._decode(msg)
        with task_context(request.task_id):
            await self._fail(request.task_id, request.WhichOneof("kind") or "unknown", _version(request),
                             f"planner error: {reason}", [])

    async def _fail(self, task_id: str, kind: str, version: int, reason: str, attempts: list[dict]) -> None:
        log.warning("planner failed (%s): %s", kind, reason)
        await self.channel.emit(task_id, "planner.failed", reason[:500], data={"stage": kind, "attempts": attempts},
                                msg_id=f"ev:{task_id}:planfail:{kind}:{version}")
        failure = channel_pb2.PlannerFailure(stage=kind, reason=reason, plan_version=version)
        await self.channel.to_coordinator(
            channel_pb2.CoordinatorMessage(task_id=task_id, planner_failure=failure),
            msg_id=f"planfail:{task_id}:{kind}:{version}")

    async def _dispatch(self, task_id: str, kind: str, request, temperature, answer_type: str = "text",
                        redelivered: bool = True) -> None:
        # Only a redelivery can find an output decided before (a first delivery that races one is settled by
        # _publish_once, where the first output stored wins).
        if redelivered and kind in ("decompose", "replan", "synthesize") and \
                await self._published_before(f"{task_id}.{kind}.{_version(request)}"):
            return
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
            plan, outcome = await self.planner.decompose(task_id, request, await self.registry.workers(),
                                                         temperature)
        finally:
            await signal.settle()
        if request.HasField("task") and not signal.sent:   # the record as submitted is still the record
            plan.task.CopyFrom(request.task)
            plan.task_revision = request.task_revision
        log.info("plan created: %d subtasks, %d repairs", len(plan.subtasks), len(outcome.repairs))
        await self._publish_once(f"{task_id}.decompose.0", task_id, {
            "type": "plan.created", "message": f"{len(plan.subtasks)} subtasks", "subtask_id": "",
            "data": _plan_data(plan, outcome), "msg_id": f"ev:{task_id}:plan:0"},
            channel_pb2.CoordinatorMessage(task_id=task_id, plan=plan), f"plan:{task_id}:0")

    async def _replan(self, task_id: str, request: channel_pb2.ReplanRequest, temperature) -> None:
        plan, outcome = await self.planner.replan(task_id, request, await self.registry.workers(), temperature)
        log.info("replanned %s: %d subtasks", request.failed_subtask_id, len(plan.subtasks))
        version = request.plan_version
        await self._publish_once(f"{task_id}.replan.{version}", task_id, {
            "type": "plan.replanned", "message": f"{request.failed_subtask_id} → {len(plan.subtasks)} subtasks",
            "subtask_id": request.failed_subtask_id, "data": _plan_data(plan, outcome),
            "msg_id": f"ev:{task_id}:plan:{version}"},
            channel_pb2.CoordinatorMessage(task_id=task_id, plan=plan), f"plan:{task_id}:{version}")

    async def _synthesize(self, task_id: str, request: channel_pb2.SynthesizeRequest, temperature,
                          answer_type: str) -> None:
        final, outcome = await self.planner.synthesize(task_id, request, temperature, answer_type)
        log.info("answer created")
        await self._publish_once(f"{task_id}.synthesize.0", task_id, {
            "type": "answer.created", "message": final.answer[:500], "subtask_id": "",
            "data": {"planner_messages": outcome.messages, "planner_output": final.planner_output,
                     "attempts": outcome.attempts}, "msg_id": f"ev:{task_id}:answer"},
            channel_pb2.CoordinatorMessage(task_id=task_id, final_answer=final), f"final:{task_id}")

    async def _published_before(self, key: str) -> bool:
        """A redelivered request whose output was decided before: publish that again (both publishes are
        de-duplicated by message id), so the recorded event is always the plan that ran."""
        entry = await self.channel.planner_outputs.get(key)
        if entry is None:
            return False
        await self._publish_stored(json.loads(entry.value))
        return True

    async def _publish_once(self, key: str, task_id: str, event: dict, message, msg_id: str) -> None:
        stored = {"task_id": task_id, "event": event, "msg_id": msg_id,
                  "message": base64.b64encode(message.SerializeToString()).decode()}
        if await self.channel.planner_outputs.create(key, json.dumps(stored, ensure_ascii=False).encode()) is None:
            entry = await self.channel.planner_outputs.get(key)  # another delivery decided first: that one holds
            stored = json.loads(entry.value) if entry is not None else stored
        await self._publish_stored(stored)

    async def _publish_stored(self, stored: dict) -> None:
        event = stored["event"]
        task_id = stored["task_id"]
        await self.channel.publish_pipelined([   # in this order: the event is stored before the coordinator acts
            self.channel.event_entry(task_id, event["type"], event["message"], subtask_id=event["subtask_id"],
                                     data=event["data"], msg_id=event["msg_id"]),
            (layout.COORDINATOR_SUBJECT, base64.b64decode(stored["message"]), stored["msg_id"])], task_id)


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
