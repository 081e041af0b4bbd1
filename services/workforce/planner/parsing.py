"""Turn the planner model's output into validated subtasks: JSON (structured or not) or the paper's
<tasks><task>…</task></tasks> form."""

import re

from ..core.llm import extract_json

_TASK = re.compile(r"<task>(.*?)</task>", re.DOTALL | re.IGNORECASE)


class PlanError(ValueError):
    """The model's plan is unusable; the message is fed back to the model on retry."""


def parse_subtasks(text: str, max_subtasks: int) -> list[dict]:
    """[{id, content, dependencies}] with unique ids, known dependencies and no cycles."""
    items = _from_json(text)
    if items is None:
        found = [t.strip() for t in _TASK.findall(text or "") if t.strip()]
        if not found:
            raise PlanError("no subtasks found: answer with JSON {\"subtasks\": [...]}")
        # The paper's form has no dependencies: each subtask follows the previous one.
        items = [{"id": str(i), "content": c, "dependencies": [str(i - 1)] if i > 1 else []}
                 for i, c in enumerate(found, 1)]
    return validate_subtasks(items, max_subtasks)


def _from_json(text: str):
    try:
        value = extract_json(text)
    except ValueError:
        return None
    if isinstance(value, dict):
        value = value.get("subtasks", value.get("tasks"))
    if not isinstance(value, list):
        return None
    return value


def validate_subtasks(items: list, max_subtasks: int, known_ids: set[str] = frozenset()) -> list[dict]:
    if not items:
        raise PlanError("the plan has no subtasks")
    if len(items) > max_subtasks:
        raise PlanError(f"the plan has {len(items)} subtasks; at most {max_subtasks} are allowed")
    out, ids = [], set()
    for i, item in enumerate(items, 1):
        if isinstance(item, str):
            item = {"id": str(i), "content": item, "dependencies": []}
        if not isinstance(item, dict):
            raise PlanError(f"subtask {i} is not an object")
        sid = str(item.get("id") or i).strip()
        content = str(item.get("content") or "").strip()
        if not content:
            raise PlanError(f"subtask {sid} has no content")
        if sid in ids:
            raise PlanError(f"duplicate subtask id {sid}")
        ids.add(sid)
        deps = item.get("dependencies") or []
        if not isinstance(deps, list):
            raise PlanError(f"dependencies of subtask {sid} must be a list")
        out.append({"id": sid, "content": content, "dependencies": [str(d).strip() for d in deps]})
    for item in out:
        for dep in item["dependencies"]:
            if dep not in ids and dep not in known_ids:
                raise PlanError(f"subtask {item['id']} depends on unknown subtask {dep}")
            if dep == item["id"]:
                raise PlanError(f"subtask {dep} depends on itself")
    check_acyclic({s["id"]: [d for d in s["dependencies"] if d in ids] for s in out})
    return out


def check_acyclic(graph: dict[str, list[str]]) -> None:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]):
        if state.get(node) == 1:
            raise PlanError("dependencies form a cycle: " + " → ".join(path + [node]))
        if state.get(node) == 2:
            return
        state[node] = 1
        for dep in graph.get(node, []):
            visit(dep, path + [node])
        state[node] = 2

    for node in graph:
        visit(node, [])


def parse_answer(text: str) -> str:
    try:
        value = extract_json(text)
    except ValueError:
        return (text or "").strip()
    if isinstance(value, dict) and "answer" in value:
        return str(value["answer"]).strip()
    return (text or "").strip()
