"""Server-Sent Events (text/event-stream): a task's events written to the HTTP response as they come.

A plain StreamingResponse. sse-starlette ran a sender, a ping timer and a shutdown poller per stream and cost ~0.8 ms
of CPU per stream; here the event hub puts a keepalive on every stream (one timer per gateway, `event_hub.py`) and
ends every stream when the gateway stops (a client resumes with Last-Event-ID)."""

from collections.abc import AsyncIterator

from starlette.responses import StreamingResponse

KEEPALIVE = b": ping\r\n\r\n"   # a comment line: keeps proxies from closing an idle stream
HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}   # no proxy buffering


def frame(event: str, data: str, id: str | None = None, retry_ms: int | None = None) -> bytes:
    """One event in the wire format; a multi-line `data` becomes one `data:` line per line."""
    lines = [f"id: {id}"] if id is not None else []
    lines.append(f"event: {event}")
    if retry_ms is not None:
        lines.append(f"retry: {int(retry_ms)}")
    lines.extend(f"data: {line}" for line in data.splitlines() or [""])
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


class EventStream(StreamingResponse):
    # The media type is set per response, not on the class: FastAPI would document the route's JSON errors with it.
    def __init__(self, frames: AsyncIterator[bytes], status_code: int = 200):   # OpenAPI reads status_code's default
        super().__init__(frames, status_code=status_code, headers=HEADERS, media_type="text/event-stream")
