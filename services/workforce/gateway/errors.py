"""Errors of the public API, with their HTTP status and gRPC code (and Retry-After where retrying helps)."""

import asyncio

import grpc
import nats.errors

from ..core.channel.state import CasConflict


class ApiError(Exception):
    http_status = 400
    grpc_code = grpc.StatusCode.INVALID_ARGUMENT
    code = "invalid_argument"
    retry_after: int | None = None
    param: str | None = None      # the request field at fault (the HTTP error's `param`), where there is one
    error_type: str | None = None  # the HTTP error's `type`; None: by status (limits.ERROR_TYPES)

    def __init__(self, message: str, retry_after: int | None = None, param: str | None = None):
        super().__init__(message)
        self.message = message
        if retry_after is not None:
            self.retry_after = retry_after
        if param is not None:
            self.param = param


class InvalidInput(ApiError):
    pass


class InvalidJson(InvalidInput):
    code = "invalid_json"


class UnsupportedMediaType(ApiError):
    http_status = 415
    code = "unsupported_media_type"


class ModelNotFound(ApiError):
    """The OpenAI route's answer to a model it does not serve (OpenAI's code and type)."""
    http_status = 404
    grpc_code = grpc.StatusCode.NOT_FOUND
    code = "model_not_found"
    param = "model"
    error_type = "invalid_request_error"


class TooLarge(ApiError):
    http_status = 413
    code = "too_large"


class NotFound(ApiError):
    http_status = 404
    grpc_code = grpc.StatusCode.NOT_FOUND
    code = "not_found"


class Conflict(ApiError):
    http_status = 409
    grpc_code = grpc.StatusCode.FAILED_PRECONDITION
    code = "conflict"


class Unauthenticated(ApiError):
    http_status = 401
    grpc_code = grpc.StatusCode.UNAUTHENTICATED
    code = "unauthenticated"


class Forbidden(ApiError):
    http_status = 403
    grpc_code = grpc.StatusCode.PERMISSION_DENIED
    code = "permission_denied"


class Unavailable(ApiError):
    http_status = 503
    grpc_code = grpc.StatusCode.UNAVAILABLE
    code = "unavailable"
    retry_after = 5


class QuotaExceeded(ApiError):
    http_status = 429
    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    code = "quota_exceeded"
    retry_after = 10


# Failures of the task channel (NATS down or reconnecting, a JetStream request timing out, a key contended
# past the retry budget): the request may succeed later, so they answer 503 with Retry-After, never 500.
CHANNEL_ERRORS = (nats.errors.Error, asyncio.TimeoutError, CasConflict)


def channel_unavailable(exc: BaseException) -> Unavailable:
    return Unavailable(f"the task channel is unavailable ({type(exc).__name__}); retry shortly")
