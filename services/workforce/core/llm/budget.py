"""Token caps sized to a JSON schema: the most tokens a schema-valid answer can take, so that a model that
rambles inside a string is cut where the schema would end it anyway, not at a global cap."""

CHARS_PER_TOKEN = 1.0       # the worst case: a bounded string always closes within its cap (junk can be 1 char a token)
UNBOUNDED_STRING = 2000     # characters assumed for a string without maxLength
UNBOUNDED_ITEMS = 16


def schema_tokens(schema: dict, depth: int = 0) -> int:
    """An upper estimate of the tokens of the longest JSON value the schema admits (whitespace-free)."""
    if depth > 12 or not isinstance(schema, dict):
        return 64
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return max(schema_tokens(s, depth + 1) for s in schema[key])
    if "const" in schema:
        return _text_tokens(str(schema["const"])) + 2
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return max(_text_tokens(str(v)) for v in schema["enum"]) + 2
    kind = schema.get("type")
    if isinstance(kind, list):
        return max(schema_tokens({**schema, "type": k}, depth + 1) for k in kind)
    if kind == "string":
        return _text_tokens("x" * int(schema.get("maxLength", UNBOUNDED_STRING))) + 2
    if kind in ("integer", "number"):
        return 12
    if kind in ("boolean", "null"):
        return 2
    if kind == "array":
        items = int(schema.get("maxItems", UNBOUNDED_ITEMS))
        prefix = schema.get("prefixItems") or []
        total = sum(schema_tokens(s, depth + 1) + 1 for s in prefix)
        return total + items * (schema_tokens(schema.get("items", {}), depth + 1) + 1) + 2
    if kind == "object" or "properties" in schema:
        props = schema.get("properties") or {}
        return sum(_text_tokens(name) + 3 + schema_tokens(sub, depth + 1) for name, sub in props.items()) + 2
    return 64


def max_tokens_for(schema: dict, cap: int) -> int:
    """The schema's estimate plus a margin, never above the configured cap."""
    return max(16, min(cap, int(schema_tokens(schema) * 1.1) + 16))


def _text_tokens(text: str) -> int:
    return int(len(text) / CHARS_PER_TOKEN) + 1
