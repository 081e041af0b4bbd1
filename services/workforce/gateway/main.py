"""Entry point: `workforce-service gateway` — gRPC on WF_GRPC_PORT, HTTP on WF_HTTP_PORT."""

import asyncio
import contextlib

import uvicorn
from ..core import tracing
from ..core.channel import connect
from ..core.grpc_server import GrpcServer
from ..core.runtime import run_service
from .approval_http import router as approval_router
from .approvals import ApprovalService
from .auth import ApiKeys
from .event_reader import FailureLog
from .files_http import router as files_router
from .grpc_api import AuthInterceptor, WorkforceServicer, add_to_server, SERVICE
from .http_api import build_asgi
from .observe_http import router as observe_router
from .openai_api import router as openai_router
from .tasks import TaskService
from .tool_approval_http import router as tool_approval_router
from .tool_approvals import ToolApprovalService
from .tenancy import Tenancy


async def serve(settings, stop: asyncio.Event) -> None:
    tenancy = Tenancy(ApiKeys(settings), settings)
    channel = await connect(settings)
    tasks = TaskService(channel, settings)
    await tasks.start()

    server = GrpcServer(settings.bind_host, settings.grpc_port, interceptors=[AuthInterceptor(tenancy)])
    server.add(lambda servicer, srv: add_to_server(servicer, srv), WorkforceServicer(tasks, tenancy),
               SERVICE.full_name)
    await server.start()

    failures = FailureLog(channel, tasks.hub)
    failure_log = asyncio.create_task(failures.run(stop))
    hub = asyncio.create_task(tasks.hub.run(stop))
    approvals = ApprovalService(tasks)
    app = build_asgi(tasks, tenancy, settings, extra_routers=[
        openai_router,
        lambda _tasks, caller: approval_router(approvals, caller),
        lambda _tasks, caller: tool_approval_router(ToolApprovalService(approvals), caller),
        lambda _tasks, caller: observe_router(tasks, failures, caller, auth_enabled=not tenancy.keys.disabled),
        files_router])
    app = tracing.asgi(app)  # a request's traceparent becomes the parent of its spans (tracing on only)
    http = _Server(uvicorn.Config(app, host=settings.bind_host, port=settings.http_port, log_level="warning",
                                         access_log=False, lifespan="off"))
    http_task = asyncio.create_task(http.serve())
    await stop.wait()
    http.should_exit = True
    await http_task
    await failure_log
    await hub
    await server.stop()
    await channel.close()


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service's stop event governs shutdown."""

    def capture_signals(self):
        return contextlib.nullcontext()


def main() -> None:
    run_service("gateway", serve)
