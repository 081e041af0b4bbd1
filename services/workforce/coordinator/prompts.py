"""The coordinator's assignment prompt and output schema."""

import json

ASSIGN_SYSTEM = """You are the coordinator of a workforce of AI workers. Assign every subtask to the worker \
best able to do it: the worker whose description and tools fit the subtask.
Answer with JSON mapping each subtask id to a worker id: {"assignments": {"<subtask id>": "<worker id>", ...}}"""

ASSIGN_SCHEMA_NAME = "assignments"


def assign_schema(subtask_ids: list[str], worker_ids: list[str], known_ids: list[str] = ()) -> dict:
    """One entry per subtask, keyed by its id, valued by a registered worker id: it cannot be structurally wrong.
    (The planner's dependencies hold; backends without structured output may also answer OWL's list form
    with extra dependencies, see assign.validate.)"""
    return {
        "type": "object",
        "properties": {
            "assignments": {
                "type": "object",
                "properties": {sid: {"type": "string", "enum": worker_ids} for sid in subtask_ids},
                "required": list(subtask_ids),
                "additionalProperties": False,
            }
        },
        "required": ["assignments"],
        "additionalProperties": False,
    }


def assign_messages(question: str, subtasks: list[dict], workers: list[dict], done: list[dict]) -> list[dict]:
    parts = [f"Overall task: {question}"]
    if done:
        parts.append(f"Subtasks already done (may be dependencies):\nDONE_JSON: {json.dumps(done, ensure_ascii=False)}")
    parts.append(f"Subtasks to assign:\nSUBTASKS_JSON: {json.dumps(subtasks, ensure_ascii=False)}")
    parts.append(f"Workers:\nWORKERS_JSON: {json.dumps(workers, ensure_ascii=False)}")
    return [{"role": "system", "content": ASSIGN_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]
