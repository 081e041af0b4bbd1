"""Entry point: `workforce-service planner`."""

import asyncio

from ..core.channel import connect
from ..core.grpc_server import GrpcServer
from ..core.llm import make_llm
from ..core.runtime import run_service
from ..v1 import planner_pb2, planner_pb2_grpc
from .consumer import PlannerConsumer
from .logic import Planner
from .service import PlannerServicer


async def serve(settings, stop: asyncio.Event) -> None:
    channel = await connect(settings)
    planner = Planner(make_llm(settings), settings)
    consumer = PlannerConsumer(planner, channel, settings.control_concurrency)
    server = GrpcServer(settings.bind_host, settings.grpc_port)
    server.add(planner_pb2_grpc.add_PlannerServicer_to_server, PlannerServicer(planner, consumer.registry),
               planner_pb2.DESCRIPTOR.services_by_name["Planner"].full_name)
    await server.start()
    cancels = await consumer.inflight.subscribe(channel.nc)
    loop = asyncio.create_task(consumer.pull.run(stop))
    await stop.wait()
    await loop
    await cancels.unsubscribe()
    await server.stop()
    await channel.close()


def main() -> None:
    run_service("planner", serve)
