"""Decompose, replan and synthesize: the planner's three steps, independent of how they are called
(channel consumer or direct gRPC). Every model call is kept as an attempt (prompt, raw output, parse error)
so that the task's events show what the planner saw and wrote, also when it failed."""

import logging
from dataclasses import dataclass, field

from ..core.config import Settings
from ..core.llm.client import LLMError, UsageBook
from ..v1 import channel_pb2, common_pb2
from . import prompts
from .parsing import PlanError, off_topic, parse_answer, parse_plan, repair_subtasks

log = logging.getLogger(__name__)
ROLE = "planner"
RAW_KEEP_CHARS = 4000
RETRY_TEMPERATURE = 0.7   # sampling for a retry after an unusable output


class PlannerFailed(Exception):
    """The planner could not produce a usable output; the message says why (it ends the task)."""

    def __init__(self, reason: str, attempts: list[dict] | None = None, usage: UsageBook | None = None):
        super().__init__(reason)
        self.attempts = attempts or []
        self.usage = usage or UsageBook()   # the calls that failed: they count toward the task's tokens


@dataclass
class Outcome:
    value: object
    raw: str
    messages: list[dict]
    attempts: list[dict] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)


class Planner:
    def __init__(self, llm, settings: Settings):
        self.llm = llm
        self.settings = settings
        self.structured = settings.llm_structured_output

    async def _ask(self, messages: list[dict], schema: dict, schema_name: str, task_id: str, usage: UsageBook,
                   parse, retries: int = 1, temperature: float | None = None) -> Outcome:
        """Call the model, parse its output; on unusable output retry with the error as feedback."""
        messages, attempts = list(messages), []
        for attempt_no in range(retries + 1):
            if attempt_no:  # greedy decoding would write the same unusable output again
                temperature = max(temperature or 0.0, RETRY_TEMPERATURE)
            try:
                result = await self.llm.chat(messages, role=ROLE, task_id=task_id, temperature=temperature,
                                             json_schema=schema if self.structured else None,
                                             schema_name=schema_name)
            except LLMError as exc:
                attempts.append({"error": str(exc)[:500]})
                raise PlannerFailed(f"model error: {exc}", attempts, usage) from exc
            usage.add(ROLE, result)
            attempt = {"raw": result.content[:RAW_KEEP_CHARS], "model": result.model,  # the model that answered
                       "finish_reason": result.finish_reason,
                       "completion_tokens": result.completion_tokens, "latency_s": round(result.latency_s, 3)}
            attempts.append(attempt)
            try:
                value = parse(result.content)
            except PlanError as exc:
                attempt["error"] = str(exc) + (" (the output was cut at the token limit)" if result.truncated else "")
                messages += [{"role": "assistant", "content": result.content},
                             {"role": "user", "content": f"That output is not usable: {exc}. Answer again."}]
                continue
            return Outcome(value, result.content, messages[:2], attempts)
        raise PlannerFailed(f"the planner's output was not usable after {retries + 1} tries: "
                            f"{attempts[-1].get('error', '')}", attempts, usage)

    async def decompose(self, task_id: str, request: channel_pb2.DecomposeRequest,
                        workers: list[dict], temperature: float | None = None) -> tuple[channel_pb2.PlanReady, Outcome]:
        if not workers:
            raise PlannerFailed("no worker pools are registered: start at least one worker")
        s = self.settings
        messages = prompts.decompose_messages(request.question, request.answer_format,
                                              [f.name for f in request.files], workers, s.max_subtasks)
        usage = UsageBook()

        def parse(text: str):
            parsed = parse_plan(text, s.max_subtasks, max_chars=s.subtask_chars, allow_tags=not self.structured,
                                workers=workers)
            if (unrelated := off_topic(request.question, parsed.subtasks)) is not None:
                raise PlanError(unrelated)
            return parsed

        try:
            outcome = await self._ask(messages, prompts.plan_schema(s.max_subtasks, s.subtask_chars),
                                      prompts.PLAN_SCHEMA_NAME, task_id, usage, parse, temperature=temperature)
        except PlannerFailed as exc:
            if not exc.attempts or "error" not in exc.attempts[-1] or "raw" not in exc.attempts[-1]:
                raise  # the model itself failed: nothing to fall back on
            # The model wrote text but no usable plan: the whole task as one subtask is still a valid plan.
            outcome = Outcome(None, exc.attempts[-1]["raw"], messages, exc.attempts,
                              [f"fallback: one subtask for the whole task ({exc})"])
            outcome.value = repair_subtasks([{"content": request.question[: s.subtask_chars]}], s.max_subtasks)
        parsed = outcome.value
        outcome.repairs = [*outcome.repairs, *parsed.repairs]
        plan = channel_pb2.PlanReady(plan_version=0, planner_output=outcome.raw)
        for item in parsed.subtasks:
            plan.subtasks.add(subtask_id=item["id"], content=item["content"], dependencies=item["dependencies"])
        usage.merge_into(plan.usage)
        return plan, outcome

    async def replan(self, task_id: str, request: channel_pb2.ReplanRequest,
                     workers: list[dict], temperature: float | None = None) -> tuple[channel_pb2.PlanReady, Outcome]:
        current = [_subtask_view(s) for s in request.subtasks]
        failed = next((s for s in current if s["id"] == request.failed_subtask_id), None)
        if failed is None:
            raise PlannerFailed(f"replan of unknown subtask {request.failed_subtask_id}")
        done = sorted(s.subtask_id for s in request.subtasks if s.status == common_pb2.SUBTASK_STATUS_DONE)
        messages = prompts.replan_messages(request.question, current, failed, request.failure_reason, workers)
        usage = UsageBook()
        s = self.settings
        parse = lambda text: parse_plan(text, s.max_subtasks, set(done), s.subtask_chars,  # noqa: E731
                                        allow_tags=not self.structured, workers=workers)
        outcome = await self._ask(messages, prompts.plan_schema(s.max_subtasks, s.subtask_chars, done),
                                  prompts.PLAN_SCHEMA_NAME, task_id, usage, parse, temperature=temperature)
        parsed = outcome.value
        outcome.repairs = parsed.repairs
        prefix = f"{request.failed_subtask_id}.r{request.plan_version}."
        local = {i["id"] for i in parsed.subtasks}
        plan = channel_pb2.PlanReady(plan_version=request.plan_version, planner_output=outcome.raw,
                                     replaced_subtask_id=request.failed_subtask_id)
        for item in parsed.subtasks:
            deps = [prefix + d if d in local else d for d in item["dependencies"]]
            plan.subtasks.add(subtask_id=prefix + item["id"], content=item["content"], dependencies=deps,
                              replaces=request.failed_subtask_id)
        usage.merge_into(plan.usage)
        return plan, outcome

    async def synthesize(self, task_id: str, request: channel_pb2.SynthesizeRequest,
                         temperature: float | None = None,
                         answer_type: str = "text") -> tuple[channel_pb2.FinalAnswer, Outcome]:
        results = [{"id": s.subtask_id, "content": s.content, "result": s.result} for s in request.subtasks]
        messages = prompts.synthesize_messages(request.question, request.answer_format, results)
        usage = UsageBook()
        outcome = await self._ask(messages, prompts.answer_schema(self.settings.answer_chars, answer_type),
                                  prompts.ANSWER_SCHEMA_NAME, task_id, usage,
                                  lambda text: parse_answer(text, results), temperature=temperature)
        final = channel_pb2.FinalAnswer(answer=outcome.value, planner_output=outcome.raw)
        usage.merge_into(final.usage)
        return final, outcome


def _subtask_view(s: channel_pb2.Subtask) -> dict:
    status = common_pb2.SubtaskStatus.Name(s.status).removeprefix("SUBTASK_STATUS_").lower()
    view = {"id": s.subtask_id, "content": s.content, "dependencies": list(s.dependencies), "status": status}
    if s.result:
        view["result"] = s.result
    if s.failure_reason:
        view["failure"] = s.failure_reason
    return view
