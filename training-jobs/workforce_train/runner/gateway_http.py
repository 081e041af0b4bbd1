"""The gateway's HTTP API with httpx: POST /v1/tasks (JSON) or /v1/tasks/upload (multipart with files),
GET /v1/tasks/{id}, GET /v1/tasks/{id}/events?from_seq=N as Server-Sent Events (httpx-sse)."""

import json
import mimetypes
from collections.abc import AsyncIterator

import httpx
from httpx_sse import aconnect_sse

from .gateway import AuthError, GatewayError, Submission, TransportError, normalize_event, normalize_task

# Answers that mean "the gateway (or a proxy in front of it) cannot take the call right now".
_UNAVAILABLE = (429, 502, 503, 504)


def _raise_for(response: httpx.Response, what: str) -> None:
    if response.status_code < 400:
        return
    try:
        detail = response.json()
    except ValueError:
        detail = response.text[:500]
    message = f"{what}: HTTP {response.status_code}: {detail}"
    if response.status_code in _UNAVAILABLE:
        raise TransportError(message)
    if response.status_code in (401, 403):
        raise AuthError(message)
    raise GatewayError(message)


class HttpGateway:
    def __init__(self, base_url: str, *, api_key: str = "", timeout_s: float = 60.0):
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # reads on the event stream wait as long as a task may stay silent
        timeout = httpx.Timeout(timeout_s, connect=min(10.0, timeout_s))
        self.client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    async def check(self) -> None:
        """GET /v1/me: reachable, and the API key accepted."""
        try:
            response = await self.client.get("/v1/me")
        except httpx.TransportError as exc:
            raise TransportError(f"GET /v1/me: {exc!r}") from exc
        _raise_for(response, "GET /v1/me")

    async def submit(self, s: Submission) -> tuple[str, bool]:
        body = {"question": s.question, "idempotency_key": s.idempotency_key, "metadata": s.metadata}
        if s.answer_format:
            body["answer_format"] = s.answer_format
        if s.timeout_s:
            body["timeout_s"] = s.timeout_s
        try:
            if s.files:
                form = {k: (json.dumps(v) if isinstance(v, dict) else str(v)) for k, v in body.items()}
                files = [
                    (
                        "files",
                        (
                            p.name,
                            p.read_bytes(),
                            mimetypes.guess_type(p.name)[0] or "application/octet-stream",
                        ),
                    )
                    for p in s.files
                ]
                response = await self.client.post("/v1/tasks/upload", data=form, files=files)
            else:
                response = await self.client.post("/v1/tasks", json=body)
        except httpx.TransportError as exc:
            raise TransportError(f"submit: {exc!r}") from exc
        _raise_for(response, "submit")
        body = response.json()
        return body["task_id"], bool(body.get("created", True))

    async def events(self, task_id: str, from_seq: int = 0) -> AsyncIterator[dict]:
        try:
            async with aconnect_sse(
                self.client, "GET", f"/v1/tasks/{task_id}/events", params={"from_seq": from_seq}
            ) as source:
                if source.response.status_code >= 400:
                    await source.response.aread()
                    _raise_for(source.response, f"events of {task_id}")
                async for sse in source.aiter_sse():
                    if not sse.data.strip():
                        continue
                    try:
                        yield normalize_event(json.loads(sse.data))
                    except json.JSONDecodeError as exc:
                        raise GatewayError(
                            f"events of {task_id}: invalid event JSON {sse.data[:200]!r}"
                        ) from exc
        except httpx.TransportError as exc:
            raise TransportError(f"events of {task_id}: {exc!r}") from exc

    async def get(self, task_id: str) -> dict:
        try:
            response = await self.client.get(f"/v1/tasks/{task_id}")
        except httpx.TransportError as exc:
            raise TransportError(f"get {task_id}: {exc!r}") from exc
        _raise_for(response, f"get {task_id}")
        return normalize_task(response.json())

    async def plan(self, task_id: str) -> dict:
        try:
            response = await self.client.get(f"/v1/tasks/{task_id}/plan")
        except httpx.TransportError as exc:
            raise TransportError(f"plan of {task_id}: {exc!r}") from exc
        _raise_for(response, f"plan of {task_id}")
        return response.json()

    async def close(self) -> None:
        await self.client.aclose()
