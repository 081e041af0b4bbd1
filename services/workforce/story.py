"""One task's story, told from its events (every service writes them): what the planner saw and wrote, the
repairs and retries, the assignment, each subtask's attempts and tool calls, the answer or why it failed.
Used by `workforce show TASK` and `workforce submit`."""

import json
import shlex
from datetime import datetime

SERVICE_OF = {"task": "gateway", "plan": "planner", "planner": "planner", "answer": "planner",
              "assignment": "coordinator", "replan": "coordinator", "subtask": "worker", "tool": "worker"}


def timestamp(event: dict) -> float | None:
    try:
        return datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()
    except (KeyError, ValueError):
        return None


def _when(event: dict, start: float | None) -> str:
    t = timestamp(event)
    return "       " if t is None or start is None else f"{t - start:+7.1f}s"


def _short(text, limit: int = 160) -> str:
    text = " ".join(str(text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def event_line(event: dict, start: float | None = None) -> str:
    """One line per event, for live watching."""
    where = f" [{event['subtask_id']}]" if event.get("subtask_id") else ""
    source = (event.get("source") or "").split("-")[0]
    return f"{_when(event, start)} {source:<12} {event['type']}{where} {_short(event.get('message', ''))}".rstrip()


def details(event: dict, verbose: bool = False) -> list[str]:
    """The lines under an event that explain it: plans, repairs, attempts, tool calls, trajectories."""
    data = event.get("data") or {}
    kind = event.get("type", "")
    out: list[str] = []
    for s in data.get("subtasks", []) if kind in ("plan.created", "plan.replanned", "plan.assigned") else []:
        deps = ", ".join(s.get("dependencies", [])) or "-"
        out.append(f"{s.get('id')}. {_short(s.get('content'), 140)}  (after: {deps})")
    assignment = data.get("assignment") or {}   # the coordinator's call, on plan.assigned / approval.requested
    for sid, a in (assignment.get("assignments") or {}).items():
        out.append(f"{sid} → {a.get('worker')}")
    for repair in data.get("repairs", []):
        out.append(f"repaired: {repair}")
    for i, attempt in enumerate(data.get("attempts", []), 1):
        if attempt.get("error") or verbose:
            by = f" ({attempt['model']})" if attempt.get("model") else ""   # which model answered: a trained one?
            out.append(f"try {i}{by}: {attempt.get('error') or 'ok'}")
            if attempt.get("raw") and (verbose or attempt.get("error")):
                out.append(f"   raw output: {_short(attempt['raw'], 300 if not verbose else 4000)}")
    if kind == "tool.call":
        args = data.get("arguments", "")
        out.append(f"{data.get('tool')}({_short(args, 200 if not verbose else 4000)}) "
                   f"{_call_outcome(data)} in {float(data.get('duration_s') or 0):.2f} s")
        out.append(f"   → {_short(data.get('result', ''), 200 if not verbose else 4000)}")
    for f in data.get("files") or [] if kind == "subtask.succeeded" else []:   # what the worker produced
        out.append(f"file {f.get('name')} ({f.get('size', 0)} bytes): workforce download {event.get('task_id')} "
                   f"{event.get('subtask_id')} {shlex.quote(str(f.get('name')))}")
    if verbose and kind in ("subtask.succeeded", "subtask.failed"):
        for m in (data.get("trajectory") or {}).get("messages", []):
            out.append(f"   {m.get('role')}: {_short(m.get('content'), 600)}")
    for d in data.get("dispatched") or []:   # what this event's transition sent next: after its own trajectory
        out.append(f"dispatched {d.get('subtask_id')} to {d.get('worker_type')} ({d.get('attempt_id')})")
    if verbose:
        for key, source in (("planner_messages", data), ("coordinator_messages", assignment)):
            for m in source.get(key, []):
                out.append(f"   prompt {m.get('role')}: {_short(m.get('content'), 2000)}")
    return out


def tell(record: dict, events: list[dict], verbose: bool = False) -> str:
    """The whole story as text."""
    start = timestamp(events[0]) if events else None
    end = timestamp(events[-1]) if events else None
    took = f" in {end - start:.1f} s" if start and end else ""
    lines = header(record, took)
    for e in events:
        lines += event_lines(e, start, verbose)
    return "\n".join(lines + footer(record))


def header(record: dict, took: str = "") -> list[str]:
    """The task's first lines: id, status, question, files."""
    status = record.get("status", "").removeprefix("TASK_STATUS_")
    lines = [f"task {record.get('task_id')} {status}{took}", f"  question: {_short(record.get('question'), 300)}"]
    return lines + [f"  file: {f.get('name')} ({f.get('media_type') or 'unknown type'}, {f.get('size', 0)} bytes)"
                    for f in record.get("files") or []]


def event_lines(event: dict, start: float | None, verbose: bool = False) -> list[str]:
    return ["  " + event_line(event, start)] + ["             " + d for d in details(event, verbose)]


def footer(record: dict) -> list[str]:
    """The answer or why there is none, and the tokens by role."""
    status = record.get("status", "").removeprefix("TASK_STATUS_")
    lines = []
    if record.get("answer"):
        lines.append(f"answer: {record['answer']}")
    if record.get("failure_reason"):
        lines.append(f"why it {'was cancelled' if status == 'CANCELLED' else status.lower()}: "
                     f"{record['failure_reason']}")
    usage = record.get("usage") or {}
    if usage:
        parts = [f"{role} {u.get('prompt_tokens', 0)}+{u.get('completion_tokens', 0)} ({_calls(u.get('requests', 0))})"
                 for role, u in sorted(usage.items())]
        lines.append("tokens (prompt+completion): " + ", ".join(parts))
    return lines


def _calls(n) -> str:
    return "1 call" if str(n) == "1" else f"{n} calls"


def as_json(record: dict, events: list[dict]) -> str:
    return json.dumps({"task": record, "events": events}, indent=2, ensure_ascii=False)


def _call_outcome(data: dict) -> str:
    """'ok' / 'error' for the call; a program that ran says how it ended ('exit status: 1 (error)')."""
    result = data.get("result", "")
    if result.startswith("exit status: "):
        return result.split("\n", 1)[0]
    return "ok" if data.get("ok") else "error"
