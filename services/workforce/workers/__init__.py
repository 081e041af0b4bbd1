"""Worker runtime (consume, isolate context, heartbeat, tool-call cap) and the worker types built on it.

A worker type is a module `workforce.workers.<type>` with a function `spec(settings) -> WorkerSpec`.
"""

from .tools import Tool, ToolContext, ToolOutcome, WorkerSpec

__all__ = ["Tool", "ToolContext", "ToolOutcome", "WorkerSpec"]
