"""Assign subtasks to worker types in one batch, validate the ids the model gives back, retry with feedback."""

from ..core.config import Settings
from ..core.llm import extract_json
from ..core.llm.client import LLMError, UsageBook
from ..planner.parsing import PlanError, check_acyclic
from ..v1 import channel_pb2
from . import prompts

ROLE = "coordinator"


class AssignmentFailed(Exception):
    pass


def validate(value, subtasks: list[channel_pb2.Subtask], worker_ids: set[str], done_ids: set[str]) -> dict:
    """{subtask id: (assignee, dependencies)} or PlanError naming what is wrong."""
    if isinstance(value, dict):
        value = value.get("assignments")
    if not isinstance(value, list):
        raise PlanError('expected {"assignments": [...]}')
    wanted = {s.subtask_id: s for s in subtasks}
    out: dict[str, tuple[str, list[str]]] = {}
    for entry in value:
        if not isinstance(entry, dict):
            raise PlanError("each assignment must be an object")
        sid, worker = str(entry.get("task_id", "")), str(entry.get("assignee_id", ""))
        if sid not in wanted:
            raise PlanError(f"unknown subtask id {sid!r}; valid ids: {', '.join(wanted)}")
        if worker not in worker_ids:
            raise PlanError(f"unknown worker id {worker!r} for subtask {sid}; valid ids: {', '.join(sorted(worker_ids))}")
        deps = [str(d) for d in entry.get("dependencies") or []]
        for dep in deps:
            if dep not in wanted and dep not in done_ids:
                raise PlanError(f"subtask {sid} depends on unknown subtask {dep!r}")
        # The planner's dependencies always hold; the coordinator may add more.
        merged = list(dict.fromkeys([*wanted[sid].dependencies, *deps]))
        out[sid] = (worker, [d for d in merged if d != sid])
    missing = [sid for sid in wanted if sid not in out]
    if missing:
        raise PlanError(f"subtasks without an assignment: {', '.join(missing)}")
    check_acyclic({sid: [d for d in deps if d in wanted] for sid, (_, deps) in out.items()})
    return out


class Assigner:
    def __init__(self, llm, settings: Settings):
        self.llm = llm
        self.settings = settings

    async def assign(self, task_id: str, question: str, subtasks: list[channel_pb2.Subtask], workers: list[dict],
                     done: list[channel_pb2.Subtask], usage: UsageBook) -> tuple[dict, list[dict], str]:
        if not workers:
            raise AssignmentFailed("no worker pools are registered")
        worker_ids = {w["id"] for w in workers}
        done_ids = {s.subtask_id for s in done}
        view = [{"id": s.subtask_id, "content": s.content, "dependencies": list(s.dependencies)} for s in subtasks]
        done_view = [{"id": s.subtask_id, "content": s.content} for s in done]
        messages = prompts.assign_messages(question, view, workers, done_view)
        schema = prompts.assign_schema([s.subtask_id for s in subtasks], sorted(worker_ids),
                                       [s.subtask_id for s in subtasks] + sorted(done_ids))
        error = ""
        for _ in range(self.settings.assignment_retries + 1):
            try:
                result = await self.llm.chat(messages, role=ROLE, task_id=task_id, json_schema=schema,
                                             schema_name=prompts.ASSIGN_SCHEMA_NAME)
            except LLMError as exc:
                raise AssignmentFailed(str(exc)) from exc
            usage.add(ROLE, result)
            try:
                return validate(extract_json(result.content), subtasks, worker_ids, done_ids), messages, result.content
            except (PlanError, ValueError) as exc:
                error = str(exc)
                messages = messages + [
                    {"role": "assistant", "content": result.content},
                    {"role": "user", "content": f"Invalid assignment: {exc}. Use only the ids given. Answer again."},
                ]
        raise AssignmentFailed(f"the assignment was invalid after {self.settings.assignment_retries + 1} tries: {error}")
