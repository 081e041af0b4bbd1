"""Tool documents: the ToolBench/RapidAPI `{Name, function, input}` form and JSON schemas.

A ToolBench document lists arguments as `{arg: "type, description"}` without saying which are
required. Converted to a JSON schema, each property keeps its original text under `x-toolbench-input`
so that the document renders back byte for byte (the α-UMi prompts embed it verbatim).
"""

import json

NAME_CHARS = 64  # α-UMi keeps the last 64 characters of a tool name
FUNCTION_CHARS = 256  # and the first 256 of its description
TYPES = {
    "string": "string",
    "integer": "integer",
    "number": "number",
    "boolean": "boolean",
    "float": "number",
    "int": "integer",
    "bool": "boolean",
    "array": "array",
    "object": "object",
}
RAW_KEY = "x-toolbench-input"


def schema_from_toolbench(inputs: dict) -> dict:
    """JSON schema of a ToolBench `input` mapping."""
    properties = {}
    for arg, text in (inputs or {}).items():
        text = str(text)
        kind, _, description = text.partition(", ")
        prop: dict = {"description": description.strip(), RAW_KEY: text}
        if kind.strip().lower() in TYPES:
            prop["type"] = TYPES[kind.strip().lower()]
        properties[arg] = prop
    return {"type": "object", "properties": properties}


def toolbench_doc(name: str, description: str, parameters: dict | None) -> dict:
    """The `{Name, function, input}` document α-UMi shows for a tool (key order as in its data)."""
    inputs = {}
    for arg, prop in ((parameters or {}).get("properties") or {}).items():
        prop = prop if isinstance(prop, dict) else {}
        if RAW_KEY in prop:
            inputs[arg] = prop[RAW_KEY]
        else:
            kind = prop.get("type", "string")
            kind = kind[0] if isinstance(kind, list) and kind else kind
            inputs[arg] = f"{kind}, {prop.get('description', '')}"
    return {"Name": name[-NAME_CHARS:], "function": (description or "")[:FUNCTION_CHARS], "input": inputs}


def doc_block(docs: list[dict]) -> str:
    """One JSON object per line, each followed by a newline."""
    return "".join(json.dumps(doc) + "\n" for doc in docs)


def tool_names(docs: list[dict]) -> str:
    return ", ".join(doc["Name"] for doc in docs)
