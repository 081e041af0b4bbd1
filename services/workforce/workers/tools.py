"""What a worker type is made of: tools (JSON-schema'd callables with timeouts) and a spec."""

import asyncio
import hashlib
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from ..core.channel import layout
from ..core.config import Settings
from ..core.tool_budget import ToolBudgetExceeded
from ..v1 import common_pb2
from . import tool_approval


class ToolFailed(Exception):
    """Raised by a tool whose work failed with output the model should read as it is (a program that exited
    with an error): a failed call, told by that text alone."""

    def __init__(self, text: str):
        super().__init__(text)
        self.text = text


@dataclass
class ToolOutcome:
    ok: bool
    text: str
    duration_s: float = 0.0
    files: list = field(default_factory=list)  # FileRefs the tool produced
    denied: bool = False                        # a person (or the approval timeout) refused the call: it did not run


@dataclass
class ToolContext:
    """What a tool may see: its own subtask, the task's files, a private work directory."""

    task_id: str
    subtask_id: str
    attempt_id: str
    worker_type: str
    settings: Settings
    workdir: Path                                    # private to the subtask; may not exist yet (private_dir)
    files: list = field(default_factory=list)       # FileRef of the task's attached files
    channel: Any = None                              # core.channel.Channel (None when run without NATS)
    produced: list = field(default_factory=list)     # FileRefs produced during the subtask
    metadata: dict = field(default_factory=dict)     # the task's metadata (e.g. its sampling temperature)
    tool_budget: int = 0                             # tool calls allowed in this subtask; 0 = settings.max_tool_calls
    tool_history: list = field(default_factory=list) # (tool, arguments, result) of every call made
    delivery: int = 1                                # which delivery of the work item this run is
    emitted: int = 0                                 # events emitted so far (numbers their message ids)
    before_emit: Callable[[], Awaitable[None]] | None = None   # runs before the subtask's own events (its start)

    def private_dir(self) -> Path:
        """The subtask's work directory, made (mode 0700) on first use."""
        self.workdir.mkdir(mode=0o700, exist_ok=True)
        return self.workdir

    def spend_tool_call(self, name: str) -> None:
        """Count one tool call against the subtask's budget; ToolBudgetExceeded once it is spent."""
        budget = self.tool_budget or self.settings.max_tool_calls
        if len(self.tool_history) >= budget:
            raise ToolBudgetExceeded(f"the budget of {budget} tool calls is spent (next call: {name})")

    async def read_file(self, ref: common_pb2.FileRef) -> bytes:
        if self.channel is None:
            raise RuntimeError("no object store available in this context")
        result = await self.channel.files.get(ref.object_key)
        return result.data

    async def save_file(self, name: str, data: bytes, media_type: str = "application/octet-stream"):
        """Store a produced file in the object store and remember it for the subtask's result."""
        digest = hashlib.sha256(data).hexdigest()
        key = layout.output_file_key(self.task_id, self.subtask_id, digest, Path(name).name)
        if self.channel is not None and not await _stored(self.channel.files, key):
            # content-addressed: an object already stored under the key holds these bytes (and putting it again
            # would purge the old chunks, which a worker's NATS identity may not do)
            await self.channel.files.put(key, data)
        ref = common_pb2.FileRef(name=Path(name).name, object_key=key, size=len(data), media_type=media_type,
                                 sha256=digest)
        self.produced.append(ref)
        return ref

    async def ensure_started(self) -> None:
        """Before any event of the subtask's own: a subtask that says something has started, and that goes first."""
        if self.before_emit is not None:
            await self.before_emit()

    async def emit(self, type_: str, message: str = "", data: dict | None = None) -> None:
        if type_ != "subtask.started":
            await self.ensure_started()
        if self.channel is not None:
            self.emitted += 1   # the id is stable within a delivery, so a retried publish is stored once
            msg_id = f"ev:{self.task_id}:{self.attempt_id}:{self.delivery}:{self.emitted}:{type_}"
            await self.channel.emit(self.task_id, type_, message, subtask_id=self.subtask_id, data=data,
                                    msg_id=msg_id)


async def _stored(files, key: str) -> bool:
    from nats.js.errors import ObjectNotFoundError

    try:
        info = await files.get_info(key)
    except ObjectNotFoundError:
        return False
    return not info.deleted


ToolFunc = Callable[..., Awaitable[Any]]


# A subtask about a file without naming it ("Count the rows of the attached file.").
_ABOUT_A_FILE = re.compile(r"\b(attached|attachment|files?|csv|spreadsheet|document|table)\b", re.I)
_ABOUT_THE_FILES = re.compile(r"\b(list|names?|how many|which|what)\b[^.?!]*\b(files|attachments)\b", re.I)


def file_in_question(subtask: str, names: list[str]) -> str:
    """The file (of `names`) the subtask is about: one it names, else the first when it speaks of a file; ''
    when it is not about a file. A small model answers such a subtask from nothing ("New York City" as the
    largest city of a CSV it never read): the workers check that the file was read."""
    if not names:
        return ""
    named = [name for name in names if name.lower() in subtask.lower()]
    if named:
        return named[0]
    if _ABOUT_THE_FILES.search(subtask):
        return ""   # about the attachments themselves ("List the attached files."): listing them answers it
    return names[0] if _ABOUT_A_FILE.search(subtask) else ""


@dataclass
class Tool:
    """A callable the worker's model may use. `func(ctx, **arguments)` returns text (or something JSON-able)."""

    name: str
    description: str
    parameters: dict
    func: ToolFunc
    timeout_s: float = 60.0

    def openai_spec(self) -> dict:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    async def run(self, ctx: ToolContext, arguments: dict) -> ToolOutcome:
        ctx.spend_tool_call(self.name)
        outcome = await self._run(ctx, arguments)
        ctx.tool_history.append((self.name, json.dumps(arguments, ensure_ascii=False, default=str), outcome.text))
        return outcome

    async def _run(self, ctx: ToolContext, arguments: dict) -> ToolOutcome:
        started = time.perf_counter()
        try:
            jsonschema.validate(arguments, self.parameters)
        except jsonschema.ValidationError as exc:
            return ToolOutcome(False, f"invalid arguments for {self.name}: {exc.message}", 0.0)
        if tool_approval.gated(ctx.settings, ctx.worker_type, self.name):  # WF_APPROVE_TOOLS: a person decides
            denied = await tool_approval.ask(ctx, self.name, arguments)
            if denied is not None:
                return ToolOutcome(False, denied, time.perf_counter() - started, denied=True)
            started = time.perf_counter()
        try:
            value = await asyncio.wait_for(self.func(ctx, **arguments), timeout=self.timeout_s)
        except asyncio.TimeoutError:
            return ToolOutcome(False, f"{self.name} timed out after {self.timeout_s:g} s",
                               time.perf_counter() - started)
        except asyncio.CancelledError:
            raise
        except ToolFailed as exc:
            return ToolOutcome(False, exc.text, time.perf_counter() - started)
        except Exception as exc:  # a tool error is information for the model, not a worker crash
            return ToolOutcome(False, f"{self.name} failed: {type(exc).__name__}: {exc}",
                               time.perf_counter() - started)
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
        return ToolOutcome(True, text, time.perf_counter() - started)


@dataclass
class WorkerSpec:
    """A worker type: its description and tools for the registry, and how its agent is built."""

    worker_type: str
    description: str
    tools: list[Tool] = field(default_factory=list)
    system_prompt: str = ""
    requires_tool: bool = False     # an answer without any tool call is reported as failed (e.g. web: no invented facts)
    file_tools: tuple[str, ...] = ()  # tools offered only for a subtask that has files (no "no files" answers)
    # Not offered by the coordinator for a task without files or a URL in its question (it could only say so).
    needs_documents: bool = False
    # Build a custom agent (α-UMi, AutoAct); default: the tool-calling agent in workers/agent.py.
    make_agent: Callable | None = None
    start: Callable[[], Awaitable[None]] | None = None   # e.g. launch a browser
    stop: Callable[[], Awaitable[None]] | None = None
