"""The workforce.v1.Sandbox gRPC service: one run per call, at most `concurrency` at once, others wait."""

import asyncio
import logging
import math
import time

import grpc
from prometheus_client import Counter, Histogram

from ..v1 import sandbox_pb2, sandbox_pb2_grpc
from .limits import SandboxSettings
from .runner import Sandbox
from .workspace import BadRequest, Workspace, scrub

log = logging.getLogger(__name__)

RUNS = Counter("workforce_sandbox_runs_total", "Sandboxed runs by outcome", ["outcome"])
RUN_SECONDS = Histogram("workforce_sandbox_run_seconds", "Wall time of sandboxed runs",
                        buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300))
LANGUAGES = ("python", "shell")


class SandboxServicer(sandbox_pb2_grpc.SandboxServicer):
    def __init__(self, sandbox: Sandbox, settings: SandboxSettings):
        self.sandbox = sandbox
        self.settings = settings
        self.slots = asyncio.Semaphore(sandbox.concurrency)

    async def Describe(self, request, context):
        s = self.settings
        return sandbox_pb2.SandboxInfo(
            isolation=self.sandbox.isolation, network=s.code_network, syscall_filter=self.sandbox.syscall_filter,
            own_uid=self.sandbox.drop_uid, concurrency=self.sandbox.concurrency, wall_s=s.code_wall_s,
            cpu_s=s.code_cpu_s, memory_mb=s.code_memory_mb,
        )

    async def Run(self, request: sandbox_pb2.SandboxRunRequest, context):
        problem = self._invalid(request)
        if problem:
            RUNS.labels("invalid").inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        try:
            await asyncio.wait_for(self.slots.acquire(), self.settings.sandbox_queue_timeout_s)
        except asyncio.TimeoutError:
            RUNS.labels("busy").inc()
            await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                                f"every sandbox slot stayed busy for {self.settings.sandbox_queue_timeout_s:g} s")
        try:
            return await self._run(request, context)
        finally:
            self.slots.release()

    def _invalid(self, request: sandbox_pb2.SandboxRunRequest) -> str:
        if request.language not in LANGUAGES:
            return f"language must be one of {', '.join(LANGUAGES)}, not {request.language[:40]!r}"
        if not request.source.strip():
            return "source is empty"
        if not math.isfinite(request.timeout_s) or request.timeout_s < 0:
            return "timeout_s must be a finite number of seconds, 0 or more"
        size = request.ByteSize()
        if size > self.settings.sandbox_max_request_bytes:
            return f"the request is {size} bytes, over the limit of {self.settings.sandbox_max_request_bytes}"
        return ""

    async def _run(self, request, context) -> sandbox_pb2.SandboxRunResult:
        started = time.perf_counter()
        try:
            space = await asyncio.to_thread(Workspace.create, self.settings, request.files)
        except BadRequest as exc:
            RUNS.labels("invalid").inc()
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        try:
            run = await self.sandbox.run(request.language, request.source, space.workdir,
                                         request.timeout_s or None)
            result = sandbox_pb2.SandboxRunResult(
                signal=run.signal or 0, stdout=run.stdout, stderr=run.stderr, duration_s=run.duration_s,
                isolation=run.isolation, errors=run.errors,
            )
            if run.exit_code is not None:
                result.exit_code = run.exit_code
            if run.first_output_s is not None:
                result.first_output_s = run.first_output_s
            await asyncio.to_thread(space.collect, self.settings, result)
        finally:
            await asyncio.to_thread(space.remove)
            if not self.sandbox.drop_uid and not self.sandbox.namespaces:
                await asyncio.to_thread(scrub, self.settings.sandbox_scrub_dirs)
        RUNS.labels("limit" if run.errors else "ok" if run.exit_code == 0 else "error").inc()
        RUN_SECONDS.observe(time.perf_counter() - started)
        log.info("run %s: %s in %.2f s (%s)%s", request.run_id or "-", request.language, run.duration_s,
                 run.isolation, f"; {'; '.join(run.errors)}" if run.errors else f"; exit {run.exit_code}")
        return result
