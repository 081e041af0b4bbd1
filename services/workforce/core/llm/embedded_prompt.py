"""Prompts for the embedded model: OpenAI-style messages → chat-template messages, and the tool protocol.

Chat templates differ in what they accept (tool roles, tool_calls, content parts), so messages are
normalised to plain {role, content} text. Tool calls follow one JSON protocol, which constrained
decoding enforces: {"tool_calls": [{"name": …, "arguments": {…}}]} to call tools,
{"content": "…"} to answer.
"""

import json

MAX_CALLS_PER_TURN = 4


def tool_call_schema(tools: list[dict]) -> dict:
    """JSON schema of the reply when tools are offered: calls to the named tools, or a plain answer."""
    variants = []
    for spec in tools:
        function = spec.get("function", spec)
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        variants.append({
            "type": "object",
            "properties": {"name": {"type": "string", "enum": [function["name"]]}, "arguments": parameters},
            "required": ["name", "arguments"],
        })
    call = variants[0] if len(variants) == 1 else {"anyOf": variants}
    return {"anyOf": [
        {
            "type": "object",
            "properties": {
                "tool_calls": {"type": "array", "items": call, "minItems": 1, "maxItems": MAX_CALLS_PER_TURN}
            },
            "required": ["tool_calls"],
        },
        {"type": "object", "properties": {"content": {"type": "string"}}, "required": ["content"]},
    ]}


def prompt_messages(messages: list[dict], *, tools: list[dict] | None = None,
                    json_schema: dict | None = None) -> list[dict]:
    """Plain {role, content} messages, with the output instructions added to the system message."""
    out = [_plain(m) for m in messages]
    instruction = ""
    if json_schema is not None:
        instruction = "Reply with one JSON object valid against this JSON schema:\n" + json.dumps(json_schema)
    elif tools:
        instruction = _tool_instruction(tools)
    if instruction:
        if out and out[0]["role"] == "system":
            out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{instruction}"}
        else:
            out.insert(0, {"role": "system", "content": instruction})
    return out


def _plain(message: dict) -> dict:
    role = message.get("role", "user")
    content = _text(message.get("content"))
    if role == "assistant" and message.get("tool_calls"):
        calls = [
            {"name": c["function"]["name"], "arguments": _arguments(c["function"].get("arguments"))}
            for c in message["tool_calls"]
        ]
        content = "\n".join(filter(None, [content, json.dumps({"tool_calls": calls}, ensure_ascii=False)]))
    elif role == "tool":
        role = "user"
        content = f"Result of tool call {message.get('tool_call_id', '')}:\n{content}"
    elif role not in ("system", "user", "assistant"):
        role = "user"
    return {"role": role, "content": content}


def _text(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    # OpenAI content parts: keep the text ones
    return "\n".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")


def _arguments(arguments):
    try:
        return json.loads(arguments or "{}")
    except (TypeError, ValueError):
        return arguments


def _tool_instruction(tools: list[dict]) -> str:
    lines = [
        "You can call tools. To call tools reply with JSON "
        '{"tool_calls": [{"name": "<tool name>", "arguments": {...}}]}; '
        'to give your answer reply with JSON {"content": "<answer>"}.',
        "Tools:",
    ]
    for spec in tools:
        function = spec.get("function", spec)
        lines.append(
            f"- {function['name']}: {function.get('description', '')} "
            f"Arguments schema: {json.dumps(function.get('parameters') or {})}"
        )
    return "\n".join(lines)
