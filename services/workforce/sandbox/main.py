"""Entry point: `workforce-service sandbox` (the sandbox executor)."""

import asyncio
import ctypes
import logging

from ..core.grpc_server import GrpcServer
from ..core.runtime import run_service
from ..v1 import sandbox_pb2, sandbox_pb2_grpc
from .limits import SandboxSettings
from .runner import Sandbox
from .service import SandboxServicer

log = logging.getLogger(__name__)

PR_SET_DUMPABLE = 4


def harden_process() -> None:
    """Not dumpable: a run sharing our uid cannot read our memory or /proc/<pid>/environ, nor attach to us.
    (The runner also makes the executor the child subreaper of its runs when they share its uid.)"""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")


async def serve(settings, stop: asyncio.Event) -> None:
    settings = SandboxSettings(**settings.model_dump())
    harden_process()
    sandbox = Sandbox(settings)
    server = GrpcServer(settings.bind_host, settings.grpc_port)
    server.add(sandbox_pb2_grpc.add_SandboxServicer_to_server, SandboxServicer(sandbox, settings),
               sandbox_pb2.DESCRIPTOR.services_by_name["Sandbox"].full_name)
    await server.start()
    log.info("sandbox executor: isolation=%s, own uid per run=%s, syscall filter=%s, %d run(s) at once",
             sandbox.isolation, sandbox.drop_uid, sandbox.syscall_filter, sandbox.concurrency)
    await stop.wait()
    await server.stop()


def main() -> None:
    run_service("sandbox", serve, event_loop="asyncio")   # spawns every run: asyncio's own subprocess handling
