"""A stand-in for the Workforce gateway, for the runner's tests: a real HTTP server (FastAPI + uvicorn)
and a real gRPC server speaking the gateway's API (submit, get, watch as SSE / server stream), with the
task's events in the protobuf JSON mapping. Answers come from a table; "FAIL" in a question fails the
task. Faults can be switched on: 503 on the first submits, an event stream cut after a few events.
The real gateway is covered by the e2e test."""

import asyncio
import json
import threading
import time
import uuid
from concurrent import futures

import grpc
import uvicorn
from fastapi import FastAPI, File, Form, Header, Request, UploadFile
from fastapi.responses import JSONResponse, StreamingResponse
from google.protobuf.json_format import ParseDict

from workforce.v1 import channel_pb2, common_pb2, gateway_pb2, gateway_pb2_grpc
from workforce.local.nats_server import free_port

API_KEY = "test-key"


class TaskBook:
    def __init__(self, answers: dict[str, str], event_gap_s: float = 0.01):
        self.answers, self.gap = answers, event_gap_s
        self.tasks: dict[str, dict] = {}
        self.by_key: dict[str, str] = {}
        self.submits = 0
        self.fail_submits = 0  # answer 503 to this many submit calls
        self.cut_streams_after = 0  # first stream of each task breaks after this many events
        self.cut_done: set[str] = set()
        self.open_streams = self.max_open_streams = 0
        self.lock = threading.Lock()

    def submit(self, question: str, metadata: dict, key: str, files: list[str]) -> tuple[str, bool]:
        with self.lock:
            self.submits += 1
            if key and key in self.by_key:
                return self.by_key[key], False
            task_id = uuid.uuid4().hex[:12]
            self.tasks[task_id] = self._script(task_id, question, metadata, files)
            if key:
                self.by_key[key] = task_id
            return task_id, True

    def _script(self, task_id, question, metadata, files) -> dict:
        fail = "FAIL" in question
        answer = "" if fail else self.answers.get(question, "unknown")
        if isinstance(answer, list):  # one answer per sample: best-of-n with right and wrong attempts
            answer = answer[int(metadata.get("sample", 0)) % len(answer)]
        plan = {
            "subtasks": [
                {
                    "id": "1",
                    "content": f"look up: {question}"
                    + (f" via {answer}" if answer != self.answers.get(question) else ""),
                }
            ]
        }
        messages = [
            {"role": "system", "content": "You are the planner."},
            {"role": "user", "content": question},
        ]
        worker = [
            {"role": "user", "content": f"look up: {question}"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "search", "arguments": json.dumps({"q": question})},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": f"result for {question}"},
            {"role": "assistant", "content": answer or "not found"},
        ]
        end = ("task.failed", "TASK_STATUS_FAILED") if fail else ("task.succeeded", "TASK_STATUS_SUCCEEDED")
        events = [
            ("task.submitted", "", {"files": files}),
            (
                "plan.created",
                "",
                {
                    "planner_messages": messages,
                    "planner_output": json.dumps(plan),
                    "subtasks": plan["subtasks"],
                },
            ),
            (
                "plan.assigned",
                "",
                {"assignments": [{"task_id": "1", "assignee_id": "web", "dependencies": []}]},
            ),
            ("subtask.dispatched", "1", {"worker_type": "web"}),
            ("subtask.started", "1", {}),
            ("tool.call", "1", {"tool": "search", "arguments": {"q": question}, "result": "r", "ok": True}),
            (
                "subtask.trajectory",
                "1",
                {
                    "messages": worker,
                    "tools": [
                        {
                            "type": "function",
                            "function": {
                                "name": "search",
                                "description": "web search",
                                "parameters": {"properties": {"q": {"type": "string"}}},
                            },
                        }
                    ],
                },
            ),
            ("subtask.failed" if fail else "subtask.succeeded", "1", {"content": answer or "not found"}),
        ]
        if not fail:
            events.append(
                (
                    "answer.created",
                    "",
                    {
                        "planner_messages": messages + [{"role": "user", "content": "answer"}],
                        "planner_output": answer,
                    },
                )
            )
        events.append((end[0], "", {}))
        rendered = []
        for seq, (kind, sid, data) in enumerate(events, 1):
            event = {
                "taskId": task_id,
                "seq": str(seq),
                "type": kind,
                "subtaskId": sid,
                "data": data,
                "source": "standin",
            }
            if kind.startswith("task."):
                event["status"] = end[1] if kind == end[0] else "TASK_STATUS_QUEUED"
            rendered.append(event)
        usage = {
            "planner": {"promptTokens": "120", "completionTokens": "30", "requests": "2"},
            "worker:web": {"promptTokens": "200", "completionTokens": "40", "requests": "2"},
        }
        plan_state = {
            "taskId": task_id,
            "planVersion": 0,
            "subtasks": [
                {
                    "subtaskId": "1",
                    "content": plan["subtasks"][0]["content"],
                    "assignee": "web",
                    "status": "SUBTASK_STATUS_FAILED" if fail else "SUBTASK_STATUS_DONE",
                    "result": answer,
                }
            ],
        }
        return {
            "plan": plan_state,
            "record": {
                "taskId": task_id,
                "status": end[1],
                "question": question,
                "answer": answer,
                "failureReason": "subtask failed twice" if fail else "",
                "usage": usage,
                "metadata": metadata,
            },
            "events": rendered,
            "t0": time.monotonic(),
        }

    def available(self, task_id: str) -> list[dict]:
        task = self.tasks[task_id]
        n = int((time.monotonic() - task["t0"]) / self.gap) + 1 if self.gap else len(task["events"])
        return task["events"][:n]


def make_app(book: TaskBook) -> FastAPI:
    app = FastAPI()

    def authorized(authorization: str | None) -> bool:
        return authorization == f"Bearer {API_KEY}"

    def unauthorized():
        return JSONResponse({"error": "missing or wrong API key"}, status_code=401)

    def overloaded():
        with book.lock:
            if book.fail_submits > 0:
                book.fail_submits -= 1
                return True
        return False

    @app.post("/v1/tasks")
    async def submit(request: Request, authorization: str | None = Header(None)):
        if not authorized(authorization):
            return unauthorized()
        if overloaded():
            return JSONResponse({"error": "unavailable"}, status_code=503)
        body = await request.json()
        if not body.get("question"):
            return JSONResponse({"error": "empty question"}, status_code=400)
        task_id, created = book.submit(
            body["question"], body.get("metadata") or {}, body.get("idempotency_key", ""), []
        )
        return {"task_id": task_id, "created": created, "task": book.tasks[task_id]["record"]}

    @app.post("/v1/tasks/upload")
    async def upload(
        question: str = Form(...),
        idempotency_key: str = Form(""),
        metadata: str = Form("{}"),
        files: list[UploadFile] = File(...),
        authorization: str | None = Header(None),
    ):
        if not authorized(authorization):
            return unauthorized()
        names = [f"{f.filename}:{len(await f.read())}" for f in files]
        task_id, created = book.submit(question, json.loads(metadata), idempotency_key, names)
        return {"task_id": task_id, "created": created, "task": book.tasks[task_id]["record"]}

    @app.get("/v1/tasks/{task_id}")
    async def get(task_id: str, authorization: str | None = Header(None)):
        if not authorized(authorization):
            return unauthorized()
        if task_id not in book.tasks:
            return JSONResponse({"error": "unknown task"}, status_code=404)
        return book.tasks[task_id]["record"]

    @app.get("/v1/tasks/{task_id}/plan")
    async def plan(task_id: str, authorization: str | None = Header(None)):
        if not authorized(authorization):
            return unauthorized()
        if task_id not in book.tasks:
            return JSONResponse({"error": "unknown task"}, status_code=404)
        return book.tasks[task_id]["plan"]

    @app.get("/v1/tasks/{task_id}/events")
    async def events(task_id: str, from_seq: int = 0, authorization: str | None = Header(None)):
        if not authorized(authorization):
            return unauthorized()
        if task_id not in book.tasks:
            return JSONResponse({"error": "unknown task"}, status_code=404)
        cut = book.cut_streams_after if task_id not in book.cut_done else 0
        book.cut_done.add(task_id)

        async def stream():
            book.open_streams += 1
            book.max_open_streams = max(book.max_open_streams, book.open_streams)
            try:
                sent, seq = 0, max(from_seq, 1)
                while True:
                    ready = book.available(task_id)
                    while seq <= len(ready):
                        if cut and sent >= cut:
                            raise ConnectionError("stand-in: cutting the stream")
                        event = ready[seq - 1]
                        yield f"id: {event['seq']}\nevent: task-event\ndata: {json.dumps(event)}\n\n"
                        sent, seq = sent + 1, seq + 1
                        if event["type"].startswith("task.") and event["type"] != "task.submitted":
                            return
                    await asyncio.sleep(book.gap or 0.01)
            finally:
                book.open_streams -= 1

        return StreamingResponse(stream(), media_type="text/event-stream")

    return app


class GrpcServicer(gateway_pb2_grpc.WorkforceServicer):
    def __init__(self, book: TaskBook):
        self.book = book

    def _auth(self, context):
        if dict(context.invocation_metadata()).get("authorization") != f"Bearer {API_KEY}":
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong API key")

    def SubmitTask(self, request, context):
        self._auth(context)
        files = [f"{f.name}:{len(f.data)}" for f in request.files]
        task_id, created = self.book.submit(
            request.question, dict(request.metadata), request.idempotency_key, files
        )
        return gateway_pb2.SubmitTaskResponse(task_id=task_id, created=created)

    def GetTask(self, request, context):
        self._auth(context)
        if request.task_id not in self.book.tasks:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown task")
        return ParseDict(
            self.book.tasks[request.task_id]["record"], common_pb2.TaskRecord(), ignore_unknown_fields=True
        )

    def GetPlan(self, request, context):
        self._auth(context)
        if request.task_id not in self.book.tasks:
            context.abort(grpc.StatusCode.NOT_FOUND, "unknown task")
        return ParseDict(self.book.tasks[request.task_id]["plan"], channel_pb2.PlanState())

    def WatchTask(self, request, context):
        self._auth(context)
        seq = max(request.from_seq, 1)
        while True:
            ready = self.book.available(request.task_id)
            while seq <= len(ready):
                event = ready[seq - 1]
                yield ParseDict(event, channel_pb2.TaskEvent())
                seq += 1
                if event["type"].startswith("task.") and event["type"] != "task.submitted":
                    return
            time.sleep(self.book.gap or 0.01)


class StandinGateway:
    """Both servers on free ports, in background threads."""

    def __init__(self, answers: dict[str, str], event_gap_s: float = 0.01):
        self.book = TaskBook(answers, event_gap_s)
        self.http_port, self.grpc_port = free_port(), free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                make_app(self.book),
                host="127.0.0.1",
                port=self.http_port,
                log_level="critical",
                access_log=False,
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=32))
        gateway_pb2_grpc.add_WorkforceServicer_to_server(GrpcServicer(self.book), self.grpc)
        self.grpc.add_insecure_port(f"127.0.0.1:{self.grpc_port}")

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self) -> "StandinGateway":
        self.thread.start()
        self.grpc.start()
        deadline = time.time() + 20
        while not self.server.started:
            if time.time() > deadline:
                raise RuntimeError("stand-in gateway did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.grpc.stop(0)
