"""The public gRPC `workforce.v1.Workforce` service. Every method sees only the caller's own tasks (see tenancy.py);
quota and channel errors carry a `retry-after` trailing metadata entry (seconds)."""

import grpc
from google.protobuf.message import DecodeError, Message

from ..core import tracing
from ..core.channel.events import for_grpc
from ..v1 import common_pb2, gateway_pb2, gateway_pb2_grpc
from .approvals import ApprovalService, Decision
from .metrics import API_REQUESTS
from .proto_json import public_message
from .tool_approvals import ToolApprovalService
from .errors import CHANNEL_ERRORS, ApiError, InvalidInput, channel_unavailable
from .tasks import Submission, TaskService
from .tenancy import Caller, Tenancy

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
    def __init__(self, tenancy: Tenancy):
        self.tenancy = tenancy

    async def intercept_service(self, continuation, details):
        if details.method.startswith(PUBLIC_PREFIXES):
            return await continuation(details)
        try:
            self.tenancy.caller_from_metadata(details.invocation_metadata)
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


def _checked(request):
    """What the HTTP API refuses by its parameters' bounds, refused here too (INVALID_ARGUMENT): a request naming a
    task must name one, and a listing's limit and status must be ones that exist (0 is unset: the defaults)."""
    if "task_id" in type(request).DESCRIPTOR.fields_by_name and not request.task_id:
        raise InvalidInput("task_id is required")
    return request


def _check_listing(request: gateway_pb2.ListTasksRequest, limit_max: int) -> None:
    if not 0 <= request.limit <= limit_max:
        raise InvalidInput(f"limit must be 1 to {limit_max} (0: the default, 50), not {request.limit}")
    if request.status not in common_pb2.TaskStatus.values():
        raise InvalidInput(f"status {request.status} is not a TaskStatus")


async def _abort(context, error: ApiError):
    if error.retry_after:
        context.set_trailing_metadata((("retry-after", str(error.retry_after)),))
    await context.abort(error.grpc_code, error.message)


class WorkforceServicer(gateway_pb2_grpc.WorkforceServicer):
    def __init__(self, tasks: TaskService, tenancy: Tenancy):
        self.tasks = tasks
        self.tenancy = tenancy
        self.approvals = ApprovalService(tasks)
        self.tool_approvals = ToolApprovalService(self.approvals)

    async def _call(self, name: str, context, request, fn):
        if isinstance(request, _Malformed):
            API_REQUESTS.labels("grpc", name, "invalid").inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed request: {request.error}")
        try:
            caller = self._caller(context)
            _checked(request)
            self.tasks.ensure_connected()
            result = await fn(caller)
        except ApiError as exc:
            error = exc
        except CHANNEL_ERRORS as exc:
            error = channel_unavailable(exc)
        else:
            API_REQUESTS.labels("grpc", name, "ok").inc()
            return public_message(result) if isinstance(result, Message) else result   # as HTTP shows them
        API_REQUESTS.labels("grpc", name, error.code).inc()
        await _abort(context, error)

    def _caller(self, context) -> Caller:
        return self.tenancy.caller_from_metadata(context.invocation_metadata())

    async def SubmitTask(self, request, context):
        async def run(caller):
            sub = Submission(question=request.question, answer_format=request.answer_format,
                             idempotency_key=request.idempotency_key,
                             files=[(f.name, f.data, f.media_type) for f in request.files],
                             metadata=dict(request.metadata), timeout_s=request.timeout_s,
                             review_plan=request.review_plan, review_replans=request.review_replans,
                             token_budget=request.token_budget)
            record, created = await self.tasks.submit(sub, caller)
            return gateway_pb2.SubmitTaskResponse(task_id=record.task_id, created=created, task=record)
        with tracing.remote_parent(dict(context.invocation_metadata() or ())):  # a caller's traceparent
            return await self._call("SubmitTask", context, request, run)

    async def GetTask(self, request, context):
        return await self._call("GetTask", context, request, lambda caller: self.tasks.get(caller, request.task_id))

    async def ListTasks(self, request, context):
        async def run(caller):
            _check_listing(request, self.tasks.settings.list_limit_max)
            records, token = await self.tasks.list_tasks(caller, request.limit, request.status, request.page_token)
            return gateway_pb2.ListTasksResponse(tasks=records, next_page_token=token)
        return await self._call("ListTasks", context, request, run)

    async def CancelTask(self, request, context):
        return await self._call("CancelTask", context, request,
                                lambda caller: self.tasks.cancel(caller, request.task_id, request.reason))

    async def GetPlan(self, request, context):
        return await self._call("GetPlan", context, request, lambda caller: self.tasks.plan(caller, request.task_id))

    async def ApprovePlan(self, request, context):
        async def run(caller):
            edits = [{"id": s.subtask_id, "content": s.content, "worker_type": s.worker_type,
                      "dependencies": list(s.dependencies)} for s in request.subtasks] or None
            version = request.plan_version if request.HasField("plan_version") else None
            return await self.approvals.decide(caller, request.task_id, Decision(
                approve=True, plan_version=version, subtasks=edits, reason=request.comment, via="grpc"))
        return await self._call("ApprovePlan", context, request, run)

    async def RejectPlan(self, request, context):
        async def run(caller):
            version = request.plan_version if request.HasField("plan_version") else None
            return await self.approvals.decide(caller, request.task_id, Decision(
                approve=False, plan_version=version, reason=request.reason, via="grpc"))
        return await self._call("RejectPlan", context, request, run)

    async def ListToolCalls(self, request, context):
        async def run(caller):
            return gateway_pb2.ListToolCallsResponse(calls=await self.tool_approvals.calls(caller, request.task_id))
        return await self._call("ListToolCalls", context, request, run)

    async def DecideToolCall(self, request, context):
        return await self._call("DecideToolCall", context, request, lambda caller: self.tool_approvals.decide(
            caller, request.task_id, request.call_id, request.approve, request.reason, via="grpc"))

    async def ListWorkers(self, request, context):
        async def run(caller):
            pools, instances = await self.tasks.workers()
            return gateway_pb2.ListWorkersResponse(pools=pools, instances=instances)
        return await self._call("ListWorkers", context, request, run)

    async def WatchTask(self, request, context):
        async def open_watch(caller):
            return await self.tasks.open_watch(caller, request.task_id, request.from_seq)

        watch = await self._call("WatchTask", context, request, open_watch)
        try:
            async for event in watch:
                yield for_grpc(event)
        except CHANNEL_ERRORS as exc:
            API_REQUESTS.labels("grpc", "WatchTask", "unavailable").inc()
            await _abort(context, channel_unavailable(exc))


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
