"""The chat-template prompt family (ours): system + user messages for instruction-tuned models, with a
JSON schema for the structured roles so that a backend with structured outputs always returns valid JSON."""

import json

from ..llm import extract_json
from .messages import CallerAction, Conclusion, InvalidOutput, AlphaUmiPlannerStep
from .parsers import validate_arguments

SYSTEMS = {
    "planner": (
        "You are the planner of a tool-using agent team. Given the user's request, the available tools "
        "and what happened so far, write the reasoning for the next step and decide who acts next: "
        '"caller" (a tool must be called; say which and why), "conclusion" (enough is known to answer '
        'the user) or "give up" (the request cannot be done with these tools). Reply with JSON '
        '{"thought": "...", "next": "caller" | "conclusion" | "give up"}.'
    ),
    "caller": (
        "You are the caller of a tool-using agent team. Following the planner's thought, make exactly one "
        'tool call. Reply with JSON {"name": "<tool name>", "arguments": {...}}; the arguments must '
        "match the tool's parameter schema."
    ),
    "summarizer": (
        "You are the summarizer of a tool-using agent team. Write the final answer to the user's request "
        "from what the tools returned. Answer directly and completely; do not mention the team."
    ),
}

PLANNER_SCHEMA = {
    "type": "object",
    "properties": {
        "thought": {"type": "string"},
        "next": {"type": "string", "enum": ["caller", "conclusion", "give up"]},
    },
    "required": ["thought", "next"],
    "additionalProperties": False,
}


def bounded(schema: dict, thought_chars: int) -> dict:
    """The schema with `thought` capped, so that constrained decoding must close the string."""
    if not thought_chars:
        return schema
    properties = dict(schema["properties"])
    properties["thought"] = properties["thought"] | {"maxLength": thought_chars}
    return schema | {"properties": properties}


def caller_schema(tool_names: list[str]) -> dict:
    return {
        "type": "object",
        "properties": {
            "name": {"type": "string", "enum": tool_names or [""]},
            "arguments": {"type": "object"},
        },
        "required": ["name", "arguments"],
        "additionalProperties": False,
    }


def _transcript(history: list[dict]) -> str:
    lines = []
    for turn in history:
        label = {"assistant": "planner"}.get(turn["from"], turn["from"])
        lines.append(f"[{label}] {turn['value']}")
    return "\n".join(lines) or "(nothing yet)"


def render(role: str, tools: list[dict], history: list[dict], thought: str = "") -> list[dict]:
    """Messages for `role`; tools are `{name, description, parameters}`, history `{from, value}` turns."""
    if role not in SYSTEMS:
        raise ValueError(f"the chat family has no role {role!r}; roles: {', '.join(SYSTEMS)}")
    request = next((t["value"] for t in history if t["from"] == "user"), "")
    parts = []
    if role != "summarizer":
        parts.append("Tools:\n" + "\n".join(json.dumps(t, ensure_ascii=False) for t in tools))
    parts += [f"User request:\n{request}", f"What happened so far:\n{_transcript(history[1:])}"]
    if role == "caller":
        parts.append(f"The planner's thought for this step:\n{thought}")
    return [{"role": "system", "content": SYSTEMS[role]}, {"role": "user", "content": "\n\n".join(parts)}]


def schema_for(role: str, tools: list[dict], thought_chars: int = 0) -> dict | None:
    if role == "planner":
        return bounded(PLANNER_SCHEMA, thought_chars)
    if role == "caller":
        return caller_schema([t["name"] for t in tools])
    return None


def _object(text: str) -> dict:
    try:
        value = extract_json(text)
    except ValueError as exc:
        raise InvalidOutput(f"the output is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise InvalidOutput("the output must be a JSON object")
    return value


def parse(role: str, text: str, tools: list[dict]):
    if role == "summarizer":
        if not text.strip():
            raise InvalidOutput("the summarizer returned an empty answer")
        return Conclusion(text.strip())
    value = _object(text)
    if role == "planner":
        nxt = str(value.get("next", "")).strip().lower().rstrip(".")
        if nxt not in ("caller", "conclusion", "give up"):
            raise InvalidOutput(f"'next' must be caller, conclusion or give up, got {value.get('next')!r}")
        return AlphaUmiPlannerStep(str(value.get("thought", "")).strip(), nxt)
    schemas = {t["name"]: t.get("parameters") or {} for t in tools}
    name, arguments = value.get("name"), value.get("arguments", {})
    if name not in schemas:
        raise InvalidOutput(f"unknown tool {name!r}; the tools are: {', '.join(sorted(schemas)) or '(none)'}")
    if isinstance(arguments, str):  # some models write the arguments as a JSON string
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError as exc:
            raise InvalidOutput(f"arguments are not valid JSON: {exc}") from exc
    if not isinstance(arguments, dict):
        raise InvalidOutput("'arguments' must be a JSON object")
    validate_arguments(name, arguments, schemas[name])
    return CallerAction(name, arguments)
