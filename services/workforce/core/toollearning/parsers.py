"""Parse and validate model outputs into typed messages; raise InvalidOutput with a clear reason."""

import json
import re
from functools import lru_cache

import jsonschema

from .messages import (
    CallerAction,
    Conclusion,
    InvalidOutput,
    AutoActPlanStep,
    AlphaUmiPlannerStep,
    Reflection,
    ToolArgument,
)

NEXT_RE = re.compile(r"Next:\s*(caller|conclusion|give up)\b\.?", re.IGNORECASE)
BRACKET_RE = re.compile(r"^\s*(\w+)\s*\[(.*)\]")


def _strip_eos(text: str) -> str:
    return text.split("</s>")[0].strip()


def parse_alpha_umi_planner(text: str, default_next: str | None = None) -> AlphaUmiPlannerStep:
    """`<thought> Next: caller|conclusion|give up.`; the first tag wins (what follows is ignored)."""
    text = _strip_eos(text)
    match = NEXT_RE.search(text)
    if match is None:
        if default_next is None:
            raise InvalidOutput("the planner output has no 'Next: caller | conclusion | give up' tag")
        return AlphaUmiPlannerStep(text, default_next)
    return AlphaUmiPlannerStep(text[: match.start()].strip(), match.group(1).lower())


def parse_caller(text: str, tools: dict[str, dict]) -> CallerAction:
    """`Action: NAME\\nAction Input: {json}`, checked against the tool names and the tool's JSON schema.

    `tools` maps a tool name to its JSON schema of arguments.
    """
    text = _strip_eos(text)
    if "Action:" not in text:
        raise InvalidOutput("the caller output has no 'Action:' line")
    name_part = text[text.rindex("Action:") + len("Action:") :]
    args_text = "{}"
    if "Action Input:" in name_part:
        name_part, _, args_text = name_part.partition("Action Input:")
    elif "Action Input:" in text:
        args_text = text[text.rindex("Action Input:") + len("Action Input:") :]
    name = name_part.strip().splitlines()[0].strip() if name_part.strip() else ""
    if not name:
        raise InvalidOutput("the caller output names no tool after 'Action:'")
    if name not in tools:
        raise InvalidOutput(f"unknown tool {name!r}; the tools are: {', '.join(sorted(tools)) or '(none)'}")
    arguments = parse_arguments(args_text.strip() or "{}")
    validate_arguments(name, arguments, tools[name])
    return CallerAction(name, arguments)


def parse_arguments(text: str) -> dict:
    try:
        value, end = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as exc:
        raise InvalidOutput(f"Action Input is not valid JSON: {exc.msg} at char {exc.pos}") from exc
    if not isinstance(value, dict):
        raise InvalidOutput(f"Action Input must be a JSON object, got {type(value).__name__}")
    return value


@lru_cache(maxsize=512)
def _validator(schema_json: str):
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate_arguments(name: str, arguments: dict, schema: dict | None) -> None:
    if not schema:
        return
    try:
        validator = _validator(json.dumps(schema, sort_keys=True))
    except jsonschema.SchemaError as exc:
        raise InvalidOutput(f"the schema of {name} is invalid: {exc.message}") from exc
    error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(root)"
        raise InvalidOutput(f"arguments of {name} do not match its schema at {where}: {error.message}")


def parse_conclusion(text: str) -> Conclusion:
    answer = _strip_eos(text)
    if answer.lower().startswith("conclusion:"):
        answer = answer[len("conclusion:") :].strip()
    if not answer:
        raise InvalidOutput("the summarizer returned an empty answer")
    return Conclusion(answer)


def _field(text: str, label: str) -> str | None:
    match = re.search(
        rf"{label}\s*(?:\d+\s*)?:\s*(.*?)(?=\n\s*(?:Thought|Action|Observation)\s*(?:\d+\s*)?:|\Z)",
        text,
        re.DOTALL | re.IGNORECASE,
    )
    return match.group(1).strip() if match else None


def parse_autoact_plan(text: str, action_types: list[str]) -> AutoActPlanStep:
    """AutoAct plan agent: `Thought: …` then `Action: TYPE` (a bracket argument, if any, is ignored)."""
    text = _strip_eos(text)
    thought = _field(text, "Thought") or ""
    action = _field(text, "Action")
    if action is None:
        raise InvalidOutput("the plan output has no 'Action:' line")
    kind = re.match(r"\s*(\w+)", action)
    if not kind:
        raise InvalidOutput("the plan output names no action type")
    wanted = {t.lower(): t for t in action_types}
    if kind.group(1).lower() not in wanted:
        raise InvalidOutput(f"unknown action type {kind.group(1)!r}; valid: {', '.join(action_types)}")
    return AutoActPlanStep(thought, wanted[kind.group(1).lower()])


def parse_tool_argument(text: str) -> ToolArgument:
    """AutoAct tool agent: the bracket argument, written bare or as `Type[argument]`."""
    text = _strip_eos(text)
    match = BRACKET_RE.match(text)
    if match:
        argument = match.group(2)
    else:  # a completion after "Action: Type[": the argument, its closing bracket, maybe more lines
        first = text.strip().splitlines()[0] if text.strip() else ""
        argument = first[: first.rindex("]")] if "]" in first else first
    argument = argument.strip().strip("[]").strip()
    if not argument:
        raise InvalidOutput("the tool agent returned an empty argument")
    return ToolArgument(argument)


def parse_reflection(text: str) -> Reflection:
    """AutoAct reflect agent: `Thought: …` then `Action: Reflect[right|wrong]`."""
    text = _strip_eos(text)
    match = re.search(r"Reflect\s*\[\s*(right|wrong)\s*\]", text, re.IGNORECASE)
    if match is None:
        raise InvalidOutput("the reflect output has no 'Reflect[right]' or 'Reflect[wrong]'")
    return Reflection(_field(text, "Thought") or "", match.group(1).lower())
