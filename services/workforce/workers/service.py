"""The Worker gRPC service of a worker replica: Describe for operators, Run for direct (channel-less) use."""

import grpc

from ..v1 import channel_pb2, worker_pb2_grpc


class WorkerServicer(worker_pb2_grpc.WorkerServicer):
    def __init__(self, runtime):
        self.runtime = runtime

    async def Describe(self, request, context):
        return self.runtime.info()

    async def Run(self, request: channel_pb2.WorkItem, context):
        if not request.task_id or not request.subtask:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "task_id and subtask are required")
        if not request.attempt_id:
            request.attempt_id = f"{request.task_id}/{request.subtask_id or 'direct'}/1"
        outcome = await self.runtime.execute(request)
        if outcome is None:
            await context.abort(grpc.StatusCode.CANCELLED, "the task was cancelled")
        return self.runtime.result(request, outcome)
