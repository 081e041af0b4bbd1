"""`workforce plan|approve|reject`: look at a plan waiting for approval and decide on it (the gateway's HTTP API).

    workforce submit --review "…"            # the task waits after assignment; its events say so
    workforce plan TASK_ID                    # the proposed subtasks (ids, workers, dependencies)
    workforce plan TASK_ID --json > plan.json # edit it, then:
    workforce approve TASK_ID [--plan plan.json] [--comment …]
    workforce reject TASK_ID --reason "…"
"""

import json
import sys
from pathlib import Path

from .cli_errors import EXIT_FAILED, EXIT_OK, usage
from .cli_errors import fail as _fail


def _proposals(http, task_id: str) -> list[dict]:
    response = http.get(f"/v1/tasks/{task_id}/plan")
    if response.status_code >= 400:
        _fail(response)
    return response.json().get("proposals", [])


def _editable(proposal: dict) -> list[dict]:
    return [{"id": s["subtask_id"], "content": s.get("content", ""), "worker_type": s.get("assignee", ""),
             "dependencies": s.get("dependencies", [])} for s in proposal.get("subtasks", [])]


def print_proposal(proposal: dict, out=sys.stdout) -> None:
    what = f"replan of {proposal['replaced_subtask_id']}" if proposal.get("replaced_subtask_id") else "plan"
    print(f"  {what} (version {proposal.get('plan_version', 0)}), decide by {proposal.get('deadline', '?')}:", file=out)
    for s in _editable(proposal):
        after = f" after {','.join(s['dependencies'])}" if s["dependencies"] else ""
        print(f"    [{s['id']}] ({s['worker_type']}{after}) {s['content']}", file=out)


def show_plan(args, client) -> int:
    with client(args) as http:
        proposals = _proposals(http, args.task_id)
    if not proposals:
        print(f"task {args.task_id} has no plan waiting for approval")
        return EXIT_FAILED
    if args.json:
        print(json.dumps({"plan_version": proposals[0].get("plan_version", 0),
                          "subtasks": _editable(proposals[0])}, indent=2))
        return EXIT_OK
    for p in proposals:
        print_proposal(p)
    return EXIT_OK


def _edited_plan(path: str):
    """The file `plan --json` wrote, edited: {"plan_version", "subtasks": [...]} or the list of subtasks alone."""
    try:
        edited = json.loads(Path(path).read_text() if path != "-" else sys.stdin.read())
    except OSError as exc:
        usage(f"cannot read {path}: {exc.strerror or exc}")
    except (ValueError, UnicodeDecodeError) as exc:
        usage(f"{path} is not JSON ({exc}); `workforce plan TASK_ID --json` writes the format")
    if not isinstance(edited, list) and not (isinstance(edited, dict) and isinstance(edited.get("subtasks"), list)):
        usage(f'{path} has no list of subtasks: expected {{"subtasks": [...]}} as '
              "`workforce plan TASK_ID --json` writes it")
    if not (edited if isinstance(edited, list) else edited["subtasks"]):
        usage(f"{path} has no subtasks; to approve the plan as proposed, leave out --plan")
    return edited


def approve(args, client) -> int:
    body: dict = {"comment": args.comment}
    if args.plan:
        edited = _edited_plan(args.plan)
        body["subtasks"] = edited["subtasks"] if isinstance(edited, dict) else edited
        if isinstance(edited, dict) and "plan_version" in edited:
            body["plan_version"] = edited["plan_version"]
    if args.version is not None:
        body["plan_version"] = args.version
    with client(args) as http:
        response = http.post(f"/v1/tasks/{args.task_id}/plan/approve", json=body)
        if response.status_code >= 400:
            _fail(response)
    print(f"approved plan version {response.json().get('plan_version', 0)}")
    return EXIT_OK


def reject(args, client) -> int:
    body: dict = {"reason": args.reason}
    if args.version is not None:
        body["plan_version"] = args.version
    with client(args) as http:
        response = http.post(f"/v1/tasks/{args.task_id}/plan/reject", json=body)
        if response.status_code >= 400:
            _fail(response)
    print(f"rejected plan version {response.json().get('plan_version', 0)}")
    return EXIT_OK


def register(sub, client) -> None:
    p = sub.add_parser("plan", help="show the plan waiting for approval")
    p.add_argument("task_id")
    p.add_argument("--json", action="store_true", help="print it as an editable file for `approve --plan`")
    p.set_defaults(fn=lambda a: show_plan(a, client))
    p = sub.add_parser("approve", help="approve a plan waiting for approval, as proposed or edited")
    p.add_argument("task_id")
    p.add_argument("--plan", default="", help="an edited plan (JSON file from `plan --json`, or - for stdin)")
    p.add_argument("--version", type=int, default=None, help="the plan version decided on (default: the oldest)")
    p.add_argument("--comment", default="", help="recorded with the decision")
    p.set_defaults(fn=lambda a: approve(a, client))
    p = sub.add_parser("reject", help="reject a plan waiting for approval (the task fails with the reason)")
    p.add_argument("task_id")
    p.add_argument("--reason", required=True, help="why: the task fails with it")
    p.add_argument("--version", type=int, default=None, help="the plan version decided on (default: the oldest)")
    p.set_defaults(fn=lambda a: reject(a, client))


def waiting(task_id: str, event: dict, out=sys.stdout) -> None:
    """What `submit --review` prints when the plan waits: the subtasks and the commands that decide."""
    data = event.get("data") or {}
    for s in data.get("subtasks", []):
        after = f" after {','.join(s.get('dependencies', []))}" if s.get("dependencies") else ""
        print(f"    [{s['id']}] ({s.get('worker_type', '')}{after}) {s.get('content', '')}", file=out)
    print(f"  → workforce approve {task_id}   |   workforce plan {task_id} --json > plan.json; edit; "
          f"workforce approve {task_id} --plan plan.json   |   workforce reject {task_id} --reason …"
          f"   (decide by {data.get('deadline', '?')}, then: {data.get('timeout_policy', '?')})", file=out)
