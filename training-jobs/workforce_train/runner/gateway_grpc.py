"""The gateway's gRPC API (workforce.v1.Workforce): SubmitTask, WatchTask (server stream), GetTask."""

import mimetypes
from collections.abc import AsyncIterator

import grpc
from google.protobuf.json_format import MessageToDict

from workforce.v1 import gateway_pb2, gateway_pb2_grpc

from .gateway import AuthError, GatewayError, Submission, TransportError, normalize_event, normalize_task

_RETRYABLE = (grpc.StatusCode.UNAVAILABLE,)
_AUTH = (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


def _error(exc: grpc.aio.AioRpcError, what: str) -> Exception:
    message = f"{what}: {exc.code().name}: {exc.details()}"
    if exc.code() in _RETRYABLE:
        return TransportError(message)
    if exc.code() in _AUTH:
        return AuthError(message)
    return GatewayError(message)


class GrpcGateway:
    def __init__(self, target: str, *, api_key: str = "", timeout_s: float = 60.0):
        self.channel = grpc.aio.insecure_channel(target.removeprefix("grpc://"))
        self.stub = gateway_pb2_grpc.WorkforceStub(self.channel)
        self.metadata = (("authorization", f"Bearer {api_key}"),) if api_key else ()
        self.timeout_s = timeout_s

    async def submit(self, s: Submission) -> tuple[str, bool]:
        request = gateway_pb2.SubmitTaskRequest(
            question=s.question,
            answer_format=s.answer_format,
            idempotency_key=s.idempotency_key,
            metadata=s.metadata,
            timeout_s=s.timeout_s,
            files=[
                gateway_pb2.InputFile(
                    name=p.name,
                    data=p.read_bytes(),
                    media_type=mimetypes.guess_type(p.name)[0] or "application/octet-stream",
                )
                for p in s.files
            ],
        )
        try:
            response = await self.stub.SubmitTask(request, metadata=self.metadata, timeout=self.timeout_s)
        except grpc.aio.AioRpcError as exc:
            raise _error(exc, "SubmitTask") from exc
        return response.task_id, response.created

    async def events(self, task_id: str, from_seq: int = 0) -> AsyncIterator[dict]:
        call = self.stub.WatchTask(
            gateway_pb2.WatchTaskRequest(task_id=task_id, from_seq=from_seq), metadata=self.metadata
        )
        try:
            async for event in call:
                yield normalize_event(MessageToDict(event, preserving_proto_field_name=True))
        except grpc.aio.AioRpcError as exc:
            raise _error(exc, f"WatchTask {task_id}") from exc
        finally:
            call.cancel()

    async def check(self) -> None:
        """ListWorkers: reachable, and the API key accepted."""
        try:
            await self.stub.ListWorkers(gateway_pb2.ListWorkersRequest(), metadata=self.metadata,
                                        timeout=min(10.0, self.timeout_s))
        except grpc.aio.AioRpcError as exc:
            raise _error(exc, "ListWorkers") from exc

    async def get(self, task_id: str) -> dict:
        try:
            record = await self.stub.GetTask(
                gateway_pb2.GetTaskRequest(task_id=task_id), metadata=self.metadata, timeout=self.timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise _error(exc, f"GetTask {task_id}") from exc
        return normalize_task(MessageToDict(record, preserving_proto_field_name=True))

    async def plan(self, task_id: str) -> dict:
        try:
            state = await self.stub.GetPlan(
                gateway_pb2.GetTaskRequest(task_id=task_id), metadata=self.metadata, timeout=self.timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise _error(exc, f"GetPlan {task_id}") from exc
        return MessageToDict(state, preserving_proto_field_name=True)

    async def close(self) -> None:
        await self.channel.close()
