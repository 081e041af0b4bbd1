"""Decompose, replan and synthesize: the planner's three steps, independent of how they are called
(channel consumer or direct gRPC)."""

import json
import logging

from ..core.config import Settings
from ..core.llm.client import LLMError, UsageBook
from ..v1 import channel_pb2, common_pb2
from . import prompts
from .parsing import PlanError, parse_answer, parse_subtasks, validate_subtasks

log = logging.getLogger(__name__)
ROLE = "planner"


class PlannerFailed(Exception):
    """The planner could not produce a usable output; the message says why (it ends the task)."""


class Planner:
    def __init__(self, llm, settings: Settings):
        self.llm = llm
        self.settings = settings
        self.structured = settings.llm_structured_output

    async def _ask(self, messages: list[dict], schema: dict, schema_name: str, task_id: str, usage: UsageBook,
                   parse, retries: int = 1, temperature: float | None = None):
        """Call the model, parse its output; on unusable output retry with the error as feedback."""
        messages = list(messages)
        last_error = ""
        for _ in range(retries + 1):
            try:
                result = await self.llm.chat(messages, role=ROLE, task_id=task_id, temperature=temperature,
                                             json_schema=schema if self.structured else None,
                                             schema_name=schema_name)
            except LLMError as exc:
                if self.structured and "response_format" in str(exc).lower():
                    log.warning("backend refused structured output; falling back to tolerant parsing")
                    self.structured = False
                    continue
                raise PlannerFailed(str(exc)) from exc
            usage.add(ROLE, result)
            try:
                return parse(result.content), result.content
            except PlanError as exc:
                last_error = str(exc)
                messages += [{"role": "assistant", "content": result.content},
                             {"role": "user", "content": f"That output is not usable: {exc}. Answer again."}]
        raise PlannerFailed(f"the planner's output was not usable after {retries + 1} tries: {last_error}")

    async def decompose(self, task_id: str, request: channel_pb2.DecomposeRequest,
                        workers: list[dict], temperature: float | None = None) -> tuple[channel_pb2.PlanReady, list[dict]]:
        if not workers:
            raise PlannerFailed("no worker pools are registered: start at least one worker")
        messages = prompts.decompose_messages(request.question, request.answer_format,
                                              [f.name for f in request.files], workers, self.settings.max_subtasks)
        usage = UsageBook()
        items, raw = await self._ask(messages, prompts.plan_schema(self.settings.max_subtasks),
                                     prompts.PLAN_SCHEMA_NAME, task_id, usage,
                                     lambda text: parse_subtasks(text, self.settings.max_subtasks),
                                     temperature=temperature)
        plan = channel_pb2.PlanReady(plan_version=0, planner_output=raw)
        for item in items:
            plan.subtasks.add(subtask_id=item["id"], content=item["content"], dependencies=item["dependencies"])
        usage.merge_into(plan.usage)
        return plan, messages

    async def replan(self, task_id: str, request: channel_pb2.ReplanRequest,
                     workers: list[dict], temperature: float | None = None) -> tuple[channel_pb2.PlanReady, list[dict]]:
        current = [_subtask_view(s) for s in request.subtasks]
        failed = next((s for s in current if s["id"] == request.failed_subtask_id), None)
        if failed is None:
            raise PlannerFailed(f"replan of unknown subtask {request.failed_subtask_id}")
        done = {s.subtask_id for s in request.subtasks if s.status == common_pb2.SUBTASK_STATUS_DONE}
        messages = prompts.replan_messages(request.question, current, failed, request.failure_reason, workers)
        usage = UsageBook()
        max_n = self.settings.max_subtasks

        def parse(text: str) -> list[dict]:
            items = parse_subtasks_allowing(text, max_n, done)
            return items

        items, raw = await self._ask(messages, prompts.plan_schema(max_n), prompts.PLAN_SCHEMA_NAME, task_id,
                                     usage, parse, temperature=temperature)
        prefix = f"{request.failed_subtask_id}.r{request.plan_version}."
        local = {i["id"] for i in items}
        plan = channel_pb2.PlanReady(plan_version=request.plan_version, planner_output=raw,
                                     replaced_subtask_id=request.failed_subtask_id)
        for item in items:
            deps = [prefix + d if d in local else d for d in item["dependencies"]]
            plan.subtasks.add(subtask_id=prefix + item["id"], content=item["content"], dependencies=deps,
                              replaces=request.failed_subtask_id)
        usage.merge_into(plan.usage)
        return plan, messages

    async def synthesize(self, task_id: str, request: channel_pb2.SynthesizeRequest,
                         temperature: float | None = None) -> tuple[channel_pb2.FinalAnswer, list[dict]]:
        results = [{"id": s.subtask_id, "content": s.content, "result": s.result} for s in request.subtasks]
        messages = prompts.synthesize_messages(request.question, request.answer_format, results)
        usage = UsageBook()
        answer, raw = await self._ask(messages, prompts.ANSWER_SCHEMA, prompts.ANSWER_SCHEMA_NAME, task_id, usage,
                                      _nonempty_answer, temperature=temperature)
        final = channel_pb2.FinalAnswer(answer=answer, planner_output=raw)
        usage.merge_into(final.usage)
        return final, messages


def _nonempty_answer(text: str) -> str:
    answer = parse_answer(text)
    if not answer:
        raise PlanError("the answer is empty")
    return answer


def parse_subtasks_allowing(text: str, max_subtasks: int, known_ids: set[str]) -> list[dict]:
    """Like parse_subtasks, but dependencies may also name subtasks already done."""
    from .parsing import _from_json  # same tolerant reader

    items = _from_json(text)
    if items is None:
        return parse_subtasks(text, max_subtasks)
    return validate_subtasks(items, max_subtasks, known_ids)


def _subtask_view(s: channel_pb2.Subtask) -> dict:
    status = common_pb2.SubtaskStatus.Name(s.status).removeprefix("SUBTASK_STATUS_").lower()
    view = {"id": s.subtask_id, "content": s.content, "dependencies": list(s.dependencies), "status": status}
    if s.result:
        view["result"] = s.result
    if s.failure_reason:
        view["failure"] = s.failure_reason
    return view


def dump(messages: list[dict]) -> str:
    return json.dumps(messages, ensure_ascii=False)
