"""Entry point of a role-model service: `workforce-service role-<role>`."""

from functools import partial

from ..core.grpc_server import GrpcServer
from ..core.llm import make_llm
from ..core.runtime import run_service
from ..v1 import role_model_pb2, role_model_pb2_grpc
from ..core.toollearning.backend import RoleBackend
from ..core.toollearning.generator import ROLES, RoleGenerator
from ..core.toollearning.settings import RoleSettings
from .service import RoleModelServicer


def main(role: str) -> None:
    if role not in ROLES:
        raise SystemExit(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    run_service(f"role-{role}", partial(serve, role=role))


async def serve(settings, stop, role: str, on_ready=None) -> None:
    role_settings = RoleSettings(**settings.model_dump())
    backend = RoleBackend(role_settings, make_llm(role_settings))
    server = GrpcServer(role_settings.bind_host, role_settings.grpc_port)
    server.add(
        role_model_pb2_grpc.add_RoleModelServicer_to_server,
        RoleModelServicer(role, RoleGenerator(role_settings, backend)),
        role_model_pb2.DESCRIPTOR.services_by_name["RoleModel"].full_name,
    )
    port = await server.start()
    if on_ready:
        on_ready(port)
    await stop.wait()
    await server.stop()
    await backend.close()
