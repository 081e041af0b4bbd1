"""How an agent reaches a role: over gRPC (a role service) or in-process (a RoleGenerator); `make_roles`
chooses per role from WF_TOOL_ROLE_ADDRS."""

import grpc

from ..llm.client import LLMError
from ...v1 import role_model_pb2_grpc
from .backend import RoleBackend
from .convert import request_from_proto, request_to_proto, result_from_proto
from .generator import RoleGenerator, RoleRequest, RoleResult
from .messages import RoleOutputError
from .settings import ToolSettings


class LocalRole:
    def __init__(self, generator: RoleGenerator):
        self.generator = generator

    async def generate(self, request: RoleRequest) -> RoleResult:
        # through the proto form too, so that local and remote roles see the same values
        return await self.generator.generate(request_from_proto(request_to_proto(request)))


class GrpcRole:
    def __init__(self, address: str, timeout_s: float = 300.0):
        self.address = address
        self.timeout_s = timeout_s
        self.channel = grpc.aio.insecure_channel(address)
        self.stub = role_model_pb2_grpc.RoleModelStub(self.channel)

    async def generate(self, request: RoleRequest) -> RoleResult:
        try:
            response = await self.stub.Generate(request_to_proto(request), timeout=self.timeout_s)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.FAILED_PRECONDITION:
                meta = dict(exc.trailing_metadata() or ())
                raw = meta.get("wf-raw-output-bin", b"")
                raise RoleOutputError(
                    request.role,
                    int(meta.get("wf-attempts", 0) or 0),
                    [exc.details()],
                    raw.decode() if isinstance(raw, bytes) else str(raw),
                ) from exc
            if exc.code() == grpc.StatusCode.INVALID_ARGUMENT:
                raise ValueError(f"{request.role} service rejected the request: {exc.details()}") from exc
            raise LLMError(
                f"{request.role} service at {self.address}: {exc.code().name}: {exc.details()}"
            ) from exc
        return result_from_proto(response)

    async def close(self) -> None:
        await self.channel.close()


def make_roles(settings: ToolSettings, llm, names) -> dict:
    """A gRPC client per role with an address in WF_TOOL_ROLE_ADDRS, an in-process generator otherwise."""
    addrs = settings.role_addrs()
    local = None
    roles = {}
    for name in names:
        if name in addrs:
            roles[name] = GrpcRole(
                addrs[name], timeout_s=settings.llm_timeout_s * settings.role_max_attempts + 30
            )
        else:
            local = local or LocalRole(RoleGenerator(settings, RoleBackend(settings, llm)))
            roles[name] = local
    return roles
