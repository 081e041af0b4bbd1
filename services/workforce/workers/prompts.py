"""The prompt a worker's agent sees: its subtask, the overall task and its dependencies' short results only."""

from ..v1 import channel_pb2

WORKER_SYSTEM = """You are {worker_type}, a worker in a team of AI agents. {description}
You solve exactly one subtask. Use your tools when they help; when you are done, reply with only a JSON object:
{{"content": "<your result: the facts found or the work done, self-contained>", "failed": <true|false>}}
Set "failed" to true when you could not complete the subtask, and explain why in "content"."""

JSON_MODE_RULES = """Each reply is one JSON object, one step at a time. To use a tool:
{tools}
When you have the result, reply {{"content": "<the result>", "failed": false}}."""


def subtask_prompt(item: channel_pb2.WorkItem, previews: dict[str, str] | None = None) -> str:
    """`previews`: the first lines of some attached files, by name, shown under each."""
    parts = [f"Overall task (for context only, do not solve it all):\n{item.overall_task}"]
    if item.dependencies:
        deps = "\n".join(f"- [{d.subtask_id}] {d.content}\n  result: {d.result}" for d in item.dependencies)
        parts.append(f"Results of the subtasks yours depends on:\n{deps}")
    if item.files:
        lines = []
        for f in item.files:
            lines.append(f"- {f.name} ({f.media_type or 'unknown type'}, {f.size} bytes)")
            if (previews or {}).get(f.name):
                lines.append("  first lines:\n" + "\n".join(f"    {line}" for line in previews[f.name].splitlines()))
        files = "\n".join(lines)
        parts.append(f"Files attached to the task:\n{files}")
    parts.append(f"Your subtask:\n{item.subtask}")
    return "\n\n".join(parts)

CONCLUDE_SYSTEM = "You are {worker_type}, a worker in a team of AI agents. You solve exactly one subtask. \
Each reply is one JSON object."

CONCLUDE_SCHEMA_NAME = "subtask_conclusion"


def conclude_messages(worker_type: str, item: channel_pb2.WorkItem, history: list[tuple[str, str, str]],
                      result_chars: int) -> list[dict]:
    """A short, fresh conversation for the answer (like α-UMi's summarizer): the subtask, the tool calls and
    what they returned, ending in a sentence to complete."""
    messages = [{"role": "system", "content": CONCLUDE_SYSTEM.format(worker_type=worker_type)},
                {"role": "user", "content": f"Your subtask:\n{item.subtask}"}]
    for name, arguments, result in history[-3:]:
        messages.append({"role": "assistant", "content": f'{{"tool": "{name}", "arguments": {arguments[:600]}}}'})
        messages.append({"role": "user", "content": f"Output of {name}: {result[:result_chars]}"})
    messages[-1]["content"] += "\nSo the result of the subtask is"
    return messages


def conclusion_schema(max_chars: int) -> dict:
    return {"type": "object", "properties": {"content": {"type": "string", "minLength": 1, "maxLength": max_chars}},
            "required": ["content"], "additionalProperties": False}
