"""`workforce`: submit a task and watch it live, look at tasks and workers (talks to the gateway's HTTP API)."""

import argparse
import json
import os
import re
import sys
from pathlib import Path
from urllib.parse import quote

import httpx

from . import cli_review, cli_tool_review, story
from .cli_errors import (EXIT_FAILED, EXIT_GATEWAY, EXIT_INTERRUPTED, EXIT_OK, EXIT_PIPE_CLOSED, EXIT_RUNNING,
                         EXIT_STATUS, exit_with, usage)
from .cli_errors import fail as _fail


def _data_dirs(args) -> list[Path]:
    """Where `make run`'s API key may be: --data-dir / WF_LOCAL_DIR, else ./.local, else the .local beside the
    virtualenv this command runs from (the checkout's .venv/bin/workforce, called from another folder)."""
    if args.data_dir:
        return [Path(args.data_dir)]
    return [Path(".local"), Path(sys.prefix).parent / ".local"]


def _api_key(args) -> str:
    key = args.api_key or os.environ.get("WF_API_KEY", "")
    for folder in ([] if key else _data_dirs(args)):
        if (folder / "api-key").is_file():
            return (folder / "api-key").read_text().strip()
    return key


def _client(args) -> httpx.Client:
    key = _api_key(args)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=args.url, headers=headers, timeout=httpx.Timeout(30, read=None))


def _events(http: httpx.Client, task_id: str, on_event=None, follow: bool = True) -> list[dict]:
    """The task's events from the first, following them until the task ends; follow=False: those stored now."""
    events: list[dict] = []
    params = None if follow else {"follow": "false"}
    with http.stream("GET", f"/v1/tasks/{task_id}/events", params=params) as stream:
        if stream.status_code >= 400:
            stream.read()
            _fail(stream)
        for line in stream.iter_lines():
            if line.startswith("data:") and not _add_event(json.loads(line[5:]), events, on_event):
                break
    return events


def _add_event(event: dict, events: list[dict], on_event) -> bool:
    """Keep an event (False: the gateway ended the stream with an error, the channel cut, instead of one)."""
    if "type" not in event:
        error = event.get("error") or {}
        print(f"workforce: the event stream was cut: {error.get('message', event)}", file=sys.stderr)
        return False
    events.append(event)
    if on_event:
        on_event(event, events)
    return True


def _record(http: httpx.Client, task_id: str) -> dict:
    response = http.get(f"/v1/tasks/{task_id}")
    if response.status_code >= 400:
        _fail(response)
    return response.json()


def _read_files(paths: list[str]) -> list[tuple]:
    files = []
    for path in paths:
        try:
            files.append(("files", (Path(path).name, Path(path).read_bytes())))
        except OSError as exc:
            usage(f"cannot read {path}: {exc.strerror or exc}")
    return files


def _post_task(http: httpx.Client, args, files: list[tuple]) -> dict:
    """The gateway's answer to the submission: {task_id, created (False: the idempotency key's earlier task), task}."""
    body = {"question": args.question, "answer_format": args.answer_format, "timeout_s": args.timeout,
            "review_plan": args.review, "review_replans": args.review_replans, "token_budget": args.token_budget,
            "idempotency_key": args.idempotency_key, "metadata": dict(args.metadata)}
    if files:
        form = {k: json.dumps(v) if k == "metadata" else str(v) for k, v in body.items()}
        response = http.post("/v1/tasks/upload", data=form, files=files)
    else:
        response = http.post("/v1/tasks", json=body)
    if response.status_code >= 400:
        _fail(response)
    return response.json()


def submit(args) -> int:
    files = _read_files(args.files)
    with _client(args) as http:
        submitted = _post_task(http, args, files)
        task_id = submitted["task_id"]
        if args.no_wait:
            print(json.dumps(submitted, indent=2, ensure_ascii=False) if args.json else task_id)
            return EXIT_OK
        if not submitted.get("created", True):
            print(f"workforce: idempotency key {args.idempotency_key!r} was used before: task {task_id} is the task "
                  "that submission created", file=sys.stderr)
        if not args.json:
            print(f"task {task_id}", flush=True)
        args.submitted = task_id
        events = _events(http, task_id, None if args.json else _live(args, task_id))
        record = _record(http, task_id)
    if args.json:
        print(story.as_json(record, events))
        return _outcome(record)
    return _said(record)


def _live(args, task_id: str):
    """What `submit` prints of each event as it comes, and the commands that decide where a person has to."""
    def live(event, seen):
        print(story.event_line(event, story.timestamp(seen[0])), flush=True)
        if args.verbose:
            for line in story.details(event):
                print("             " + line, flush=True)
        if event["type"] == "approval.requested":
            cli_review.waiting(task_id, event)
            sys.stdout.flush()
        elif event["type"] == "tool.approval_requested":
            cli_tool_review.waiting(task_id, event)
            sys.stdout.flush()
    return live


def _said(record: dict) -> int:
    """`submit`'s last lines: the answer, or how the task ended and where its story is; the exit status."""
    task_id, status = record["task_id"], record["status"]
    if status == "TASK_STATUS_SUCCEEDED":
        print(f"\nanswer: {record['answer']}")
    elif status in ENDED:
        print(f"\n{status.removeprefix('TASK_STATUS_').lower()}: {record.get('failure_reason', '')}")
        print(f"(the whole story: workforce show {task_id})")
    else:
        print(f"\nthe event stream ended before the task did ({status.removeprefix('TASK_STATUS_').lower()}): "
              f"`workforce show {task_id}` follows it")
    return _outcome(record)


def _outcome(record: dict) -> int:
    """The exit status a task's record says: 0 succeeded, 1 failed or cancelled, 3 not ended."""
    if record.get("status") == "TASK_STATUS_SUCCEEDED":
        return EXIT_OK
    return EXIT_FAILED if record.get("status") in ENDED else EXIT_RUNNING


def _at_least(low: int):
    """An argparse type: a whole number of at least `low` (said by the option's name, not the API field's)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be {low} or more, not {value}")
        return value
    return parse


def _key_value(text: str) -> tuple[str, str]:
    """An argparse type: KEY=VALUE (the value may be empty and hold '=')."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


ENDED = ("TASK_STATUS_SUCCEEDED", "TASK_STATUS_FAILED", "TASK_STATUS_CANCELLED")
TASK_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")   # what can go into a URL path as it is


def show(args) -> int:
    """The task's story across services: plan, repairs, retries, assignment, subtasks, tool calls, answer. A task
    still running: followed to its end by default (the text) or with --follow, else its story so far."""
    follow = args.follow if args.follow is not None else not args.json
    with _client(args) as http:
        record = _record(http, args.task_id)
        if follow and not args.json and record["status"] not in ENDED:
            return _follow_story(http, args, record)
        # a snapshot unless following (an ended task: the same events either way)
        events = _events(http, args.task_id, follow=follow or record["status"] in ENDED)
        record = _record(http, args.task_id)
    print(story.as_json(record, events) if args.json else story.tell(record, events, args.verbose))
    return _outcome(record)


def _follow_story(http: httpx.Client, args, record: dict) -> int:
    """A running task's story so far, then each event as it comes, then how it ended."""
    print("\n".join(story.header(record)), flush=True)
    _events(http, args.task_id, lambda event, seen: print(
        "\n".join(story.event_lines(event, story.timestamp(seen[0]), args.verbose)), flush=True))
    record = _record(http, args.task_id)
    print("\n".join(story.footer(record)))
    return _outcome(record)


def list_tasks(args) -> int:
    """The caller's tasks, newest first: id, status, when, the question and its answer or failure."""
    params = {"limit": args.limit, **({"status": args.status} if args.status else {})}
    with _client(args) as http:
        response = http.get("/v1/tasks", params=params)
        if response.status_code >= 400:
            _fail(response)
    if args.json:
        print(json.dumps(response.json(), indent=2, ensure_ascii=False))
        return EXIT_OK
    tasks = response.json()["tasks"]
    if not tasks:
        print("no tasks" + (f" with status {args.status}" if args.status else ""), file=sys.stderr)
    for task in tasks:
        status = task["status"].removeprefix("TASK_STATUS_").lower()
        when = task.get("created_at", "")[:19].replace("T", " ")
        outcome = task.get("answer") or task.get("failure_reason") or ""
        line = f"{task['task_id']}  {status:<17} {when}  {_clip(task.get('question', ''), 60)}"
        print(line + (f"  → {_clip(outcome, 60)}" if outcome else ""))
    return EXIT_OK


def _clip(text: str, chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[: chars - 1] + "…"


def workers(args) -> int:
    """The worker pools in columns (-v: each replica and the recent failures), or as JSON: the API's /v1/workers
    with the failures of /v1/workers/failures."""
    with _client(args) as http:
        response = http.get("/v1/workers")
        if response.status_code >= 400:
            _fail(response)
        found = http.get("/v1/workers/failures", params={"limit": 200})
        if found.status_code >= 400:
            _fail(found)
    pools, instances, failures = response.json()["pools"], response.json()["instances"], found.json()["failures"]
    if args.json:
        print(json.dumps({**response.json(), "failures": failures}, indent=2, ensure_ascii=False))
    elif pools:
        _print_pools(pools, instances, failures, args.verbose)
    if not pools:
        print("no worker pools are registered: start a worker (`make run` starts one of each type)", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _print_pools(pools: list[dict], instances: list[dict], failures: list[dict], verbose: bool) -> None:
    busy, failed = {}, {}
    for i in instances:
        busy[i["worker_type"]] = busy.get(i["worker_type"], 0) + int(i.get("busy", 0))
    for f in failures:
        failed[f["worker_type"]] = failed.get(f["worker_type"], 0) + 1
    # the queue is the pool consumer's pending + ack-pending: subtasks waiting and those running
    print(f"{'POOL':<12} {'REPLICAS':>8} {'BUSY/CAPACITY':>13} {'QUEUED+RUNNING':>14} {'FAILED 1H':>9}  TOOLS")
    for pool in pools:
        kind = pool["worker_type"]
        print(f"{kind:<12} {pool.get('replicas', 0):>8} {busy.get(kind, 0):>6}/{pool.get('capacity', 0):<6} "
              f"{pool.get('queue_depth', 0):>14} {failed.get(kind, 0):>9}  {','.join(pool.get('tools', []))}")
    if verbose:
        print("\nreplicas:")
        for i in instances:
            print(f"  {i['instance_id']:<40} {i['worker_type']:<12} busy {i.get('busy', 0)}/{i.get('concurrency', 0)}"
                  f"  heartbeat {i.get('heartbeat_at', '')[11:19]}")
        print("\nfailures in the last hour (your tasks, newest first):" if failures
              else "\nno failures in the last hour")
        for f in failures[:20]:
            print(f"  {f['time'][11:19]}  {f['worker_type']:<10} {f['task_id']}/{f['subtask_id']}  "
                  f"{_clip(f.get('reason', ''), 100)}")


def cancel(args) -> int:
    with _client(args) as http:
        response = http.post(f"/v1/tasks/{args.task_id}/cancel", json={"reason": args.reason})
        if response.status_code >= 400:
            _fail(response)
        print(response.json()["status"].removeprefix("TASK_STATUS_").lower())
    return EXIT_OK


def download(args) -> int:
    """A file a subtask's worker produced (`show` lists them), into a file of that name here, -o PATH, or -o -."""
    if not TASK_ID.fullmatch(args.subtask_id.replace(".", "")):
        usage(f"{args.subtask_id[:60]!r} is not a subtask id (as `workforce show` lists them: 1, 2, 2.r1.1, …)")
    if "/" in args.name or args.name in (".", ".."):
        usage(f"{args.name[:60]!r} is not a file name (as `workforce show` lists them)")
    out = args.output or args.name
    if out != "-" and Path(out).exists() and not args.force:
        usage(f"{out} exists: pass --force to replace it, or -o another path")
    with _client(args) as http:
        response = http.get(f"/v1/tasks/{args.task_id}/subtasks/{args.subtask_id}/files/{quote(args.name, safe='')}")
        if response.status_code >= 400:
            _fail(response)
    if out == "-":
        sys.stdout.buffer.write(response.content)
        return EXIT_OK
    try:
        Path(out).write_bytes(response.content)
    except OSError as exc:
        usage(f"cannot write {out}: {exc.strerror}")
    print(f"{out} ({len(response.content)} bytes)", file=sys.stderr)
    return EXIT_OK


SHOW_HELP = """Tell a task's story across services, from its events: the plan, repairs, retries, assignment, subtasks,
tool calls, the answer or why there is none.

A task that has ended: its whole story, at once. A task still running: its story so far, then each event
as it comes until it ends (--no-follow: the story so far only, exit status 3). With --json: a snapshot
(the record and the events so far), at once, unless --follow."""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="workforce", formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_STATUS,
        description="Submit tasks to a Workforce gateway and follow them: the plan, the workers' subtasks, the "
        "answer.\nRun `make run` first for a local one.")
    _global_options(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _submit_command(sub)
    _show_commands(sub)
    p = sub.add_parser("list", help="list your tasks, newest first")
    p.add_argument("--status", default="", help="only tasks in this status (running, succeeded, failed, …)")
    p.add_argument("--limit", type=_at_least(1), default=20, help="at most this many (default %(default)s)")
    p.add_argument("--json", action="store_true", help="the API's answer as JSON: {tasks, next_page_token}")
    p.set_defaults(fn=list_tasks)
    p = sub.add_parser("workers", help="the worker pools: replicas, busy slots, queue, failures of the last hour")
    p.add_argument("-v", "--verbose", action="store_true", help="also each replica and the recent failures")
    p.add_argument("--json", action="store_true", help="the API's answer as JSON: {pools, instances, failures}")
    p.set_defaults(fn=workers)
    p = sub.add_parser("cancel", help="cancel a task")
    p.add_argument("task_id")
    p.add_argument("--reason", default="", help="recorded as the task's failure reason")
    p.set_defaults(fn=cancel)
    p = sub.add_parser("download", help="save a file a subtask's worker produced (`show` lists them)")
    p.add_argument("task_id")
    p.add_argument("subtask_id")
    p.add_argument("name", help="the file's name, as `show` lists it")
    p.add_argument("-o", "--output", default="", metavar="PATH", help="where to write it (default: its name here; "
                   "- for stdout)")
    p.add_argument("--force", action="store_true", help="replace a file that is there")
    p.set_defaults(fn=download)
    cli_review.register(sub, _client)
    cli_tool_review.register(sub, _client)
    for command in sub.choices.values():  # `workforce show T --api-key K` as well as `workforce --api-key K show T`
        _global_options(command, after_command=True)
    args = parser.parse_args(argv)
    task_id = getattr(args, "task_id", None)
    if task_id is not None and not TASK_ID.fullmatch(task_id):   # `show ../../etc` left the API's routes: a bare 404
        sub.choices[args.command].error(f"{task_id[:60]!r} is not a task id (letters and digits, as `workforce list` "
                                        "shows them)")
    code = _run(args)
    try:
        sys.stdout.flush()      # what is still buffered, before the interpreter's own flush would fail on it
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = EXIT_PIPE_CLOSED
    sys.exit(code)


def _submit_command(sub) -> None:
    p = sub.add_parser("submit", help="submit a task and print its events and answer (--no-wait: its id)",
                       description="Submit a task, then print its events as they come and its answer (exit status "
                       "0: it succeeded,\n1: it failed or was cancelled). --no-wait: print its id and return at once.",
                       formatter_class=argparse.RawDescriptionHelpFormatter, epilog=EXIT_STATUS)
    p.add_argument("question")
    p.add_argument("--answer-format", default="", help="how the answer should look, e.g. 'a number'")
    p.add_argument("--file", dest="files", action="append", default=[], metavar="PATH",
                   help="a file the task needs (repeat for several)")
    p.add_argument("--timeout", type=_at_least(0), default=0, metavar="SECONDS",
                   help="the task fails once it has run this long (0 = the server's default)")
    p.add_argument("--token-budget", type=_at_least(0), default=0,
                   help="tokens the task may use (0 = the server default, WF_TASK_TOKEN_BUDGET; none unless set)")
    p.add_argument("--idempotency-key", default="", metavar="KEY",
                   help="submitting again with the same key gives the first submission's task, not a new one")
    p.add_argument("--metadata", action="append", type=_key_value, default=[], metavar="KEY=VALUE",
                   help="kept on the task record (repeat for several); temperature=0.7 and answer_type=number"
                        "|integer|boolean|text are also settings the gateway checks")
    p.add_argument("--no-wait", "--detach", dest="no_wait", action="store_true",
                   help="print the task id (with --json: the API's answer) and return at once, without following")
    p.add_argument("--json", action="store_true", help="no live lines: at the end, the task record and every event "
                   "as JSON (as `show --json`); with --no-wait, the API's answer {task_id, created, task}")
    p.add_argument("-v", "--verbose", action="store_true", help="also print plans, repairs, tool calls")
    p.add_argument("--review", action="store_true", help="approve, edit or reject the plan before it runs")
    p.add_argument("--review-replans", action="store_true", help="review every replan too")
    p.set_defaults(fn=submit)


def _show_commands(sub) -> None:
    for name in ("show", "logs"):
        p = sub.add_parser(name, help="tell a task's story across services (its events); the text follows a "
                           "running task to its end, --json is a snapshot" + (" (the same as show)"
                                                                               if name == "logs" else ""),
                           description=SHOW_HELP, formatter_class=argparse.RawDescriptionHelpFormatter,
                           epilog=EXIT_STATUS)
        p.add_argument("task_id")
        p.add_argument("-v", "--verbose", action="store_true", help="raw model outputs, prompts, trajectories")
        p.add_argument("--json", action="store_true", help="the task record and its events as JSON: "
                       '{"task", "events"}; a snapshot unless --follow')
        p.add_argument("-f", "--follow", action=argparse.BooleanOptionalAction, default=None,
                       help="follow a running task's events until it ends, or not (default: follow the text, "
                            "not --json)")
        p.set_defaults(fn=show)


def _global_options(parser: argparse.ArgumentParser, after_command: bool = False) -> None:
    def default(value):  # after the command: set only when given, else the value before it (or its default) holds
        return argparse.SUPPRESS if after_command else value

    parser.add_argument("--url", default=default(os.environ.get("WF_GATEWAY_URL", "http://127.0.0.1:8080")),
                        help="the gateway's HTTP API (default: $WF_GATEWAY_URL or http://127.0.0.1:8080)")
    parser.add_argument("--api-key", default=default(""),
                        help="the API key (default: $WF_API_KEY, else DATA_DIR/api-key)")
    parser.add_argument("--data-dir", default=default(os.environ.get("WF_LOCAL_DIR", "")),
                        help="`make run`'s folder, for its API key (default: $WF_LOCAL_DIR, else ./.local, else "
                             "the .local of the checkout this command is installed in)")


def _run(args) -> int:
    """The command, with the usual mishaps said in one line instead of a traceback (exit status: EXIT_STATUS)."""
    try:
        return args.fn(args)
    except KeyboardInterrupt:
        task_id = getattr(args, "submitted", "")
        if task_id:
            print(f"\nstopped following; task {task_id} keeps running: `workforce show {task_id}` follows it, "
                  f"`workforce cancel {task_id}` stops it", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:   # the output's reader went away (`| head`): end quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # nothing more reaches the closed pipe
        return EXIT_PIPE_CLOSED
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        usage(f"--url {args.url!r} is not an HTTP URL like http://127.0.0.1:8080")
    except httpx.ConnectError:
        exit_with(f"cannot reach the gateway at {args.url} (is `make run` running? set --url or WF_GATEWAY_URL "
                  "for another one)", EXIT_GATEWAY)
    except httpx.HTTPError as exc:
        exit_with(f"the request to {args.url} failed: {type(exc).__name__}: {exc}", EXIT_GATEWAY)


if __name__ == "__main__":
    main()
