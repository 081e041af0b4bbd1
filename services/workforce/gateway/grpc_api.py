"""The public gRPC `workforce.v1.Workforce` service."""

import grpc
from google.protobuf.message import DecodeError

from ..core.metrics import API_REQUESTS
from ..v1 import gateway_pb2, gateway_pb2_grpc
from .approvals import ApprovalService, Decision
from .auth import ApiKeys, key_from_headers
from .errors import ApiError
from .tasks import Submission, TaskService

SERVICE = gateway_pb2.DESCRIPTOR.services_by_name["Workforce"]
PUBLIC_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


class _Malformed:
    def __init__(self, error: str):
        self.error = error


def _lenient(parse):
    """A deserializer that turns undecodable bytes into a value the handler rejects with INVALID_ARGUMENT
    (grpc would answer INTERNAL for a deserializer exception)."""
    def deserialize(data: bytes):
        try:
            return parse(data)
        except (DecodeError, RuntimeWarning, ValueError) as exc:
            return _Malformed(str(exc) or "malformed protobuf")
    return deserialize


class AuthInterceptor(grpc.aio.ServerInterceptor):
    def __init__(self, keys: ApiKeys):
        self.keys = keys

    async def intercept_service(self, continuation, details):
        if details.method.startswith(PUBLIC_PREFIXES):
            return await continuation(details)
        metadata = dict(details.invocation_metadata or ())
        try:
            self.keys.check(key_from_headers(metadata.get("authorization"), metadata.get("x-api-key")))
        except ApiError as exc:
            API_REQUESTS.labels("grpc", details.method.rsplit("/", 1)[-1], "unauthenticated").inc()
            return _deny(exc.message, details)
        return await continuation(details)


def _deny(message: str, details):
    async def unary(request, context):
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    async def stream(request, context):
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)
        yield  # pragma: no cover

    if details.method.endswith("/WatchTask"):
        return grpc.unary_stream_rpc_method_handler(stream)
    return grpc.unary_unary_rpc_method_handler(unary)


class WorkforceServicer(gateway_pb2_grpc.WorkforceServicer):
    def __init__(self, tasks: TaskService, keys: ApiKeys):
        self.tasks = tasks
        self.keys = keys
        self.approvals = ApprovalService(tasks)

    async def _call(self, name: str, context, request, fn):
        if isinstance(request, _Malformed):
            API_REQUESTS.labels("grpc", name, "invalid").inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: {request.error}")
        try:
            result = await fn()
        except ApiError as exc:
            API_REQUESTS.labels("grpc", name, exc.code).inc()
            await context.abort(exc.grpc_code, exc.message)
        API_REQUESTS.labels("grpc", name, "ok").inc()
        return result

    def _owner(self, context) -> str:
        metadata = dict(context.invocation_metadata() or ())
        return self.keys.check(key_from_headers(metadata.get("authorization"), metadata.get("x-api-key")))

    async def SubmitTask(self, request, context):
        async def run():
            sub = Submission(question=request.question, answer_format=request.answer_format,
                             idempotency_key=request.idempotency_key,
                             files=[(f.name, f.data, f.media_type) for f in request.files],
                             metadata=dict(request.metadata), timeout_s=request.timeout_s,
                             review_plan=request.review_plan, review_replans=request.review_replans)
            record, created = await self.tasks.submit(sub, self._owner(context))
            return gateway_pb2.SubmitTaskResponse(task_id=record.task_id, created=created, task=record)
        return await self._call("SubmitTask", context, request, run)

    async def GetTask(self, request, context):
        return await self._call("GetTask", context, request, lambda: self.tasks.get(request.task_id))

    async def ListTasks(self, request, context):
        async def run():
            return gateway_pb2.ListTasksResponse(tasks=await self.tasks.list_tasks(request.limit, request.status))
        return await self._call("ListTasks", context, request, run)

    async def CancelTask(self, request, context):
        return await self._call("CancelTask", context, request,
                                lambda: self.tasks.cancel(request.task_id, request.reason))

    async def GetPlan(self, request, context):
        return await self._call("GetPlan", context, request, lambda: self.tasks.plan(request.task_id))

    async def ApprovePlan(self, request, context):
        async def run():
            edits = [{"id": s.subtask_id, "content": s.content, "worker_type": s.worker_type,
                      "dependencies": list(s.dependencies)} for s in request.subtasks] or None
            version = request.plan_version if request.HasField("plan_version") else None
            return await self.approvals.decide(request.task_id, self._owner(context), Decision(
                approve=True, plan_version=version, subtasks=edits, reason=request.comment, via="grpc"))
        return await self._call("ApprovePlan", context, request, run)

    async def RejectPlan(self, request, context):
        async def run():
            version = request.plan_version if request.HasField("plan_version") else None
            return await self.approvals.decide(request.task_id, self._owner(context), Decision(
                approve=False, plan_version=version, reason=request.reason, via="grpc"))
        return await self._call("RejectPlan", context, request, run)

    async def ListWorkers(self, request, context):
        async def run():
            pools, instances = await self.tasks.workers()
            return gateway_pb2.ListWorkersResponse(pools=pools, instances=instances)
        return await self._call("ListWorkers", context, request, run)

    async def WatchTask(self, request, context):
        if isinstance(request, _Malformed):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: {request.error}")
        try:
            async for event in self.tasks.watch(request.task_id, request.from_seq):
                yield event
        except ApiError as exc:
            await context.abort(exc.grpc_code, exc.message)
        API_REQUESTS.labels("grpc", "WatchTask", "ok").inc()


def add_to_server(servicer: WorkforceServicer, server) -> None:
    """Like the generated add_WorkforceServicer_to_server, with deserializers that reject malformed input cleanly."""
    handlers = {}
    for method in SERVICE.methods:
        request_cls = getattr(gateway_pb2, method.input_type.name, None) or _message_class(method.input_type)
        factory = grpc.unary_stream_rpc_method_handler if method.server_streaming else grpc.unary_unary_rpc_method_handler
        handlers[method.name] = factory(getattr(servicer, method.name),
                                        request_deserializer=_lenient(request_cls.FromString),
                                        response_serializer=lambda m: m.SerializeToString())
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE.full_name, handlers),))


def _message_class(descriptor):
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(descriptor)
