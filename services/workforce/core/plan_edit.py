"""A person's edit of a proposed plan, checked as strictly as the planner's and the coordinator's own output.

Shared by the gateway (which refuses a bad edit with a clear error before anything is written) and the
coordinator (which checks again when it applies the decision). Pure functions, no I/O.
"""

import graphlib
import re

from ..v1 import channel_pb2, common_pb2

ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
MAX_CONTENT_CHARS = 8000


class PlanEditError(ValueError):
    """The edited plan is unusable; the message says what is wrong."""


def check_edit(items: list[dict], proposal: channel_pb2.PlanProposal, plan: channel_pb2.PlanState,
               max_subtasks: int, worker_types: set[str] | None = None) -> list[channel_pb2.Subtask]:
    """[{id, content, worker_type, dependencies}] → pending subtasks, or PlanEditError.

    The rules of the planner (non-empty content, unique ids, at most max_subtasks, dependencies that exist, no
    cycles) and of the coordinator (a registered worker type per subtask). Ids already used elsewhere in the plan
    may not be reused; dependencies may name the edited subtasks or subtasks already done (as in a replan).
    worker_types=None skips the registry check (the coordinator, which trusts the gateway's look at the registry).
    """
    if not isinstance(items, list) or not items:
        raise PlanEditError("it has no subtasks")
    if len(items) > max_subtasks:
        raise PlanEditError(f"it has {len(items)} subtasks; at most {max_subtasks} are allowed")
    proposed = {s.subtask_id for s in proposal.subtasks}
    taken = {s.subtask_id for s in plan.subtasks} - proposed
    done = {s.subtask_id for s in plan.subtasks if s.status == common_pb2.SUBTASK_STATUS_DONE}
    out: list[channel_pb2.Subtask] = []
    ids: set[str] = set()
    for n, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise PlanEditError(f"subtask {n} is not an object")
        sid = str(item.get("id") or "").strip()
        if not ID.match(sid):
            raise PlanEditError(f"subtask {n}: id {sid!r} must be 1-64 letters, digits, '.', '_' or '-'")
        if sid in ids:
            raise PlanEditError(f"duplicate subtask id {sid}")
        if sid in taken:
            raise PlanEditError(f"subtask id {sid} is already used by another subtask of this task")
        ids.add(sid)
        content = str(item.get("content") or "").strip()
        if not content:
            raise PlanEditError(f"subtask {sid} has no content")
        if len(content) > MAX_CONTENT_CHARS:
            raise PlanEditError(f"subtask {sid} is longer than {MAX_CONTENT_CHARS} characters")
        worker = str(item.get("worker_type") or "").strip()
        if not worker:
            raise PlanEditError(f"subtask {sid} has no worker type")
        if worker_types is not None and worker not in worker_types:
            known = ", ".join(sorted(worker_types)) or "none"
            raise PlanEditError(f"unknown worker type {worker!r} for subtask {sid}; registered: {known}")
        deps = item.get("dependencies") or []
        if not isinstance(deps, list):
            raise PlanEditError(f"dependencies of subtask {sid} must be a list")
        deps = list(dict.fromkeys(str(d).strip() for d in deps if str(d).strip()))
        out.append(channel_pb2.Subtask(subtask_id=sid, content=content, assignee=worker, dependencies=deps,
                                       status=common_pb2.SUBTASK_STATUS_PENDING))
    for s in out:
        for dep in s.dependencies:
            if dep == s.subtask_id:
                raise PlanEditError(f"subtask {dep} depends on itself")
            if dep not in ids and dep not in done:
                raise PlanEditError(f"subtask {s.subtask_id} depends on unknown subtask {dep}")
    try:
        graphlib.TopologicalSorter({s.subtask_id: [d for d in s.dependencies if d in ids] for s in out}).prepare()
    except graphlib.CycleError as exc:
        raise PlanEditError("dependencies form a cycle: " + " → ".join(map(str, exc.args[1]))) from exc
    return out


def changes(before: list[channel_pb2.Subtask], after: list[channel_pb2.Subtask]) -> dict:
    """What a person changed: added and dropped ids, and per kept id the fields that differ (before, after)."""
    old = {s.subtask_id: s for s in before}
    new = {s.subtask_id: s for s in after}
    changed = []
    for sid, s in new.items():
        o = old.get(sid)
        if o is None:
            continue
        fields = {}
        if o.content != s.content:
            fields["content"] = [o.content, s.content]
        if o.assignee != s.assignee:
            fields["worker_type"] = [o.assignee, s.assignee]
        if list(o.dependencies) != list(s.dependencies):
            fields["dependencies"] = [list(o.dependencies), list(s.dependencies)]
        if fields:
            changed.append({"id": sid, **fields})
    return {"added": [sid for sid in new if sid not in old], "dropped": [sid for sid in old if sid not in new],
            "changed": changed}


def subtask_view(s: channel_pb2.Subtask) -> dict:
    return {"id": s.subtask_id, "content": s.content, "worker_type": s.assignee, "dependencies": list(s.dependencies)}
