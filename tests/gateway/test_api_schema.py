"""The OpenAPI document types the success bodies of the main routes (schemas derived from the protobuf messages they
are, in proto3 JSON), and what a running gateway sends matches them; the services' internal fields are not in it."""

import json
import time

import httpx
import jsonschema
import pytest

from tests.gateway.conftest import stored_record
from tests.gateway.test_tenancy import HOLD, sse_events, wait_running, wait_status

pytestmark = pytest.mark.e2e

TYPED = [("post", "/v1/tasks", "201", "SubmitTaskResponse"), ("post", "/v1/tasks", "200", "SubmitTaskResponse"),
         ("post", "/v1/tasks/upload", "201", "SubmitTaskResponse"), ("get", "/v1/tasks", "200", "ListTasksResponse"),
         ("get", "/v1/tasks/{task_id}", "200", "TaskRecord"), ("get", "/v1/tasks/{task_id}/plan", "200", "PlanState"),
         ("post", "/v1/tasks/{task_id}/cancel", "200", "TaskRecord"),
         ("get", "/v1/workers", "200", "ListWorkersResponse"),
         ("post", "/v1/tasks/{task_id}/plan/approve", "200", "ApprovalDecision"),
         ("get", "/v1/tasks/{task_id}/tool-calls", "200", "ListToolCallsResponse")]

# bodies that are not protobuf messages: their schemas are written by hand (gateway/openapi_doc.py)
BY_HAND = [("get", "/healthz", "Health"), ("get", "/readyz", "Health"), ("get", "/v1/me", "Identity"),
           ("get", "/v1/tasks/{task_id}/subtasks/{subtask_id}/trajectory", "Trajectory"),
           ("get", "/v1/workers/failures", "WorkerFailures"), ("get", "/v1/models", "ModelList"),
           ("get", "/v1/models/{model}", "Model"), ("post", "/v1/chat/completions", "ChatCompletion")]


@pytest.fixture(scope="module")
def document(system):
    return httpx.get(f"http://127.0.0.1:{system.http_port}/openapi.json").json()


def schema_of(document: dict, method: str, path: str, status: str = "200") -> dict:
    return document["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]


def check(document: dict, schema: dict, body) -> None:
    """`body` is valid by `schema` (its $refs resolved in the OpenAPI document, a JSON Schema 2020-12 dialect)."""
    jsonschema.Draft202012Validator({**schema, "components": document["components"]},
                                    format_checker=jsonschema.FormatChecker()).validate(body)


def test_the_main_routes_document_their_success_bodies(document):
    for method, path, status, name in TYPED + [(m, p, "200", n) for m, p, n in BY_HAND]:
        assert schema_of(document, method, path, status) == {"$ref": f"#/components/schemas/{name}"}, (method, path)
    assert every_success_body_is_typed(document) == []
    components = document["components"]["schemas"]
    record = components["TaskRecord"]["properties"]
    assert record["token_budget"]["type"] == "string"                 # int64: a decimal string in proto3 JSON
    assert record["subtasks_done"]["type"] == "integer"               # int32: a number
    assert record["created_at"]["format"] == "date-time"
    assert components["TaskStatus"]["enum"][1] == "TASK_STATUS_QUEUED"
    assert components["TaskEvent"]["properties"]["seq"]["type"] == "string"
    assert "quota_reserved" not in record and "object_key" not in components["FileRef"]["properties"]
    assert not {"outbox", "applied", "data_json"} & (set(components["PlanState"]["properties"])
                                                     | set(components["TaskEvent"]["properties"]))
    # validation errors are 400s in the project's error shape: FastAPI's 422 is gone from the document
    assert "HTTPValidationError" not in components
    assert all("422" not in op["responses"] for path, ops in document["paths"].items() for op in ops.values()
               if path != "/v1/chat/completions")
    stream = document["paths"]["/v1/tasks/{task_id}/events"]["get"]["responses"]["200"]
    assert list(stream["content"]) == ["text/event-stream"]
    assert "stream sequence" in stream["description"] and "TaskEvent" in stream["description"]


def every_success_body_is_typed(document: dict) -> list[str]:
    """The routes whose 2xx JSON body has no schema beyond `{}` (FastAPI's default for a route returning a dict)."""
    untyped = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and schema is not None and not schema.get("$ref") and schema in ({},):
                    untyped.append(f"{method} {path} {status}")
    return untyped


def test_the_hand_written_schemas_match_what_a_running_gateway_sends(system, clients, document):
    alice = clients["alice"]
    me = alice.http.get("/v1/me")
    check(document, schema_of(document, "get", "/v1/me"), me.json())
    for route in ("/healthz", "/readyz", "/v1/models", "/v1/models/workforce", "/v1/workers/failures"):
        response = alice.http.get(route)
        assert response.status_code == 200, response.text
        check(document, schema_of(document, "get", route.replace("/workforce", "/{model}")), response.json())
    chat = alice.http.post("/v1/chat/completions", json={"model": "workforce", "messages": [
        {"role": "user", "content": "SUBTASKS:\n- typed chat @echo"}]})
    assert chat.status_code == 200, chat.text
    check(document, schema_of(document, "post", "/v1/chat/completions"), chat.json())
    task_id = chat.json()["workforce"]["task_id"]
    subtask_id = alice.http.get(f"/v1/tasks/{task_id}/plan").json()["subtasks"][0]["subtask_id"]
    trajectory = alice.http.get(f"/v1/tasks/{task_id}/subtasks/{subtask_id}/trajectory").json()
    assert trajectory["events"], trajectory
    check(document, schema_of(document, "get", "/v1/tasks/{task_id}/subtasks/{subtask_id}/trajectory"), trajectory)


def test_a_running_gateway_sends_what_the_schemas_say(system, clients, document):
    alice = clients["alice"]
    system.llm.script([HOLD])
    submitted = alice.http.post("/v1/tasks", json={"question": "SUBTASKS:\n- typed step @echo", "review_plan": True,
                                                   "token_budget": 90000, "metadata": {"project": "schema"}})
    assert submitted.status_code == 201, submitted.text
    check(document, schema_of(document, "post", "/v1/tasks", "201"), submitted.json())
    task_id = submitted.json()["task_id"]
    deadline = time.time() + 30
    while alice.http.get(f"/v1/tasks/{task_id}").json()["status"] != "TASK_STATUS_AWAITING_APPROVAL":
        assert time.time() < deadline
        time.sleep(0.1)
    waiting = alice.http.get(f"/v1/tasks/{task_id}/plan").json()
    assert waiting["proposals"]
    check(document, schema_of(document, "get", "/v1/tasks/{task_id}/plan"), waiting)
    approved = alice.http.post(f"/v1/tasks/{task_id}/plan/approve", json={})
    check(document, schema_of(document, "post", "/v1/tasks/{task_id}/plan/approve"), approved.json())
    assert wait_status(alice, task_id)["status"] == "TASK_STATUS_SUCCEEDED"

    upload = alice.http.post("/v1/tasks/upload", data={"question": "SUBTASKS:\n- typed file @echo"},
                             files=[("files", ("notes.txt", b"typed notes", "text/plain"))])
    assert upload.status_code == 201, upload.text
    check(document, schema_of(document, "post", "/v1/tasks/upload", "201"), upload.json())
    wait_status(alice, upload.json()["task_id"])
    held = alice.submit("SUBTASKS:\n- hold the line @echo")
    wait_running(alice, held)
    cancelled = alice.http.post(f"/v1/tasks/{held}/cancel", json={"reason": "typed"})
    check(document, schema_of(document, "post", "/v1/tasks/{task_id}/cancel"), cancelled.json())

    routes = ("/v1/tasks/{task_id}", "/v1/tasks/{task_id}/plan", "/v1/tasks", "/v1/workers",
              "/v1/tasks/{task_id}/tool-calls")
    for route in routes:
        path = route.replace("{task_id}", task_id)
        response = alice.http.get(path)
        assert response.status_code == 200, response.text
        check(document, schema_of(document, "get", route), response.json())
    record = alice.http.get(f"/v1/tasks/{task_id}").json()
    assert record["token_budget"] == "90000" and isinstance(record["usage"]["planner"]["prompt_tokens"], str)
    # each event of the stream is a TaskEvent; its id is its stream sequence, global across tasks
    events = sse_events(alice, task_id)
    for event in events:
        check(document, {"$ref": "#/components/schemas/TaskEvent"}, event)
    with alice.http.stream("GET", f"/v1/tasks/{task_id}/events") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        ids = [line[3:].strip() for line in response.iter_lines() if line.startswith("id:")]
    assert ids == [e["seq"] for e in events]
    later = sse_events(alice, upload.json()["task_id"])   # a later task's events go on from the earlier one's
    assert int(later[0]["seq"]) > int(events[-1]["seq"])       # not 1..N per task


def test_internal_fields_are_not_in_public_records(system, clients):
    """The quota reservation and the files' object-store keys stay in the stored record: not in a task's JSON, a
    listing, a submission's answer or the plan."""
    slow = clients["slow"]        # an identity with an in-flight quota: its tasks hold a reservation
    upload = slow.http.post("/v1/tasks/upload", data={"question": "SUBTASKS:\n- read it @echo"},
                            files=[("files", ("../secret/notes.txt", b"private notes", "text/plain"))])
    assert upload.status_code == 201, upload.text
    task_id = upload.json()["task_id"]
    stored = stored_record(system, task_id)
    assert stored.quota_reserved and stored.files[0].object_key.startswith(f"{task_id}/in/")
    wait_status(slow, task_id)
    bodies = {"submit": upload.json()["task"], "get": slow.http.get(f"/v1/tasks/{task_id}").json(),
              "list": next(t for t in slow.http.get("/v1/tasks").json()["tasks"] if t["task_id"] == task_id),
              "plan": slow.http.get(f"/v1/tasks/{task_id}/plan").json()}
    for name, body in bodies.items():
        text = json.dumps(body)
        assert "quota_reserved" not in text and "object_key" not in text and stored.files[0].object_key not in text, \
            (name, body)
    assert bodies["get"]["files"] == [{"name": "notes.txt", "size": "13", "media_type": "text/plain",
                                       "sha256": stored.files[0].sha256}]
