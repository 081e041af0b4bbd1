"""What the OpenAPI document needs beyond what FastAPI derives: success responses typed by the protobuf messages the
routes send (schemas from proto_json.py, registered as components), the event stream's media type, and no 422
(a request that does not match the schema is a 400, like any other bad input)."""

from fastapi import FastAPI

from ..v1 import channel_pb2, common_pb2, gateway_pb2
from .proto_json import component_name, ref, schemas

# The messages routes send, and those wrapping them that the HTTP API writes with every field (as dicts).
COMPONENTS = schemas(
    common_pb2.TaskRecord.DESCRIPTOR, channel_pb2.PlanState.DESCRIPTOR, channel_pb2.TaskEvent.DESCRIPTOR,
    channel_pb2.ApprovalDecision.DESCRIPTOR, gateway_pb2.SubmitTaskResponse.DESCRIPTOR,
    gateway_pb2.ListTasksResponse.DESCRIPTOR, gateway_pb2.ListWorkersResponse.DESCRIPTOR,
    gateway_pb2.ListToolCallsResponse.DESCRIPTOR,
    required={"SubmitTaskResponse": ("task_id", "created", "task"), "ListTasksResponse": ("tasks", "next_page_token"),
              "ListWorkersResponse": ("pools", "instances"), "ListToolCallsResponse": ("calls",)})

_TEXT, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}


def _object(properties: dict, description: str = "") -> dict:
    return {"type": "object", "properties": properties, "required": list(properties),
            **({"description": description} if description else {})}


# Bodies that are not protobuf messages (the console's look-closer routes, the OpenAI-compatible routes), by hand.
COMPONENTS.update({
    "Health": _object({"status": {"enum": ["ok", "ready"]}}),
    "Identity": _object({"name": _TEXT, "admin": _BOOL, "auth": _BOOL},
                        "The API key's name; admin: it sees every tenant's tasks; auth: whether keys are checked"),
    "Trajectory": _object({"task_id": _TEXT, "subtask_id": _TEXT,
                           "events": {"type": "array", "items": {"$ref": "#/components/schemas/TaskEvent"}}}),
    "WorkerFailure": _object({"time": {"type": "string", "format": "date-time"}, "task_id": _TEXT,
                              "subtask_id": _TEXT, "worker_type": _TEXT, "attempt_id": _TEXT, "reason": _TEXT}),
    "WorkerFailures": _object({"failures": {"type": "array",
                                            "items": {"$ref": "#/components/schemas/WorkerFailure"}}}),
    "Model": _object({"id": _TEXT, "object": {"const": "model"}, "owned_by": _TEXT}),
    "ModelList": _object({"object": {"const": "list"},
                          "data": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}}}),
    "ChatCompletion": _object({
        "id": _TEXT, "object": {"const": "chat.completion"}, "created": _INT, "model": _TEXT,
        "choices": {"type": "array", "items": _object({
            "index": _INT, "finish_reason": _TEXT,
            "message": _object({"role": {"const": "assistant"}, "content": _TEXT})})},
        "usage": _object({"prompt_tokens": _INT, "completion_tokens": _INT, "total_tokens": _INT}),
        "workforce": _object({"task_id": _TEXT, "last_event": _TEXT}, "The task that answered, its last event"),
    }),
})


def json_body(name: str, description: str) -> dict:
    """A success response whose body is the hand-written component `name`."""
    assert name in COMPONENTS, name
    return {"description": description, "content": {"application/json": {"schema": {
        "$ref": f"#/components/schemas/{name}"}}}}


def json_ok(message, description: str) -> dict:
    """A success response (for a route's `responses`) whose body is `message` (a protobuf class) as JSON."""
    assert component_name(message.DESCRIPTOR) in COMPONENTS, message
    return {"description": description, "content": {"application/json": {"schema": ref(message.DESCRIPTOR)}}}


EVENT_STREAM_OK = {
    "description": (
        "Server-Sent Events (`text/event-stream`), one per stored event of the task, oldest first, until the "
        "task's terminal event (`task.succeeded`, `task.failed`, `task.cancelled`). Each event has `id:` (its "
        "stream sequence: one stream for all tasks, so ids grow but are not 1..N per task; resume with "
        "`Last-Event-ID` or `from_seq`), `event:` (the event type, e.g. `task.submitted`, `plan.created`, "
        "`subtask.succeeded`) and `data:` (the event as a JSON object: the `TaskEvent` schema, `seq` a string as "
        "every 64-bit integer, `data` an object of the event type's details). A comment line `: ping` keeps an "
        "idle stream open. A stream the task channel cut ends with an `error` event whose data is "
        "`{\"error\": {\"code\", \"message\", \"retry_after\"}}`."),
    "content": {"text/event-stream": {
        "schema": {"type": "string"},
        "example": 'id: 1042\r\nevent: task.submitted\r\ndata: {"task_id": "t01…", "seq": "1042", '
                   '"time": "2025-01-01T12:00:00Z", "type": "task.submitted", "source": "gateway", '
                   '"status": "TASK_STATUS_QUEUED"}\r\n\r\n'}},
}


def install(app: FastAPI) -> None:
    """Serve the document with COMPONENTS and without FastAPI's own 422 responses (and their schemas)."""
    derived = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        document = derived()
        for path in document.get("paths", {}).values():
            for operation in path.values():
                responses = operation.get("responses", {})
                if "HTTPValidationError" in str(responses.get("422", "")):
                    del responses["422"]
        found = document.setdefault("components", {}).setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            found.pop(name, None)
        clash = set(found) & set(COMPONENTS)
        assert not clash, f"OpenAPI components named twice: {clash}"
        found.update(COMPONENTS)
        return document

    app.openapi = openapi
