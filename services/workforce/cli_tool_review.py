"""`workforce calls|allow|deny`: tool calls held for a person's approval (WF_APPROVE_TOOLS), over the gateway's HTTP
API.

    workforce calls TASK_ID                      # the task's gated calls: waiting ones first, with their call ids
    workforce allow TASK_ID CALL_ID [--comment …]
    workforce deny TASK_ID CALL_ID [--reason …]  # the worker's model reads "denied by <you>: <reason>"
"""

import json
import sys

from .cli_errors import fail as _fail


def _calls(http, task_id: str) -> list[dict]:
    response = http.get(f"/v1/tasks/{task_id}/tool-calls")
    if response.status_code >= 400:
        _fail(response)
    return response.json().get("calls", [])


def print_call(call: dict, out=sys.stdout) -> None:
    request, decision = call.get("request", {}), call.get("decision")
    if decision:
        verdict = "approved" if decision.get("verdict") == "APPROVAL_VERDICT_APPROVE" else "denied"
        state = f"{verdict} by {decision.get('decided_by', '?')}" + (f": {decision['reason']}"
                                                                     if decision.get("reason") else "")
    else:
        state = f"WAITING (decide by {request.get('deadline', '?')}, then: {request.get('timeout_policy', '?')})"
    print(f"  {request.get('call_id', '?')}  subtask {request.get('subtask_id', '?')}  "
          f"{request.get('worker_type', '?')}.{request.get('tool', '?')}  {state}", file=out)
    print(f"      arguments: {request.get('arguments', '')[:2000]}", file=out)


def show_calls(args, client) -> int:
    with client(args) as http:
        calls = _calls(http, args.task_id)
    if args.json:
        print(json.dumps(calls, indent=2))
        return 0
    if not calls:
        print(f"task {args.task_id} has no tool calls held for approval")
        return 0
    calls.sort(key=lambda c: "decision" in c)
    for call in calls:
        print_call(call)
    return 0


def decide(args, client, approve: bool) -> int:
    path = "approve" if approve else "deny"
    body = {"comment": args.comment} if approve else {"reason": args.reason}
    with client(args) as http:
        response = http.post(f"/v1/tasks/{args.task_id}/tool-calls/{args.call_id}/{path}", json=body)
        if response.status_code >= 400:
            _fail(response)
    print(f"{'approved' if approve else 'denied'} tool call {args.call_id}")
    return 0


def register(sub, client) -> None:
    p = sub.add_parser("calls", help="show a task's tool calls held for approval (WF_APPROVE_TOOLS)")
    p.add_argument("task_id")
    p.add_argument("--json", action="store_true", help="the calls as the API gives them, as JSON")
    p.set_defaults(fn=lambda a: show_calls(a, client))
    p = sub.add_parser("allow", help="approve a tool call held for approval: it runs")
    p.add_argument("task_id")
    p.add_argument("call_id")
    p.add_argument("--comment", default="", help="recorded with the decision")
    p.set_defaults(fn=lambda a: decide(a, client, True))
    p = sub.add_parser("deny", help="deny a tool call held for approval: the model gets the denial instead")
    p.add_argument("task_id")
    p.add_argument("call_id")
    p.add_argument("--reason", default="", help="what the worker's model reads with the denial")
    p.set_defaults(fn=lambda a: decide(a, client, False))


def waiting(task_id: str, event: dict, out=sys.stdout) -> None:
    """What `submit` prints when a tool call waits: the call and the commands that decide."""
    data = event.get("data") or {}
    call = data.get("call_id", "?")
    print(f"    {data.get('tool', '?')}({str(data.get('arguments', ''))[:300]})", file=out)
    print(f"  → workforce allow {task_id} {call}   |   workforce deny {task_id} {call} --reason …"
          f"   (decide by {data.get('deadline', '?')}, then: {data.get('timeout_policy', '?')})", file=out)
