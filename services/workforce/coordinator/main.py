"""Entry point: `workforce-service coordinator`."""

import asyncio

from ..core.channel import connect
from ..core.grpc_server import GrpcServer
from ..core.llm import make_llm
from ..core.runtime import run_service
from .engine import Coordinator
from .consumers import CoordinatorConsumers


async def serve(settings, stop: asyncio.Event) -> None:
    channel = await connect(settings)
    consumers = CoordinatorConsumers(Coordinator(channel, make_llm(settings), settings), settings.control_concurrency)
    server = GrpcServer(settings.bind_host, settings.grpc_port)  # health + reflection only
    await server.start()
    cancels = await consumers.inflight.subscribe(channel.nc)
    loops = [asyncio.create_task(consumers.inbox.run(stop)), asyncio.create_task(consumers.dead_letters.run(stop)),
             asyncio.create_task(consumers.sweep(stop))]
    await stop.wait()
    await asyncio.gather(*loops, return_exceptions=True)
    await cancels.unsubscribe()
    await server.stop()
    await channel.close()


def main() -> None:
    run_service("coordinator", serve)
