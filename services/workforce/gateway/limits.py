"""Bounds on what a request may carry, checked before anything is parsed or written.

- Bodies: FastAPI's `max_body_size` counts the bytes as they stream in (chunked bodies too) and stops at the
  limit: JSON routes get WF_MAX_JSON_BYTES, uploads WF_MAX_REQUEST_BYTES. `EarlyReject` (a pure ASGI
  middleware in front of it) answers a declared Content-Length over the largest limit, and a request
  without a valid API key, before a byte of the body is read.
- Text: no lone surrogates, no control characters (tab, newline and carriage return only where text may span
  lines).
- Event sequence numbers: within the events stream.
"""

import json
import re

from starlette.routing import Match

from .errors import ApiError, InvalidInput
from .metrics import API_REQUESTS
from .tenancy import Tenancy

SEQ_MAX = 2**63 - 1
PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json",
                          "/docs/oauth2-redirect", "/"})
PUBLIC_PREFIXES = ("/console/", "/docs-assets/")   # the web console's and the API docs' static files

_NOT_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NOT_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def check_text(field: str, value: str, multiline: bool = True, param: str | None = None) -> None:
    """InvalidInput when `value` holds a lone surrogate or a control character (`param`: the request field; by
    default `field` where that is a field's name)."""
    bad = (_NOT_IN_TEXT if multiline else _NOT_IN_NAME).search(value)
    if bad:
        raise InvalidInput(f"{field}: character U+{ord(bad.group()):04X} at position {bad.start()} is not allowed "
                           "(control characters and lone surrogates are rejected)",
                           param=param or (field if _FIELD_NAME.fullmatch(field) else None))


def check_from_seq(from_seq: int, last_seq: int, param: str = "from_seq", sent: int | None = None) -> None:
    """from_seq is 0 (from the start) or a stream sequence up to one past the last stored event. The error names
    what the client sent: `param` and its value `sent` (default from_seq; Last-Event-ID is one less). It never
    tells the stream's last sequence: that counts every tenant's events."""
    if from_seq < 0 or from_seq > SEQ_MAX:
        raise InvalidInput(f"{param} must be between 0 and {SEQ_MAX}", param=param)
    if from_seq > last_seq + 1:
        raise InvalidInput(f"{param} {from_seq if sent is None else sent} is past the end of the event stream: no "
                           "event has that sequence yet (event ids are sequences of one stream, global across "
                           "tasks: resume from an id received)", param=param)


def safe_text(message: str) -> str:
    """A message that can always be encoded as UTF-8 (error messages may quote client input)."""
    return message.encode("utf-8", "backslashreplace").decode("utf-8")


# OpenAI's error `type` by HTTP status: OpenAI clients read it (our own `code` stays beside it). Any other 4xx is
# an invalid_request_error (the client's to fix), any 5xx a server_error.
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 405: "invalid_request_error", 406: "invalid_request_error",
               409: "invalid_request_error", 413: "invalid_request_error", 415: "invalid_request_error",
               422: "invalid_request_error", 429: "rate_limit_error"}


def error_type(status: int) -> str:
    return ERROR_TYPES.get(status, "invalid_request_error" if 400 <= status < 500 else "server_error")


def shown(value: str, chars: int = 40) -> str:
    """A value from the request as an error message quotes it: at most `chars` characters of it."""
    return repr(value if len(value) <= chars else value[:chars] + "…")


def error_payload(status: int, code: str, message: str, param: str | None = None, type_: str | None = None) -> dict:
    """Every HTTP error's body: {"error": {"code", "message", "type", "param"}} (`type` by status unless given)."""
    return {"error": {"code": code, "message": safe_text(message), "type": type_ or error_type(status),
                      "param": param}}


def _route_label(scope, routes=()) -> str:
    """A request's route for the metric: the route's template (from the scope once routed, else the first of
    `routes` that matches: a request refused before routing), a public path, the static files' folder (the
    console), else "unmatched" (few values, whatever paths clients send)."""
    if (route := scope.get("route")) is not None and getattr(route, "path", None):
        return route.path
    path = scope.get("path", "")
    if path in PUBLIC_PATHS:
        return path
    for route in _flat(routes):
        if route.matches(scope)[0] is Match.FULL and getattr(route, "path", None):
            return route.path
    return next((prefix + "*" for prefix in PUBLIC_PREFIXES if path.startswith(prefix)), "unmatched")


def _flat(routes):
    """The routes, with those of an included router (FastAPI's `_IncludedRouter`, which has no path) in its place
    (the gateway includes its routers without a prefix)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        yield from _flat(included.routes) if included is not None else (route,)


class EarlyReject:
    """Pure ASGI middleware: 413 for a declared Content-Length over `max_bytes` and 401 for a request without a
    valid key, both before the body is read; and the request counter of every HTTP response."""

    def __init__(self, app, tenancy: Tenancy, max_bytes: int, max_bytes_by_path: dict[str, int] | None = None):
        self.app = app
        self.tenancy = tenancy
        self.max_bytes = max_bytes
        self.max_bytes_by_path = max_bytes_by_path or {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", ())}
        length = headers.get("content-length", "")
        limit = self.max_bytes_by_path.get(scope.get("path", ""), self.max_bytes)
        has_body = (length.isdigit() and int(length) > 0) or "transfer-encoding" in headers
        if length.isdigit() and int(length) > limit:
            return await self._reject(scope, send, 413, "too_large", f"request body over {limit} bytes", has_body)
        path = scope.get("path", "")
        if path not in PUBLIC_PATHS and not path.startswith(PUBLIC_PREFIXES):
            try:
                self.tenancy.caller(headers.get("authorization"), headers.get("x-api-key"))
            except ApiError as exc:
                return await self._reject(scope, send, exc.http_status, exc.code, exc.message, has_body, exc.param)
        status = []

        async def counting_send(message):
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            API_REQUESTS.labels("http", f"{scope.get('method')} {_route_label(scope)}",
                                str(status[0] if status else 500)).inc()

    async def _reject(self, scope, send, status: int, code: str, message: str, unread_body: bool,
                      param: str | None = None) -> None:
        route = _route_label(scope, getattr(self.app, "routes", ()))
        API_REQUESTS.labels("http", f"{scope.get('method')} {route}", str(status)).inc()
        body = json.dumps(error_payload(status, code, message, param)).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        if status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        if unread_body:  # the body was not read: the connection must not carry another request
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
