"""Automatic tool selection: the LLM picks the tools of the library that the task needs. Names it
invents are dropped; `Finish` (the answer action) is always available and never listed."""

import json

from ...io import read_records

SCHEMA = {
    "type": "object",
    "properties": {"reasoning": {"type": "string"}, "tools": {"type": "array", "items": {"type": "string"}}},
    "required": ["reasoning", "tools"],
    "additionalProperties": False,
}


def load_library(path) -> list[dict]:
    tools = read_records(path)
    for t in tools:
        if not {"name", "definition", "usage"} <= t.keys():
            raise ValueError(f"{path}: every tool needs name, definition and usage")
    return tools


def selection_prompt(task: str, library: list[dict], examples: list[dict]) -> list[dict]:
    listed = "\n".join(f"- {t['name']}: {t['definition']}" for t in library)
    shown = "\n".join(f"- {e['question']}" for e in examples[:5])
    return [
        {"role": "system", "content": "You choose the tools an agent needs for a task."},
        {
            "role": "user",
            "content": f"Task: {task}\nExample questions:\n{shown}\n\nTool library:\n{listed}\n\n"
            "Select every tool that helps answer such questions and no others. Reply with JSON: "
            '{"reasoning": "...", "tools": ["ToolName", ...]}.',
        },
    ]


async def select_tools(llm, task: str, library: list[dict], examples: list[dict]) -> list[dict]:
    result = await llm.chat(
        selection_prompt(task, library, examples),
        role="autoact-meta",
        json_schema=SCHEMA,
        schema_name="tool_selection",
        temperature=0.0,
    )
    try:
        names = json.loads(result.content[result.content.index("{") : result.content.rindex("}") + 1])[
            "tools"
        ]
    except (ValueError, KeyError, TypeError):
        raise RuntimeError(
            f"tool selection: the model did not return the expected JSON: {result.content[:300]!r}"
        )
    by_name = {t["name"].lower(): t for t in library}
    chosen = [by_name[n.lower()] for n in dict.fromkeys(names) if isinstance(n, str) and n.lower() in by_name]
    if not chosen:
        raise RuntimeError(f"tool selection: none of {names!r} is in the library")
    return chosen
