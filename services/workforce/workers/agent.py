"""The default worker agent: a tool loop that ends in {content, failed}.

What it guarantees, whatever the model does:
- the result is structured: junk, empty text or a backend error is never a success;
- the tool-call budget (WF_MAX_TOOL_CALLS) holds: the runtime counts every call (workers/tools.py);
- repeating an identical tool call is stopped early, with feedback, then ends the subtask;
- a worker type that needs its tools (spec.requires_tool) does not answer without using one, nor when every call
  it made failed;
- a request over the model's context is asked again with the latest step alone.
"""

import json
import logging
from dataclasses import dataclass, field

from ..core.config import Settings
from ..core.llm import extract_json
from ..core.llm.client import ChatResult, LLMError, UsageBook
from ..core.metrics import TOOL_CALLS
from ..core.sampling import temperature_of
from ..v1 import channel_pb2
from .actions import StepError, action_schema, read_json_step, read_native, result_schema, tool_guide
from .prompts import (CONCLUDE_SCHEMA_NAME, JSON_MODE_RULES, WORKER_SYSTEM, conclude_messages, conclusion_schema,
                      subtask_prompt)
from .tools import ToolBudgetExceeded, ToolContext, WorkerSpec, file_in_question

log = logging.getLogger(__name__)

STEP_RETRIES = 2          # unusable steps fed back before the subtask ends as a model error
REPEATS_ALLOWED = 1       # identical calls answered with feedback before the subtask ends
RETRY_TEMPERATURE = 0.7   # sampling for a step asked again after an unusable one
HISTORY_STEPS = 4         # the latest steps sent back with each request (the trajectory keeps every step)


@dataclass
class AgentOutcome:
    content: str
    failed: bool
    tool_calls: int = 0
    messages: list = field(default_factory=list)   # the full history: trajectory data, never passed on
    usage: UsageBook = field(default_factory=UsageBook)


class ToolCallingAgent:
    def __init__(self, llm, spec: WorkerSpec, settings: Settings):
        self.llm = llm
        self.spec = spec
        self.settings = settings
        self.tools = {t.name: t for t in spec.tools}
        self.role = f"worker:{spec.worker_type}"
        self.json_mode = settings.llm_tool_mode == "json" and bool(spec.tools)

    def offered(self, item: channel_pb2.WorkItem) -> list:
        """The tools this subtask is offered: the file tools only when it has files."""
        return [t for t in self.spec.tools if t.name not in self.spec.file_tools or item.files]

    def initial_messages(self, item: channel_pb2.WorkItem, tools: list | None = None) -> list[dict]:
        system = WORKER_SYSTEM.format(worker_type=self.spec.worker_type, description=self.spec.description)
        if self.spec.system_prompt:
            system += "\n\n" + self.spec.system_prompt
        if self.json_mode:
            system += "\n\n" + JSON_MODE_RULES.format(tools=tool_guide(self.spec.tools if tools is None else tools))
        return [{"role": "system", "content": system}, {"role": "user", "content": subtask_prompt(item)}]

    async def run(self, item: channel_pb2.WorkItem, ctx: ToolContext) -> AgentOutcome:
        tools = self.offered(item)
        offered = {t.name: t for t in tools}
        messages = self.initial_messages(item, tools)
        outcome = AgentOutcome("", False, messages=messages)
        seen: dict[tuple[str, str], str] = {}    # (tool, arguments) → its result
        repeats = bad_steps = worked = 0
        # A subtask about an attached file, with tools that read one: its answer must come after a read
        readers = {t.name for t in tools if "file" in (t.parameters.get("properties") or {})}
        about = file_in_question(item.subtask, [f.name for f in item.files]) if readers else ""
        read = False
        objected: set[str] = set()   # the rules an answer was sent back for

        def objections(step) -> tuple[str, str, str] | None:
            """What keeps an answer from being a result: (the rule, what the model is told, the failed result's
            text should it answer so again). None: it is the result."""
            if step.failed:
                return None
            if self.spec.requires_tool and outcome.tool_calls == 0:
                return ("no tool", f"You answered without using a tool. Use one of your tools ({', '.join(offered)}) "
                        "to do the subtask, then answer from its result.",
                        "answered without using any tool, which this subtask needs: " + step.content[:300])
            if self.spec.requires_tool and not worked:
                # every call failed (an empty or unreadable file, a page that did not load, a program that
                # crashed): an answer now is made up, not read from a tool
                return ("no tool worked", "None of your tool calls worked, so that answer is not from a tool. Call a "
                        "tool in a way that works, or reply that the subtask failed and why.",
                        "no tool call worked; the last one said: " + last_error[:self.settings.tool_result_chars])
            if about and not read:
                return ("unread", f"You answered without reading {about}. Read it with "
                        f"{' or '.join(sorted(readers))} first, then answer from what it says.",
                        f"answered about {about} without reading it: " + step.content[:300])
            return None

        last_error = ""
        keep = HISTORY_STEPS   # steps sent back with each request: 1 once a request outgrew the model's context
        must_answer = False
        last_ok = True    # whether the last tool call worked (one agent serves several subtasks at once: keep it local)
        index = 0
        while True:
            index += 1
            # A worker type that needs its tools must call one before it may answer (tool_choice "required");
            # after a repeated call the next step must be the answer (tool_choice "none").
            must_call = self.spec.requires_tool and outcome.tool_calls == 0
            try:
                if must_answer and ctx.tool_history and not last_ok:
                    # a model asked to explain a failed call invents a cause: the tool's own error is the reason
                    return self._end(outcome, ctx.tool_history[-1][2][:self.settings.result_chars], True)
                if must_answer and self.json_mode and ctx.tool_history:
                    result = await self._conclude(item, ctx, messages)
                else:
                    choice = "required" if must_call else "none" if must_answer else None
                    window = recent_steps(messages, keep, older_chars=self.settings.tool_result_chars)
                    result = await self._ask(window, item.task_id, ctx, choice, resample=bad_steps > 0, tools=tools)
            except LLMError as exc:
                if context_overflow(exc) and keep > 1:
                    keep, index = 1, index - 1   # the same step again with the latest step alone
                    continue
                return self._end(outcome, f"model error: {exc}", True)
            outcome.usage.add(self.role, result)
            try:
                step = read_json_step(result, offered, index) if self.json_mode else read_native(result)
            except StepError as exc:
                bad_steps += 1
                messages += [{"role": "assistant", "content": result.content},
                             {"role": "user", "content": f"That reply is not usable: {exc}. Reply again."}]
                if bad_steps > STEP_RETRIES:
                    return self._end(outcome, f"model error: unusable output after {bad_steps} tries ({exc})", True)
                continue
            if step.final:
                messages.append({"role": "assistant", "content": result.content})
                objection = objections(step)
                if objection is not None:
                    rule, ask, failure = objection
                    if rule in objected:   # sent back once already: the same answer again is a failed result
                        return self._end(outcome, failure, True)
                    objected.add(rule)
                    messages.append({"role": "user", "content": ask})
                    continue
                return self._end(outcome, step.content, step.failed)
            messages.append(self._assistant_step(result, step))
            for call in step.calls:
                key = (call.name, _canonical(call.arguments))
                if key in seen:
                    repeats += 1
                    if repeats > REPEATS_ALLOWED:
                        return self._end(outcome, f"stopped: repeated the same call {call.name}({call.arguments[:200]})"
                                         f" whose result was: {seen[key][:self.settings.tool_result_chars]}", True)
                    # The same output again, and the next step is constrained to the answer: a lecture here only
                    # gives a small model more text to copy.
                    text = seen[key]
                    must_answer = True
                else:
                    try:
                        text, ok, denied = await self._call_tool(ctx, call)
                    except ToolBudgetExceeded as exc:
                        return self._end(outcome, self._capped_summary(ctx, str(exc)), True)
                    outcome.tool_calls += 1
                    read = read or (ok and call.name in readers)
                    worked += ok or denied   # an answer after a person's denial says what they decided
                    last_error = last_error if ok else text
                    seen[key] = text
                    last_ok = ok
                messages.append(self._tool_message(call, text, ok))

    async def _ask(self, messages: list[dict], task_id: str, ctx: ToolContext, choice: str | None,
                   resample: bool = False, tools: list | None = None) -> ChatResult:
        """One step with `tools` (default: every tool of the worker); choice "required" = a tool call, "none" = the
        result, None = either. After an unusable step the model is sampled (RETRY_TEMPERATURE at least): greedy
        decoding would repeat the same output."""
        tools = self.spec.tools if tools is None else tools
        temperature = _temperature(ctx)
        if resample:
            temperature = max(temperature or 0.0, RETRY_TEMPERATURE)
        result = result_schema(self.settings.result_chars)
        if self.json_mode:
            schema = result if choice == "none" else \
                action_schema(tools, allow_result=choice != "required",
                              result_chars=self.settings.result_chars, arg_chars=self.settings.tool_arg_chars)
            return await self.llm.chat(messages, role=self.role, task_id=task_id, json_schema=schema,
                                       schema_name="worker_step", temperature=temperature)
        specs = [t.openai_spec() for t in tools] or None
        if choice == "none":  # the answer, constrained to the result object
            return await self.llm.chat(messages, role=self.role, task_id=task_id, json_schema=result,
                                       schema_name="subtask_result", temperature=temperature)
        return await self.llm.chat(messages, role=self.role, task_id=task_id, tools=specs,
                                   tool_choice=choice if specs and choice else None,
                                   json_schema=None if specs else result, schema_name="subtask_result",
                                   temperature=temperature)

    async def _conclude(self, item, ctx: ToolContext, messages: list[dict]) -> ChatResult:
        """The answer after a last call that worked, in a short, fresh conversation — the subtask, the tool calls and
        their outputs only — which a small model states far more reliably than at the end of a long tool loop
        (α-UMi's summarizer idea). The exchange is kept in the history."""
        ask = conclude_messages(self.spec.worker_type, item, ctx.tool_history, self.settings.tool_result_chars)
        messages.append({"role": "user", "content": ask[-1]["content"]})
        result = await self.llm.chat(ask, role=self.role, task_id=item.task_id,
                                     json_schema=conclusion_schema(self.settings.result_chars),
                                     schema_name=CONCLUDE_SCHEMA_NAME, temperature=_temperature(ctx))
        try:
            value = extract_json(result.content)
            content = value["content"] if isinstance(value, dict) else None
        except ValueError:
            content = None
        if isinstance(content, str) and content.strip():
            result.content = json.dumps({"content": content.strip(), "failed": False})
        return result

    def _assistant_step(self, result: ChatResult, step) -> dict:
        if self.json_mode and not result.tool_calls:
            return {"role": "assistant", "content": result.content}
        return result.assistant_message()

    def _tool_message(self, call, text: str, ok: bool = True) -> dict:
        if self.json_mode and call.id.startswith("step_"):
            # Ends as a sentence to complete: a small model then states the result rather than echo its subtask.
            lead = "So the result of the subtask is" if ok else "Fix the call, or report that the subtask failed."
            return {"role": "user", "content": f"Output of {call.name}:\n{text}\n\n{lead}"}
        return {"role": "tool", "tool_call_id": call.id, "content": text}

    def _end(self, outcome: AgentOutcome, content: str, failed: bool) -> AgentOutcome:
        outcome.content, outcome.failed = content, failed
        return outcome

    async def _call_tool(self, ctx: ToolContext, call) -> tuple[str, bool, bool]:
        """(the text the model reads, whether the call worked, whether a person denied it)"""
        tool, denied = self.tools.get(call.name), False
        if tool is None:
            text, ok, duration = f"unknown tool {call.name!r}; available: {', '.join(self.tools)}", False, 0.0
        else:
            try:
                arguments = call.parsed_arguments()
            except ValueError as exc:
                text, ok, duration = f"arguments are not a JSON object: {exc}", False, 0.0
            else:
                result = await tool.run(ctx, arguments)
                text, ok, duration, denied = result.text, result.ok, result.duration_s, result.denied
        TOOL_CALLS.labels(self.spec.worker_type, call.name if tool else "unknown", "ok" if ok else "error").inc()
        await ctx.emit("tool.call", call.name, {
            "tool": call.name, "arguments": call.arguments, "ok": ok, "duration_s": duration,
            "result": text[:4000],
        })
        return text, ok, denied

    def _capped_summary(self, ctx: ToolContext, why: str) -> str:
        """After the budget: failed, with the tool history (each result cut short) so a replan can use it."""
        limit = self.settings.tool_result_chars
        lines = [f"Stopped: {why}. Tool history:"]
        for name, arguments, result in ctx.tool_history:
            lines.append(f"- call {name}({arguments[:200]})\n  → {result[:limit]}")
        return "\n".join(lines)


def recent_steps(messages: list[dict], keep: int = HISTORY_STEPS, head: int = 2,
                 older_chars: int | None = None) -> list[dict]:
    """The first `head` messages (the system prompt and the subtask) and the last `keep` steps (each from an
    assistant message to the next): a long tool loop otherwise outgrows a small model's context (4096 tokens per
    slot on the local model server); repeats are caught from every call made, sent or not. With `older_chars`,
    the tool outputs of every step but the latest are cut to that many characters (two 8000-character web pages
    alone fill such a slot)."""
    starts = [i for i, m in enumerate(messages) if i >= head and m["role"] == "assistant"]
    window = messages if len(starts) <= keep else messages[:head] + messages[starts[-keep]:]
    if older_chars is None or not starts:
        return window
    latest = len(window) - (len(messages) - starts[-1])
    return [_cut_output(m, older_chars) if head <= i < latest else m for i, m in enumerate(window)]


def _cut_output(message: dict, chars: int) -> dict:
    content = message.get("content")
    is_output = message["role"] == "tool" or (message["role"] == "user" and str(content).startswith("Output of "))
    if not is_output or not isinstance(content, str) or len(content) <= chars:
        return message
    return {**message, "content": f"{content[:chars]} … (cut: {len(content)} characters in all)"}


def context_overflow(exc: LLMError) -> bool:
    """The request did not fit the model's context (llama.cpp, vLLM and OpenAI say it in their own words)."""
    text = str(exc).lower()
    return any(s in text for s in ("context size", "context length", "context_length_exceeded"))


def _canonical(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments or "{}"), sort_keys=True)
    except ValueError:
        return arguments or ""


def _temperature(ctx: ToolContext) -> float | None:
    try:
        return temperature_of(ctx.metadata)
    except ValueError:
        return None


def make_agent(llm, spec: WorkerSpec, settings: Settings):
    return spec.make_agent(llm, spec, settings) if spec.make_agent else ToolCallingAgent(llm, spec, settings)
