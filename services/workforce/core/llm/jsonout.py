"""Tolerant extraction of JSON from model output (for backends without structured outputs)."""

import json
import re

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)


def extract_json(text: str):
    """The first JSON object or array in the text: fenced, bare, or surrounded by prose.

    Raises ValueError when there is none.
    """
    text = (text or "").strip()
    candidates = [m.group(1).strip() for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder(strict=False)  # some grammar backends let raw control characters into strings
    for candidate in candidates:
        for start, ch in enumerate(candidate):
            if ch not in "{[":
                continue
            try:
                value, _ = decoder.raw_decode(candidate[start:])
                return value
            except (json.JSONDecodeError, RecursionError):  # deeply nested brackets are not JSON we can use
                continue
    raise ValueError("no JSON object found in the model output")
