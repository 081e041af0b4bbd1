"""Assign subtasks to worker types in one batch; repair what is unambiguous, retry with feedback otherwise.

The model answers `{"assignments": {"<subtask id>": "<worker id>"}}` (schema-constrained, so complete by
construction), or OWL's list form `[{"task_id", "assignee_id", "dependencies"}]` from backends without
structured output. Dependencies the coordinator adds to the planner's are kept when they are known and keep
the graph acyclic; others are dropped and reported.
"""

from ..core.config import Settings
from ..core.llm import extract_json
from ..core.llm.client import LLMError, UsageBook
from ..v1 import channel_pb2
from . import prompts

ROLE = "coordinator"
RAW_KEEP_CHARS = 4000


class AssignmentError(ValueError):
    """The assignment is unusable; fed back to the model."""


class AssignmentFailed(Exception):
    def __init__(self, reason: str, attempts: list[dict] | None = None):
        super().__init__(reason)
        self.attempts = attempts or []


def validate(value, subtasks: list[channel_pb2.Subtask], worker_ids: set[str], done_ids: set[str],
             repairs: list[str] | None = None) -> dict:
    """{subtask id: (assignee, dependencies)} or AssignmentError naming what is wrong."""
    repairs = [] if repairs is None else repairs
    if isinstance(value, dict):
        value = value.get("assignments")
    if isinstance(value, dict):
        value = [{"task_id": k, "assignee_id": v if isinstance(v, str) else (v or {}).get("assignee_id", "")}
                 for k, v in value.items()]
    if not isinstance(value, list):
        raise AssignmentError('expected {"assignments": {"<subtask id>": "<worker id>", ...}}')
    wanted = {s.subtask_id: s for s in subtasks}
    out: dict[str, tuple[str, list[str]]] = {}
    for entry in value:
        if not isinstance(entry, dict):
            raise AssignmentError("each assignment must be an object")
        sid, worker = str(entry.get("task_id", "")), str(entry.get("assignee_id", ""))
        if sid not in wanted:
            repairs.append(f"ignored an assignment of unknown subtask {sid!r}")
            continue
        if sid in out:
            repairs.append(f"ignored a second assignment of subtask {sid}")
            continue
        if worker not in worker_ids:
            raise AssignmentError(f"unknown worker id {worker!r} for subtask {sid}; "
                                  f"valid ids: {', '.join(sorted(worker_ids))}")
        extra = []
        for dep in (str(d) for d in entry.get("dependencies") or []):
            if dep == sid or (dep not in wanted and dep not in done_ids):
                repairs.append(f"subtask {sid}: dropped dependency {dep!r}")
            else:
                extra.append(dep)
        # The planner's dependencies always hold; the coordinator may add more.
        out[sid] = (worker, list(dict.fromkeys([*wanted[sid].dependencies, *extra])))
    missing = [sid for sid in wanted if sid not in out]
    if missing:
        raise AssignmentError(f"subtasks without an assignment: {', '.join(missing)}")
    _drop_added_cycles(out, wanted, repairs)
    return out


def _drop_added_cycles(out: dict, wanted: dict, repairs: list[str]) -> None:
    """Remove dependencies the coordinator added that close a cycle (the planner's graph is acyclic)."""
    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            node = stack.pop()
            if node == goal:
                return True
            if node in seen or node not in out:
                continue
            seen.add(node)
            stack.extend(out[node][1])
        return False

    for sid, (worker, deps) in out.items():
        planned = set(wanted[sid].dependencies)
        for dep in [d for d in deps if d not in planned]:
            deps.remove(dep)
            if reaches(dep, sid):
                repairs.append(f"subtask {sid}: dropped dependency {dep}, which closed a cycle")
            else:
                deps.append(dep)


class Assigner:
    def __init__(self, llm, settings: Settings):
        self.llm = llm
        self.settings = settings

    async def assign(self, task_id: str, question: str, subtasks: list[channel_pb2.Subtask], workers: list[dict],
                     done: list[channel_pb2.Subtask], usage: UsageBook) -> tuple[dict, list[dict], str, dict]:
        """(assignments, prompt messages, raw output, {"attempts", "repairs"})."""
        if not workers:
            raise AssignmentFailed("no worker pools are registered")
        worker_ids = {w["id"] for w in workers}
        done_ids = {s.subtask_id for s in done}
        view = [{"id": s.subtask_id, "content": s.content, "dependencies": list(s.dependencies)} for s in subtasks]
        done_view = [{"id": s.subtask_id, "content": s.content} for s in done]
        messages = prompts.assign_messages(question, view, workers, done_view)
        prompt = list(messages)
        schema = prompts.assign_schema([s.subtask_id for s in subtasks], sorted(worker_ids))
        attempts: list[dict] = []
        for _ in range(self.settings.assignment_retries + 1):
            try:
                result = await self.llm.chat(messages, role=ROLE, task_id=task_id, json_schema=schema,
                                             schema_name=prompts.ASSIGN_SCHEMA_NAME)
            except LLMError as exc:
                attempts.append({"error": str(exc)[:500]})
                raise AssignmentFailed(f"model error: {exc}", attempts) from exc
            usage.add(ROLE, result)
            attempt = {"raw": result.content[:RAW_KEEP_CHARS], "finish_reason": result.finish_reason}
            attempts.append(attempt)
            repairs: list[str] = []
            try:
                assignments = validate(extract_json(result.content), subtasks, worker_ids, done_ids, repairs)
            except ValueError as exc:
                attempt["error"] = str(exc)
                messages = messages + [
                    {"role": "assistant", "content": result.content},
                    {"role": "user", "content": f"Invalid assignment: {exc}. Use only the ids given. Answer again."},
                ]
                continue
            return assignments, prompt, result.content, {"attempts": attempts, "repairs": repairs}
        raise AssignmentFailed(f"the assignment was invalid after {len(attempts)} tries: "
                               f"{attempts[-1].get('error', '')}", attempts)
