"""A task's events → its trajectory: every planner call (input messages and output), the assignments,
and per subtask the worker, the tool trace, the worker's full message history and its result.

Event types (data fields): plan.created / plan.replanned (planner_messages, planner_output, subtasks),
plan.assigned (assignments, the coordinator's assignment call; and the plan's fields when the assignment was
quick enough that no plan.created was sent), subtask.started, tool.call (tool, arguments,
result, ok), subtask.succeeded / subtask.failed (content; trajectory: the worker's messages), replan.requested,
and on any event `dispatched` (the subtasks it set going: subtask_id, worker_type, attempt_id),
task.succeeded (the answer; planner_messages, planner_output of the synthesis call, which older streams kept
in an answer.created event), task.failed / cancelled; with plan review:
approval.requested (subtasks as proposed), approval.approved / approval.edited (decided_by, via, changes,
subtasks as run) / approval.rejected (reason), so training data keeps what a person changed.
"""

PLANNER_EVENTS = {"plan.created": "plan", "plan.replanned": "replan", "answer.created": "answer"}


def planner_call(kind: str, data: dict) -> str | None:
    """Which planner call an event records ("plan", "replan", "answer"), if any: plan.assigned carries the plan
    when no plan.created came before it, task.succeeded the synthesis."""
    if kind in ("plan.assigned", "task.succeeded"):
        told = "planner_messages" in data or "planner_output" in data
        return ("plan" if kind == "plan.assigned" else "answer") if told else None
    return PLANNER_EVENTS.get(kind)


def _subtask(trajectory: dict, subtask_id: str) -> dict:
    return trajectory["subtasks"].setdefault(
        subtask_id,
        {
            "id": subtask_id,
            "worker": "",
            "attempts": 0,
            "tool_calls": [],
            "messages": [],
            "tools": [],
            "status": "",
            "content": "",
        },
    )


def build_trajectory(events: list[dict]) -> dict:
    trajectory: dict = {
        "planner_calls": [],
        "assignments": [],
        "subtasks": {},
        "replans": [],
        "approvals": [],
        "events": events,
    }
    for event in sorted(events, key=lambda e: e["seq"]):
        kind, data, sid = event["type"], event.get("data") or {}, event.get("subtask_id", "")
        for dispatched in data.get("dispatched") or []:
            sub = _subtask(trajectory, dispatched.get("subtask_id", ""))
            sub["attempts"] += 1
            sub["worker"] = dispatched.get("worker_type") or sub["worker"]
        call = planner_call(kind, data)
        if call:
            trajectory["planner_calls"].append(
                {
                    "kind": call,
                    "seq": event["seq"],
                    "messages": data.get("planner_messages") or [],
                    "output": data.get("planner_output", ""),
                    "subtasks": data.get("subtasks") or [],
                }
            )
        if kind == "plan.assigned":
            trajectory["assignments"].append(data.get("assignments") or [])
        elif kind.startswith("approval."):
            trajectory["approvals"].append({"decision": kind.split(".", 1)[1], "seq": event["seq"],
                                            "message": event.get("message", ""), **data})
        elif kind == "replan.requested":
            trajectory["replans"].append({"subtask_id": sid, "reason": event.get("message", ""), **data})
        elif sid and kind.startswith("subtask.") or kind == "tool.call":
            sub = _subtask(trajectory, sid)
            if kind in ("subtask.succeeded", "subtask.failed"):
                sub["status"] = kind.split(".", 1)[1]
                sub["content"] = data.get("content", event.get("message", ""))
                worker = data.get("trajectory") or {}
                sub["messages"] = worker.get("messages") or sub["messages"]
                sub["tools"] = worker.get("tools") or sub["tools"]
            elif kind == "tool.call":
                sub["tool_calls"].append({k: data.get(k) for k in ("tool", "arguments", "result", "ok")})
    return trajectory


def terminal_status(events: list[dict]) -> str | None:
    for event in reversed(events):
        if event["type"] in ("task.succeeded", "task.failed", "task.cancelled"):
            return event["type"].split(".", 1)[1]
    return None
