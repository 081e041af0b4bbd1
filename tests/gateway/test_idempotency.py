"""An idempotency key names one request: a retry of it answers with the first task (200), the key with a request
that would shape another task (any option, any attached file) is a 409 naming the first task and the field."""

import grpc
import pytest

from workforce.v1 import gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.e2e

FIRST = {"question": "SUBTASKS:\n- idempotent step @echo", "answer_format": "one line", "metadata": {"team": "a"},
         "timeout_s": 600, "review_plan": False, "review_replans": False, "token_budget": 50_000}


def test_a_key_reused_with_other_options_is_a_409_naming_the_field(system, clients):
    http = clients["alice"].http
    first = http.post("/v1/tasks", json={**FIRST, "idempotency_key": "options-1"})
    assert first.status_code == 201, first.text
    task_id = first.json()["task_id"]
    again = http.post("/v1/tasks", json={**FIRST, "idempotency_key": "options-1"})
    assert again.status_code == 200 and again.json()["task_id"] == task_id, again.text
    for field, value in (("review_plan", True), ("review_replans", True), ("token_budget", 60_000),
                         ("metadata", {"team": "b"}), ("metadata", {}), ("timeout_s", 601), ("timeout_s", 0),
                         ("answer_format", "two lines"), ("question", "SUBTASKS:\n- another @echo")):
        other = http.post("/v1/tasks", json={**FIRST, field: value, "idempotency_key": "options-1"})
        assert other.status_code == 409, (field, value, other.text)
        error = other.json()["error"]
        assert error["param"] == field and task_id in error["message"] and f"another {field}" in error["message"]
    # the same over gRPC (the comparison is the service's)
    stub = gateway_pb2_grpc.WorkforceStub(clients["alice"].grpc_channel)
    request = gateway_pb2.SubmitTaskRequest(**{**FIRST, "idempotency_key": "options-1"})
    assert stub.SubmitTask(request, metadata=clients["alice"].metadata).task_id == task_id
    request.review_plan = True
    with pytest.raises(grpc.RpcError) as info:
        stub.SubmitTask(request, metadata=clients["alice"].metadata)
    assert info.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "review_plan" in info.value.details()


def test_defaults_compare_as_applied(system, clients):
    """token_budget 0 is the server's default budget (none in this system): the same request as 0 again, and a retry
    of a request that left timeout_s out is the same with timeout_s 0."""
    http = clients["alice"].http
    first = http.post("/v1/tasks", json={"question": "SUBTASKS:\n- defaults @echo", "idempotency_key": "defaults-1"})
    assert first.status_code == 201, first.text
    again = http.post("/v1/tasks", json={"question": "SUBTASKS:\n- defaults @echo", "idempotency_key": "defaults-1",
                                         "timeout_s": 0, "token_budget": 0, "metadata": {}, "review_plan": False})
    assert again.status_code == 200 and again.json()["task_id"] == first.json()["task_id"], again.text


def test_a_key_reused_with_other_files_is_a_409(system, clients):
    http = clients["alice"].http

    def upload(*files, **fields):
        return http.post("/v1/tasks/upload", data={"question": "SUBTASKS:\n- read them @echo",
                                                   "idempotency_key": "files-1", **fields},
                         files=[("files", f) for f in files])

    notes = ("notes.txt", b"first notes", "text/plain")
    first = upload(notes)
    assert first.status_code == 201, first.text
    assert upload(notes).status_code == 200
    for files in ([("notes.txt", b"other notes", "text/plain")], [("notes.txt", b"first notes", "text/markdown")],
                  [("renamed.txt", b"first notes", "text/plain")], [notes, ("more.txt", b"x", "text/plain")], []):
        other = upload(*files)
        assert other.status_code == 409 and other.json()["error"]["param"] == "files", (files, other.text)
    assert upload(notes, review_plan="true").json()["error"]["param"] == "review_plan"
