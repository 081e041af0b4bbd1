"""Helpers of the document and code worker tests (the fixtures are in worker_support.py)."""

import hashlib
import tempfile
import time
from pathlib import Path

from workforce.core.config import Settings
from workforce.v1 import common_pb2
from workforce.workers.tools import ToolContext


async def attach(channel, task_id: str, name: str, data: bytes, media_type: str = "") -> common_pb2.FileRef:
    """Store a file as the gateway does for an attached file, and return its reference."""
    key = f"{task_id}/in/{name}"
    await channel.files.put(key, data)
    return common_pb2.FileRef(
        name=name,
        object_key=key,
        size=len(data),
        media_type=media_type,
        sha256=hashlib.sha256(data).hexdigest(),
    )


def make_context(channel, settings: Settings, files=(), task_id: str = "", worker_type: str = "document"):
    task_id = task_id or f"t-{time.time_ns()}"
    return ToolContext(
        task_id=task_id,
        subtask_id="1",
        attempt_id=f"{task_id}/1/1",
        worker_type=worker_type,
        settings=settings,
        workdir=Path(tempfile.mkdtemp(prefix="wf-test-")),
        files=list(files),
        channel=channel,
    )


def task_events(system, task_id: str) -> list[dict]:
    return system.events(task_id, timeout=120)


def tool_calls(events: list[dict], tool: str) -> list[dict]:
    return [
        e.get("data", {})
        for e in events
        if e["type"] == "tool.call" and e.get("data", {}).get("tool") == tool
    ]
