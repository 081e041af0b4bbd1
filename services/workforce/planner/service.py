"""The planner's steps as direct gRPC calls (evaluation, trajectory synthesis, tooling)."""

import grpc

from ..v1 import planner_pb2_grpc
from .logic import Planner, PlannerFailed


class PlannerServicer(planner_pb2_grpc.PlannerServicer):
    def __init__(self, planner: Planner, registry):
        self.planner = planner
        self.registry = registry

    async def Decompose(self, call, context):
        if not call.request.question.strip():
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "question is empty")
        try:
            plan, _ = await self.planner.decompose(call.task_id, call.request, await self.registry.workers_for(
                call.request.question, bool(call.request.files)))
        except PlannerFailed as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return plan

    async def Replan(self, call, context):
        try:
            plan, _ = await self.planner.replan(call.task_id, call.request, await self.registry.workers_for(
                call.request.question, call.request.has_files))
        except PlannerFailed as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return plan

    async def Synthesize(self, call, context):
        try:
            final, _ = await self.planner.synthesize(call.task_id, call.request)
        except PlannerFailed as exc:
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        return final
