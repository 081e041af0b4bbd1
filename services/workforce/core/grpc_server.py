"""An asyncio gRPC server with the standard health and reflection services."""

import logging
from collections.abc import Callable, Iterable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 * 1024 * 1024


class GrpcServer:
    """Wraps grpc.aio.server: register servicers, then start(); health flips to SERVING once started."""

    def __init__(self, host: str, port: int, interceptors: Iterable[grpc.aio.ServerInterceptor] = ()):
        self.server = grpc.aio.server(
            interceptors=list(interceptors),
            options=[
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ],
        )
        self.health = health.aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names: list[str] = [health_pb2.DESCRIPTOR.services_by_name["Health"].full_name]
        self.address = f"{host}:{port}"
        self.port = port

    def add(self, register: Callable, servicer, full_name: str) -> None:
        register(servicer, self.server)
        self._service_names.append(full_name)

    async def start(self) -> int:
        reflection.enable_server_reflection(self._service_names + [reflection.SERVICE_NAME], self.server)
        self.port = self.server.add_insecure_port(self.address)
        await self.server.start()
        for name in self._service_names + [""]:
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("gRPC listening on port %s", self.port)
        return self.port

    async def stop(self, grace: float = 5.0) -> None:
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
