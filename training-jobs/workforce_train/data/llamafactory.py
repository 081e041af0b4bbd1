"""LLaMA-Factory dataset files: sharegpt-format records and the `dataset_info.json` that registers them."""

import json
from pathlib import Path

from ..io import read_json, write_json

_FROM = {"user": "human", "assistant": "gpt", "tool": "observation", "function": "observation"}


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "\n".join(p.get("text", "") for p in content if isinstance(p, dict))
    return "" if content is None else json.dumps(content, ensure_ascii=False)


def to_sharegpt(messages: list[dict]) -> tuple[str, list[dict]]:
    """OpenAI messages → (system, conversations). Consecutive turns of one speaker are merged, since
    sharegpt alternates human / gpt."""
    system = "\n\n".join(_text(m.get("content")) for m in messages if m.get("role") == "system")
    turns: list[dict] = []
    for m in messages:
        if m.get("role") == "system":
            continue
        speaker = _FROM.get(m.get("role"), "human")
        value = _text(m.get("content"))
        if turns and turns[-1]["from"] == speaker:
            turns[-1]["value"] += "\n\n" + value
        else:
            turns.append({"from": speaker, "value": value})
    return system, turns


def register(directory: str | Path, name: str, file_name: str, *, ranking: bool = False) -> Path:
    """Add (or replace) a dataset entry in `directory/dataset_info.json`."""
    path = Path(directory) / "dataset_info.json"
    info = read_json(path) if path.exists() else {}
    columns = {"messages": "conversations", "system": "system"}
    entry = {"file_name": file_name, "formatting": "sharegpt", "columns": columns}
    if ranking:
        entry["ranking"] = True
        columns.update(chosen="chosen", rejected="rejected")
    info[name] = entry
    write_json(path, info)
    return path
