"""A minimal worker type for tests and local smoke runs; not one of the product's workers.

Tools: `add` (two numbers), `wait` (sleeps, to exercise heartbeats, cancellation and redelivery) and `save` (a text
as a file of the task's, to exercise produced files).
"""

import asyncio

from ..core.config import Settings
from .tools import Tool, WorkerSpec


async def _add(ctx, a: float, b: float) -> str:
    return repr(a + b)


async def _wait(ctx, seconds: float) -> str:
    await asyncio.sleep(seconds)
    return f"waited {seconds:g} s"


async def _save(ctx, name: str, text: str) -> str:
    ref = await ctx.save_file(name, text.encode(), "text/plain")
    return f"saved {ref.name} ({ref.size} bytes)"


def spec(settings: Settings) -> WorkerSpec:
    return WorkerSpec(
        worker_type="echo",
        description="A simple worker for tests: adds numbers and can wait.",
        tools=[
            Tool("add", "Add two numbers.", {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"], "additionalProperties": False,
            }, _add, timeout_s=5),
            Tool("wait", "Wait for some seconds.", {
                "type": "object",
                "properties": {"seconds": {"type": "number", "minimum": 0, "maximum": 600}},
                "required": ["seconds"], "additionalProperties": False,
            }, _wait, timeout_s=600),
            Tool("save", "Save a text as a file.", {
                "type": "object",
                "properties": {"name": {"type": "string", "pattern": "^[A-Za-z0-9._ -]{1,64}$"},
                               "text": {"type": "string", "maxLength": 100000}},
                "required": ["name", "text"], "additionalProperties": False,
            }, _save, timeout_s=30),
        ],
    )
