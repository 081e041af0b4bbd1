"""The tool registry of worker-tool: HTTP tools from OpenAPI specs, Python tools, and ToolBench/RapidAPI
documents (`{Name, function, input}`), each a `Tool` with a JSON schema and a timeout.

A registry file (WF_TOOL_REGISTRY, JSON or YAML) lists the sources:
    python:    ["package.module:attribute", ...]    # a Tool, a list of Tools, or a function returning them
    openapi:   [{spec: path, base_url?: url, timeout_s?: 30, headers?: {...}}]
    toolbench: [{docs: path, endpoint: url, timeout_s?: 30, headers?: {...}}]
A ToolBench tool is executed by POSTing `{"api_name": NAME, "tool_input": {arguments}}` to its endpoint
(a RapidAPI bridge or a simulator); the response body is the observation.
"""

import importlib
import json
import re
from pathlib import Path
from urllib.parse import quote

import httpx
import yaml

from ...core.toollearning.tooldocs import schema_from_toolbench
from ..tools import Tool

METHODS = ("get", "post", "put", "patch", "delete")


class RegistryError(ValueError):
    pass


class ToolRegistry:
    def __init__(self, tools: list[Tool] | None = None):
        self.tools: dict[str, Tool] = {}
        for tool in tools or []:
            self.add(tool)

    def add(self, tool: Tool) -> None:
        if tool.name in self.tools:
            raise RegistryError(f"two tools are named {tool.name!r}")
        self.tools[tool.name] = tool

    def __len__(self) -> int:
        return len(self.tools)

    def all(self) -> "list[Tool]":
        return list(self.tools.values())

    def docs(self) -> list[dict]:
        """`{name, description, parameters}` for the role services."""
        return [
            {"name": t.name, "description": t.description, "parameters": t.parameters} for t in self.all()
        ]


def _read(path: str | Path):
    text = Path(path).read_text(encoding="utf-8")
    return json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)


def load_registry(path: str | Path | None) -> ToolRegistry:
    registry = ToolRegistry()
    if not path:
        return registry
    try:
        config = _read(path) or {}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise RegistryError(f"cannot read the tool registry {path}: {exc}") from exc
    base = Path(path).parent
    for ref in config.get("python", []):
        for tool in python_tools(ref):
            registry.add(tool)
    for entry in config.get("openapi", []):
        spec = _read(base / entry["spec"]) if "spec" in entry else entry["document"]
        for tool in openapi_tools(
            spec, entry.get("base_url"), entry.get("timeout_s", 30.0), entry.get("headers")
        ):
            registry.add(tool)
    for entry in config.get("toolbench", []):
        docs = _read(base / entry["docs"])
        for tool in toolbench_tools(
            docs, entry["endpoint"], entry.get("timeout_s", 30.0), entry.get("headers")
        ):
            registry.add(tool)
    return registry


# ---- Python tools ----


def python_tools(ref: str) -> list[Tool]:
    module_name, _, attribute = ref.partition(":")
    try:
        value = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise RegistryError(f"python tool {ref!r} not found: {exc}") from exc
    if callable(value) and not isinstance(value, Tool):
        value = value()
    tools = [value] if isinstance(value, Tool) else list(value)
    if not all(isinstance(t, Tool) for t in tools):
        raise RegistryError(f"python tool {ref!r} must be a Tool or a list of Tools")
    return tools


# ---- OpenAPI tools ----


def _resolve(spec: dict, node):
    """Follow local `$ref`s (`#/components/...`)."""
    if isinstance(node, dict):
        if "$ref" in node and isinstance(node["$ref"], str) and node["$ref"].startswith("#/"):
            target = spec
            for part in node["$ref"][2:].split("/"):
                target = target[part]
            return _resolve(spec, target)
        return {k: _resolve(spec, v) for k, v in node.items()}
    if isinstance(node, list):
        return [_resolve(spec, v) for v in node]
    return node


def openapi_tools(
    spec: dict, base_url: str | None = None, timeout_s: float = 30.0, headers: dict | None = None
) -> list[Tool]:
    """One tool per operation: path, query and header parameters plus the JSON body's properties."""
    if not isinstance(spec, dict) or "paths" not in spec:
        raise RegistryError("an OpenAPI document needs 'paths'")
    base = base_url or ((spec.get("servers") or [{}])[0].get("url"))
    if not base:
        raise RegistryError("no base_url given and the OpenAPI document has no servers[0].url")
    tools = []
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method not in item:
                continue
            op = _resolve(spec, item[method])
            params = _resolve(spec, item.get("parameters", [])) + op.get("parameters", [])
            name = op.get("operationId") or re.sub(r"\W+", "_", f"{method}_{path}").strip("_")
            tools.append(_openapi_tool(name, op, method, path, params, base, timeout_s, headers or {}))
    return tools


def _openapi_tool(name, op, method, path, params, base, timeout_s, headers) -> Tool:
    properties, required, where = {}, [], {}
    for p in params:
        properties[p["name"]] = dict(p.get("schema") or {"type": "string"}) | (
            {"description": p["description"]} if p.get("description") else {}
        )
        where[p["name"]] = p.get("in", "query")
        if p.get("required"):
            required.append(p["name"])
    body = ((op.get("requestBody") or {}).get("content") or {}).get("application/json", {}).get("schema")
    if body:
        for key, prop in (body.get("properties") or {}).items():
            properties[key] = prop
            where[key] = "body"
        required += [k for k in body.get("required", []) if k in properties]
    schema = {"type": "object", "properties": properties, "required": required}
    description = op.get("summary") or op.get("description") or f"{method.upper()} {path}"

    async def call(ctx, **arguments):
        url = base.rstrip("/") + path
        query, head, payload = {}, dict(headers), {}
        for key, value in arguments.items():
            place = where.get(key, "query")
            if place == "path":
                url = url.replace("{" + key + "}", quote(str(value), safe=""))
            elif place == "header":
                head[key] = str(value)
            elif place == "body":
                payload[key] = value
            else:
                query[key] = value
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.request(
                method.upper(), url, params=query, headers=head, json=payload if body else None
            )
        return (
            f"HTTP {response.status_code}: {response.text}" if response.status_code >= 400 else response.text
        )

    return Tool(name, description, schema, call, timeout_s=timeout_s)


# ---- ToolBench / RapidAPI documents ----


def toolbench_tools(
    docs: list[dict], endpoint: str, timeout_s: float = 30.0, headers: dict | None = None
) -> list[Tool]:
    tools = []
    for doc in docs:
        if not isinstance(doc, dict) or "Name" not in doc:
            raise RegistryError("a ToolBench tool document needs {Name, function, input}")
        tools.append(_toolbench_tool(doc, endpoint, timeout_s, headers or {}))
    return tools


def _toolbench_tool(doc: dict, endpoint: str, timeout_s: float, headers: dict) -> Tool:
    name = doc["Name"]

    async def call(ctx, **arguments):
        async with httpx.AsyncClient(timeout=timeout_s) as client:
            response = await client.post(
                endpoint, json={"api_name": name, "tool_input": arguments}, headers=headers
            )
        return (
            f"HTTP {response.status_code}: {response.text}" if response.status_code >= 400 else response.text
        )

    return Tool(
        name,
        doc.get("function", ""),
        schema_from_toolbench(doc.get("input") or {}),
        call,
        timeout_s=timeout_s,
    )
