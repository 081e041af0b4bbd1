"""The coordinator's assignment prompt and output schema."""

import json

ASSIGN_SYSTEM = """You are the coordinator of a workforce of AI workers. Assign every subtask to the worker \
best able to do it, and list the subtasks whose results each one needs first (its dependencies).
Answer with JSON: {"assignments": [{"task_id": "<subtask id>", "assignee_id": "<worker id>", \
"dependencies": ["<subtask id>", ...]}, ...]} with one entry per subtask."""

ASSIGN_SCHEMA_NAME = "assignments"


def assign_schema(subtask_ids: list[str], worker_ids: list[str], known_ids: list[str]) -> dict:
    return {
        "type": "object",
        "properties": {
            "assignments": {
                "type": "array",
                "minItems": len(subtask_ids),
                "maxItems": len(subtask_ids),
                "items": {
                    "type": "object",
                    "properties": {
                        "task_id": {"type": "string", "enum": subtask_ids},
                        "assignee_id": {"type": "string", "enum": worker_ids},
                        "dependencies": {"type": "array", "items": {"type": "string", "enum": known_ids},
                                         "maxItems": len(known_ids)},
                    },
                    "required": ["task_id", "assignee_id", "dependencies"],
                    "additionalProperties": False,
                },
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
