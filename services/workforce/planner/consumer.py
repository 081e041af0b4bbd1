"""The planner on the channel: handles PlannerRequests and answers the coordinator."""

import logging

from google.protobuf.message import DecodeError

from ..core.channel import Channel, PullWorker, layout
from ..core.channel.client import TERMINAL_STATUSES
from ..core.channel.consumer import Poison
from ..core.channel.registry import RegistryCache
from ..core.sampling import temperature_of
from ..v1 import channel_pb2, common_pb2
from .logic import Planner, PlannerFailed

log = logging.getLogger(__name__)


class PlannerConsumer:
    def __init__(self, planner: Planner, channel: Channel, concurrency: int = 16):
        self.planner = planner
        self.channel = channel
        self.registry = RegistryCache(channel)
        self.pull = PullWorker(
            channel, subject=layout.PLANNER_SUBJECT, durable=layout.PLANNER_CONSUMER, stream=layout.CONTROL_STREAM,
            config=channel.layout.control_consumer(layout.PLANNER_CONSUMER, layout.PLANNER_SUBJECT),
            handler=self.handle, concurrency=concurrency,
        )

    async def handle(self, msg) -> None:
        try:
            request = channel_pb2.PlannerRequest.FromString(msg.data)
        except DecodeError as exc:
            raise Poison(f"undecodable planner request: {exc}") from exc
        task_id = request.task_id
        record = await self.channel.get_task(task_id)
        if record is None or record.status in TERMINAL_STATUSES:
            return
        kind = request.WhichOneof("kind")
        self._temperature = _safe_temperature(record.metadata)
        version = request.replan.plan_version if kind == "replan" else 0
        try:
            if kind == "decompose":
                await self._decompose(task_id, request.decompose)
            elif kind == "replan":
                await self._replan(task_id, request.replan)
            elif kind == "synthesize":
                await self._synthesize(task_id, request.synthesize)
            else:
                raise Poison("planner request without a kind")
        except PlannerFailed as exc:
            failure = channel_pb2.PlannerFailure(stage=kind, reason=str(exc), plan_version=version)
            await self.channel.to_coordinator(
                channel_pb2.CoordinatorMessage(task_id=task_id, planner_failure=failure),
                msg_id=f"planfail:{task_id}:{kind}:{version}")

    async def _decompose(self, task_id: str, request: channel_pb2.DecomposeRequest) -> None:
        def planning(record):
            if record.status != common_pb2.TASK_STATUS_QUEUED:
                return False
            record.status = common_pb2.TASK_STATUS_PLANNING

        await self.channel.update_task(task_id, planning)
        await self.channel.emit(task_id, "task.planning", status=common_pb2.TASK_STATUS_PLANNING,
                                msg_id=f"ev:{task_id}:planning")
        plan, messages = await self.planner.decompose(task_id, request, await self.registry.workers(),
                                                       self._temperature)
        await self.channel.emit(task_id, "plan.created", f"{len(plan.subtasks)} subtasks", data={
            "planner_messages": messages, "planner_output": plan.planner_output,
            "subtasks": [{"id": s.subtask_id, "content": s.content, "dependencies": list(s.dependencies)}
                         for s in plan.subtasks]}, msg_id=f"ev:{task_id}:plan:0")
        await self.channel.to_coordinator(channel_pb2.CoordinatorMessage(task_id=task_id, plan=plan),
                                          msg_id=f"plan:{task_id}:0")

    async def _replan(self, task_id: str, request: channel_pb2.ReplanRequest) -> None:
        plan, messages = await self.planner.replan(task_id, request, await self.registry.workers(),
                                                    self._temperature)
        await self.channel.emit(task_id, "plan.replanned", f"{request.failed_subtask_id} → {len(plan.subtasks)} subtasks",
                                subtask_id=request.failed_subtask_id, data={
            "planner_messages": messages, "planner_output": plan.planner_output,
            "subtasks": [{"id": s.subtask_id, "content": s.content, "dependencies": list(s.dependencies)}
                         for s in plan.subtasks]}, msg_id=f"ev:{task_id}:plan:{request.plan_version}")
        await self.channel.to_coordinator(channel_pb2.CoordinatorMessage(task_id=task_id, plan=plan),
                                          msg_id=f"plan:{task_id}:{request.plan_version}")

    async def _synthesize(self, task_id: str, request: channel_pb2.SynthesizeRequest) -> None:
        final, messages = await self.planner.synthesize(task_id, request, self._temperature)
        await self.channel.emit(task_id, "answer.created", final.answer[:500], data={
            "planner_messages": messages, "planner_output": final.planner_output},
            msg_id=f"ev:{task_id}:answer")
        await self.channel.to_coordinator(channel_pb2.CoordinatorMessage(task_id=task_id, final_answer=final),
                                          msg_id=f"final:{task_id}")


def _safe_temperature(metadata) -> float | None:
    try:
        return temperature_of(metadata)
    except ValueError:
        return None  # the gateway validates it; an old record with a bad value uses the default
