"""What a worker's model may say at each step, and reading it: call tools, or finish with {content, failed}.

Two ways to ask (WF_LLM_TOOL_MODE):
- `native`: OpenAI tool calls; a reply without tool calls must be the JSON result.
- `json`: every step is one schema-constrained JSON object — `{"tool": name, "arguments": {...}}` or the
  result `{"content": ..., "failed": ...}` — so even a weak model cannot write a malformed step. This is the
  default with the local model server.
"""

import json
from dataclasses import dataclass, field

import jsonschema

from ..core.llm import extract_json
from ..core.llm.client import ChatResult, ToolCall
from ..core.llm.degenerate import loop_error

def result_schema(max_chars: int = 4000) -> dict:
    """The final {content, failed}; content bounded (WF_RESULT_CHARS) so a rambling model is cut short."""
    return {
        "type": "object",
        "properties": {"content": {"type": "string", "minLength": 1, "maxLength": max_chars},
                       "failed": {"type": "boolean"}},
        "required": ["content", "failed"],
        "additionalProperties": False,
    }


RESULT_SCHEMA = result_schema()


class StepError(ValueError):
    """The model's step is unusable; the message is fed back to it."""


@dataclass
class Step:
    calls: list[ToolCall] = field(default_factory=list)
    content: str = ""
    failed: bool = False

    @property
    def final(self) -> bool:
        return not self.calls


def _bounded(parameters: dict, max_chars: int) -> dict:
    """Tool parameters with every string bounded (WF_TOOL_ARG_CHARS), so that a constrained step ends soon."""
    out = dict(parameters or {"type": "object"})
    props = {}
    for name, sub in (out.get("properties") or {}).items():
        sub = dict(sub)
        if sub.get("type") == "string" and "enum" not in sub:
            sub["maxLength"] = min(int(sub.get("maxLength", max_chars)), max_chars)
        props[name] = sub
    if props:
        out["properties"] = props
    return out


def action_schema(tools: list, allow_result: bool = True, result_chars: int = 4000, arg_chars: int = 4000) -> dict:
    """One JSON object per step: a tool call (one alternative per tool) or, when allowed, the result."""
    alternatives = [
        {"type": "object",
         "properties": {"tool": {"const": t.name}, "arguments": _bounded(t.parameters, arg_chars)},
         "required": ["tool", "arguments"], "additionalProperties": False}
        for t in tools
    ]
    if not allow_result:
        return alternatives[0] if len(alternatives) == 1 else {"anyOf": alternatives}
    return {"anyOf": [*alternatives, result_schema(result_chars)]}


def tool_guide(tools: list) -> str:
    """How to call each tool in json mode: what it does and the object to write."""
    lines = []
    for t in tools:
        params = t.parameters or {}
        props = params.get("properties") or {}
        required = params.get("required", list(props))
        example = {name: "..." if sub.get("type") == "string" else f"<{sub.get('type', 'value')}>"
                   for name, sub in props.items() if name in required}
        first = t.description.strip().split(". ")[0].rstrip(".")
        lines.append(f'- {t.name}: {first}. Write {json.dumps({"tool": t.name, "arguments": example})}')
    return "\n".join(lines)


def read_result(text: str) -> tuple[str, bool]:
    """The final {content, failed}; StepError when the text is not that object or its content is empty."""
    try:
        value = extract_json(text)
    except ValueError:
        raise StepError('the answer is not JSON: reply with {"content": "...", "failed": false}') from None
    if not isinstance(value, dict) or "content" not in value:
        raise StepError('the answer must be a JSON object with "content" and "failed"')
    content = value["content"]
    if not isinstance(content, str):
        content = json.dumps(content, ensure_ascii=False)
    if not content.strip():
        raise StepError('"content" is empty: write the result of the subtask')
    if (loop := loop_error(content)) is not None:
        raise StepError(loop)
    failed = value.get("failed", False)
    return content.strip(), failed if isinstance(failed, bool) else str(failed).lower() == "true"


def read_native(result: ChatResult) -> Step:
    if result.tool_calls:
        return Step(calls=list(result.tool_calls))
    content, failed = read_result(result.content)
    return Step(content=content, failed=failed)


def read_json_step(result: ChatResult, tools: dict, index: int) -> Step:
    """A json-mode step → a tool call or the result (validated against the tool's parameters)."""
    if result.tool_calls:  # a backend may still answer with native calls: accept them
        return Step(calls=list(result.tool_calls))
    try:
        value = extract_json(result.content)
    except ValueError:
        raise StepError("the step is not JSON" + (" (cut at the token limit)" if result.truncated else "")) from None
    if isinstance(value, dict) and "tool" in value:
        name = value.get("tool")
        if name not in tools:
            raise StepError(f"unknown tool {name!r}; tools: {', '.join(tools)}")
        arguments = value.get("arguments") if isinstance(value.get("arguments"), dict) else {}
        try:
            jsonschema.validate(arguments, tools[name].parameters)
        except jsonschema.ValidationError as exc:
            raise StepError(f"invalid arguments for {name}: {exc.message}") from None
        return Step(calls=[ToolCall(id=f"step_{index}", name=name, arguments=json.dumps(arguments))])
    content, failed = read_result(result.content)
    return Step(content=content, failed=failed)
