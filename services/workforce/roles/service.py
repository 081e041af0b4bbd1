"""The gRPC RoleModel servicer: one role per process (`workforce-service role-<role>`)."""

import logging

import grpc

from ..core.llm.client import LLMError
from ..v1 import role_model_pb2 as pb
from ..v1 import role_model_pb2_grpc
from ..core.toollearning.convert import request_from_proto, result_to_proto
from ..core.toollearning.generator import FAMILIES, RoleGenerator
from ..core.toollearning.messages import RoleOutputError
from .metrics import ROLE_ATTEMPTS, ROLE_REQUESTS

log = logging.getLogger(__name__)
MAX_REQUEST_CHARS = 2_000_000


class RoleModelServicer(role_model_pb2_grpc.RoleModelServicer):
    def __init__(self, role: str, generator: RoleGenerator):
        self.role = role
        self.generator = generator

    async def Generate(self, request: pb.GenerateRequest, context) -> pb.GenerateResponse:
        if request.role and request.role != self.role:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"this service serves the {self.role!r} role, not {request.role!r}",
            )
        if request.ByteSize() > MAX_REQUEST_CHARS:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "request too large")
        role_request = request_from_proto(request)
        role_request.role = self.role
        family = role_request.family or self.generator.settings.role_prompt_family
        family = family if family in FAMILIES else "unknown"  # a bounded label set
        outcome = "error"
        try:
            result = await self.generator.generate(role_request)
            outcome = "ok"
        except ValueError as exc:
            outcome = "bad_request"
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except RoleOutputError as exc:
            outcome = "invalid_output"
            # the last raw output travels in trailing metadata, for evaluation and debugging
            context.set_trailing_metadata(
                (("wf-raw-output-bin", exc.last_output.encode()), ("wf-attempts", str(exc.attempts)))
            )
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(exc))
        except LLMError as exc:
            outcome = "backend_error"
            await context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        finally:
            ROLE_REQUESTS.labels(self.role, family, outcome).inc()
        ROLE_ATTEMPTS.labels(self.role).observe(result.attempts)
        return result_to_proto(result)
