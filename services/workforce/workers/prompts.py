"""The prompt a worker's agent sees: its subtask, the overall task and its dependencies' short results only."""

from ..v1 import channel_pb2

WORKER_SYSTEM = """You are {worker_type}, a worker in a team of AI agents. {description}
You solve exactly one subtask. Use your tools when they help; when you are done, reply with only a JSON object:
{{"content": "<your result: the facts found or the work done, self-contained>", "failed": <true|false>}}
Set "failed" to true when you could not complete the subtask, and explain why in "content"."""

JSON_MODE_RULES = """Each reply is one JSON object, one step at a time. To use a tool:
{tools}
When you have the result, reply {{"content": "<the result>", "failed": false}}."""


def subtask_prompt(item: channel_pb2.WorkItem) -> str:
    parts = [f"Overall task (for context only, do not solve it all):\n{item.overall_task}"]
    if item.dependencies:
        deps = "\n".join(f"- [{d.subtask_id}] {d.content}\n  result: {d.result}" for d in item.dependencies)
        parts.append(f"Results of the subtasks yours depends on:\n{deps}")
    if item.files:
        files = "\n".join(f"- {f.name} ({f.media_type or 'unknown type'}, {f.size} bytes)" for f in item.files)
        parts.append(f"Files attached to the task:\n{files}")
    parts.append(f"Your subtask:\n{item.subtask}")
    return "\n\n".join(parts)
