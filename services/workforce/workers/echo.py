"""A minimal worker type for tests and local smoke runs; not one of the product's workers.

Tools: `add` (two numbers) and `wait` (sleeps, to exercise heartbeats, cancellation and redelivery).
"""

import asyncio

from ..core.config import Settings
from .tools import Tool, WorkerSpec


async def _add(ctx, a: float, b: float) -> str:
    return repr(a + b)


async def _wait(ctx, seconds: float) -> str:
    await asyncio.sleep(seconds)
    return f"waited {seconds:g} s"


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
        ],
    )
