"""What the runner needs from the Workforce gateway, over either transport, in one shape (the transports are
gateway_http.py and gateway_grpc.py; connect.py picks one).

Events and task records are normalized from the protobuf JSON mapping (camelCase or snake_case keys,
enum names such as TASK_STATUS_SUCCEEDED) to plain dicts: event `{seq, type, subtask_id, message, data,
status, time, source}`, task `{task_id, status, answer, failure_reason, usage, replans, ...}` where
status is `succeeded` / `failed` / `cancelled` / `running` / … .
"""

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol

TERMINAL_EVENTS = ("task.succeeded", "task.failed", "task.cancelled")
TERMINAL_STATUSES = ("succeeded", "failed", "cancelled")


class TransportError(Exception):
    """The gateway could not be reached or the connection broke; the call may be retried."""


class GatewayError(Exception):
    """The gateway answered with an error (bad request, auth, unknown task); retrying will not help."""


class AuthError(GatewayError):
    """The gateway refused the API key (HTTP 401 / 403, gRPC UNAUTHENTICATED / PERMISSION_DENIED)."""


@dataclass
class Submission:
    question: str
    answer_format: str
    idempotency_key: str
    metadata: dict[str, str]
    timeout_s: int
    files: list[Path]


class Gateway(Protocol):
    async def check(self) -> None: ...  # one cheap authenticated call
    async def submit(self, submission: Submission) -> tuple[str, bool]: ...  # task id, created (not an earlier one)
    def events(self, task_id: str, from_seq: int = 0) -> AsyncIterator[dict]: ...
    async def get(self, task_id: str) -> dict: ...
    async def plan(self, task_id: str) -> dict: ...
    async def close(self) -> None: ...


def _get(d: dict, snake: str, default=None):
    camel = snake.split("_")[0] + "".join(p.title() for p in snake.split("_")[1:])
    if snake in d:
        return d[snake]
    return d.get(camel, default)


def status_name(value) -> str:
    """TASK_STATUS_SUCCEEDED / 5 / 'succeeded' → 'succeeded'."""
    names = {
        0: "unspecified",
        1: "queued",
        2: "planning",
        3: "running",
        4: "synthesizing",
        5: "succeeded",
        6: "failed",
        7: "cancelled",
    }
    if isinstance(value, int):
        return names.get(value, str(value))
    text = str(value or "").lower()
    return text.removeprefix("task_status_") or "unspecified"


def normalize_event(raw: dict) -> dict:
    return {
        "seq": int(_get(raw, "seq", 0) or 0),
        "type": _get(raw, "type", ""),
        "subtask_id": _get(raw, "subtask_id", ""),
        "message": _get(raw, "message", ""),
        "data": _get(raw, "data", None) or {},
        "status": status_name(_get(raw, "status", "")) if _get(raw, "status") else "",
        "time": _get(raw, "time", ""),
        "source": _get(raw, "source", ""),
    }


def epoch_seconds(value) -> float | None:
    """An RFC 3339 timestamp of the protobuf JSON mapping (nanoseconds allowed) → seconds since the epoch."""
    if not value:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", str(value)).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def normalize_task(raw: dict) -> dict:
    usage = {}
    for role, u in (_get(raw, "usage", None) or {}).items():
        usage[role] = {k: int(_get(u, k, 0) or 0) for k in ("prompt_tokens", "completion_tokens", "requests")}
    return {
        "task_id": _get(raw, "task_id", ""),
        "status": status_name(_get(raw, "status", "")),
        "answer": _get(raw, "answer", ""),
        "failure_reason": _get(raw, "failure_reason", ""),
        "usage": usage,
        "replans": int(_get(raw, "replans", 0) or 0),
        "subtasks_total": int(_get(raw, "subtasks_total", 0) or 0),
        "subtasks_done": int(_get(raw, "subtasks_done", 0) or 0),
        "metadata": _get(raw, "metadata", None) or {},
        "created_at": epoch_seconds(_get(raw, "created_at")),
        "updated_at": epoch_seconds(_get(raw, "updated_at")),
    }
