"""The default worker agent: a tool-calling loop, capped at max_tool_calls, ending in {content, failed}."""

import json
import logging
from dataclasses import dataclass, field

from ..core.config import Settings
from ..core.llm import extract_json
from ..core.llm.client import ChatResult, LLMError, UsageBook
from ..core.metrics import TOOL_CALLS
from ..core.sampling import temperature_of
from ..v1 import channel_pb2
from .prompts import RESULT_SCHEMA, WORKER_SYSTEM, subtask_prompt
from .tools import ToolContext, WorkerSpec

log = logging.getLogger(__name__)


@dataclass
class AgentOutcome:
    content: str
    failed: bool
    tool_calls: int = 0
    messages: list = field(default_factory=list)   # the full history: trajectory data, never passed on
    usage: UsageBook = field(default_factory=UsageBook)


def parse_result(text: str) -> tuple[str, bool]:
    """The worker's final answer: JSON {content, failed}; plain text counts as a success with that content."""
    try:
        value = extract_json(text)
    except ValueError:
        return text.strip(), False
    if isinstance(value, dict) and "content" in value:
        content = value["content"]
        return (content if isinstance(content, str) else json.dumps(content)), bool(value.get("failed", False))
    return text.strip(), False


class ToolCallingAgent:
    def __init__(self, llm, spec: WorkerSpec, settings: Settings):
        self.llm = llm
        self.spec = spec
        self.settings = settings
        self.tools = {t.name: t for t in spec.tools}
        self.role = f"worker:{spec.worker_type}"

    def initial_messages(self, item: channel_pb2.WorkItem) -> list[dict]:
        system = WORKER_SYSTEM.format(worker_type=self.spec.worker_type, description=self.spec.description)
        if self.spec.system_prompt:
            system += "\n\n" + self.spec.system_prompt
        return [{"role": "system", "content": system}, {"role": "user", "content": subtask_prompt(item)}]

    async def run(self, item: channel_pb2.WorkItem, ctx: ToolContext) -> AgentOutcome:
        messages = self.initial_messages(item)
        outcome = AgentOutcome("", False, messages=messages)
        specs = [t.openai_spec() for t in self.spec.tools] or None
        cap = self.settings.max_tool_calls
        executed: list[tuple[str, str, str]] = []   # (tool, arguments, result) for the capped summary
        while True:
            try:
                result: ChatResult = await self.llm.chat(
                    messages, role=self.role, task_id=item.task_id, tools=specs,
                    json_schema=None if specs else RESULT_SCHEMA, schema_name="subtask_result",
                    temperature=_temperature(ctx),
                )
            except LLMError as exc:
                outcome.content, outcome.failed = f"the model backend failed: {exc}", True
                return outcome
            outcome.usage.add(self.role, result)
            messages.append(result.assistant_message())
            if not result.tool_calls:
                outcome.content, outcome.failed = parse_result(result.content)
                return outcome
            for call in result.tool_calls:
                if outcome.tool_calls >= cap:
                    outcome.content = self._capped_summary(executed, cap)
                    outcome.failed = True
                    return outcome
                outcome.tool_calls += 1
                text = await self._call_tool(ctx, call)
                executed.append((call.name, call.arguments, text))
                messages.append({"role": "tool", "tool_call_id": call.id, "content": text})

    async def _call_tool(self, ctx: ToolContext, call) -> str:
        tool = self.tools.get(call.name)
        if tool is None:
            text, ok, duration = f"unknown tool {call.name!r}; available: {', '.join(self.tools)}", False, 0.0
        else:
            try:
                arguments = call.parsed_arguments()
            except ValueError as exc:
                text, ok, duration = f"arguments are not a JSON object: {exc}", False, 0.0
            else:
                result = await tool.run(ctx, arguments)
                text, ok, duration = result.text, result.ok, result.duration_s
        TOOL_CALLS.labels(self.spec.worker_type, call.name if tool else "unknown", "ok" if ok else "error").inc()
        await ctx.emit("tool.call", call.name, {
            "tool": call.name, "arguments": call.arguments, "ok": ok, "duration_s": duration,
            "result": text[:4000],
        })
        return text

    def _capped_summary(self, executed: list[tuple[str, str, str]], cap: int) -> str:
        """After the cap: failed, with the tool history (each result cut short) so a replan can use it."""
        limit = self.settings.tool_result_chars
        lines = [f"Stopped after {cap} tool calls without finishing. Tool history:"]
        for name, arguments, result in executed:
            lines.append(f"- call {name}({arguments[:200]})\n  → {result[:limit]}")
        return "\n".join(lines)


def _temperature(ctx: ToolContext) -> float | None:
    try:
        return temperature_of(ctx.metadata)
    except ValueError:
        return None


def make_agent(llm, spec: WorkerSpec, settings: Settings):
    return spec.make_agent(llm, spec, settings) if spec.make_agent else ToolCallingAgent(llm, spec, settings)
