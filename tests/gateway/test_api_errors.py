"""Bad requests on the task API get one answer: 400 in the project's error shape, `param` naming the field (a body of
another media type 415, a method a route lacks 405, both typed as the client's error); nothing is written."""

import asyncio

import grpc
import nats
import pytest

from tests.gateway.test_tenancy import wait_status
from workforce.v1 import gateway_pb2, gateway_pb2_grpc

pytestmark = pytest.mark.e2e


def tasks_written(system) -> int:
    async def count():
        nc = await nats.connect(system.nats.url)
        try:
            return (await nc.jetstream().stream_info("KV_wf-tasks")).state.messages
        finally:
            await nc.close()

    return asyncio.run(count())


def error_of(response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"] and error["type"] == ("authentication_error" if status == 401 else
                                                   "invalid_request_error"), error
    return error


def test_validation_errors_are_400_and_name_the_field(system, clients):
    http = clients["alice"].http
    task_id = clients["alice"].submit("SUBTASKS:\n- one @echo")
    wait_status(clients["alice"], task_id)
    before = tasks_written(system)
    cases = [   # (request, param): schema checks (FastAPI) and hand-written checks alike
        (lambda: http.get("/v1/tasks", params={"limit": 0}), "limit"),
        (lambda: http.get("/v1/tasks", params={"limit": "many"}), "limit"),
        (lambda: http.get("/v1/tasks", params={"status": "bogus"}), "status"),
        (lambda: http.get("/v1/tasks", params={"page_token": "not-a-token"}), "page_token"),
        (lambda: http.post("/v1/tasks", json={"question": "a", "timeout_s": "abc"}), "timeout_s"),
        (lambda: http.post("/v1/tasks", json={"question": "a", "timeout_s": -5}), "timeout_s"),
        (lambda: http.post("/v1/tasks", json={"question": "a", "token_budget": -1}), "token_budget"),
        (lambda: http.post("/v1/tasks", json={"question": "   "}), "question"),
        (lambda: http.post("/v1/tasks", json={"answer_format": "x"}), "question"),
        (lambda: http.post("/v1/tasks", json={"question": "a", "metadata": {"answer_type": "date"}}),
         "metadata.answer_type"),
        (lambda: http.post("/v1/tasks", json={"question": "a", "metadata": {"k": "\x07"}}), "metadata"),
        (lambda: http.post("/v1/tasks", json=["question"]), "body"),
        (lambda: http.get(f"/v1/tasks/{task_id}/events", params={"from_seq": -1}), "from_seq"),
        (lambda: http.get(f"/v1/tasks/{task_id}/events", headers={"Last-Event-ID": "-1"}), "Last-Event-ID"),
        (lambda: http.post("/v1/tasks/upload", data={"question": "a", "metadata": "[1]"}), "metadata"),
        (lambda: http.post("/v1/tasks/upload", data={"question": "a", "timeout_s": "soon"}), "timeout_s"),
    ]
    for call, param in cases:
        error = error_of(call(), 400)
        assert error["param"] == param, error
    hot = error_of(http.post("/v1/tasks", json={"question": "a", "metadata": {"temperature": "hot"}}), 400)
    assert hot["param"] == "metadata.temperature"
    assert hot["message"] == "metadata.temperature must be a number from 0 to 2 (e.g. \"0.7\"), not 'hot'"
    assert tasks_written(system) == before


def test_unknown_fields_and_other_media_types_are_refused(system, clients):
    http, before = clients["alice"].http, tasks_written(system)
    bogus = error_of(http.post("/v1/tasks", json={"question": "a", "bogus": 1}), 400)
    assert bogus["param"] == "bogus" and "unknown field 'bogus'" in bogus["message"]
    typo = error_of(http.post("/v1/tasks", json={"question": "a", "timeout": 60}), 400)
    assert typo["param"] == "timeout" and "did you mean 'timeout_s'?" in typo["message"]
    assert error_of(http.post("/v1/tasks/x/cancel", json={"reasn": "typo"}), 400)["param"] == "reasn"
    form = error_of(http.post("/v1/tasks/upload", data={"question": "a", "review": "true"}), 400)
    assert form["param"] == "review" and "did you mean 'review_plan'?" in form["message"]
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=zz"):
        refused = http.post("/v1/tasks", content=b'{"question": "a"}', headers={"Content-Type": content_type})
        error = error_of(refused, 415)
        assert error["code"] == "unsupported_media_type" and "send application/json" in error["message"], error
    as_json = error_of(http.post("/v1/tasks/upload", json={"question": "a"}), 415)
    assert "send multipart/form-data" in as_json["message"]
    cancel = http.post("/v1/tasks/x/cancel", content=b"reason=typo",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert error_of(cancel, 415)["param"] == "body"
    untyped = error_of(http.post("/v1/tasks", content=b'{"question": "a"}'), 415)   # JSON is read as JSON only
    assert "has no Content-Type: send application/json" in untyped["message"]
    assert error_of(http.post("/v1/tasks"), 400)["param"] == "body"                 # no body at all: it is missing
    assert tasks_written(system) == before
    # the OpenAI route takes the extra fields OpenAI's SDKs send
    chat = http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi @echo"}],
                                                   "frequency_penalty": 0, "stream_options": None, "seed": 7})
    assert chat.status_code == 200, chat.text


def test_unknown_query_parameters_and_fields_of_decisions_are_refused(system, clients):
    """A typo in a query (`?limt=5` listed everything) or in a plan decision (`plan_verison`, an edited subtask's
    `depends_on`: the plan ran as proposed) is a 400 naming it; the chat route's conflict names its own field."""
    alice = clients["alice"]
    typo = error_of(alice.http.get("/v1/tasks", params={"limt": 5}), 400)
    assert typo["param"] == "limt" and "did you mean 'limit'?" in typo["message"]
    assert error_of(alice.http.get("/v1/tasks/x/events", params={"folow": "false"}), 400)["param"] == "folow"
    assert alice.http.get("/v1/tasks", params={"limit": 5, "status": "succeeded"}).status_code == 200
    task_id = alice.submit("SUBTASKS:\n- one @echo", review_plan=True)
    for verb, body, param in (("reject", {"reason": "r", "plan_verison": 99}, "plan_verison"),
                              ("approve", {"foo": 1}, "foo"),
                              ("approve", {"subtasks": [{"id": "1", "content": "c", "worker_type": "echo",
                                                         "depends_on": []}]}, "subtasks.0.depends_on")):
        assert error_of(alice.http.post(f"/v1/tasks/{task_id}/plan/{verb}", json=body), 400)["param"] == param
    assert alice.http.post(f"/v1/tasks/{task_id}/plan/reject", json={"reason": "checked"}).status_code == 200
    key = {"Idempotency-Key": "chat-conflict"}
    first = alice.http.post("/v1/chat/completions", headers=key,
                            json={"messages": [{"role": "user", "content": "one @echo"}]})
    assert first.status_code == 200, first.text
    other = alice.http.post("/v1/chat/completions", headers=key,
                            json={"messages": [{"role": "user", "content": "two @echo"}]})
    assert error_of(other, 409)["param"] == "messages"
    both = alice.http.post("/v1/tasks", json={"question": "a", "idempotency_key": "k1"},
                           headers={"Idempotency-Key": "k2"})
    assert error_of(both, 400)["param"] == "Idempotency-Key"
    union = alice.http.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": 5}]})
    assert error_of(union, 400)["param"] == "messages.0.content"


def test_a_method_a_route_lacks_is_a_405_client_error(system, clients):
    response = clients["alice"].http.delete("/v1/tasks/t0000000000000000000000000z")
    error = error_of(response, 405)
    assert error["code"] == "method_not_allowed" and "GET" in response.headers["allow"]


def test_two_different_keys_are_refused_on_http_and_grpc(system, clients):
    alice, bob = clients["alice"], clients["bob"]
    both = {"Authorization": f"Bearer {alice.key}", "x-api-key": bob.key}
    refused = alice.http.get("/v1/tasks", headers=both)
    error = error_of(refused, 401)
    assert "send one" in error["message"] and alice.key not in error["message"] and bob.key not in error["message"]
    assert alice.http.get("/v1/me", headers={"x-api-key": alice.key}).json()["name"] == "alice"   # the same key: fine
    stub = gateway_pb2_grpc.WorkforceStub(alice.grpc_channel)
    with pytest.raises(grpc.RpcError) as info:
        stub.ListTasks(gateway_pb2.ListTasksRequest(), metadata=(("authorization", f"Bearer {alice.key}"),
                                                                 ("x-api-key", bob.key)))
    assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED and "send one" in info.value.details()
    same = stub.ListTasks(gateway_pb2.ListTasksRequest(limit=1), metadata=(("authorization", f"Bearer {alice.key}"),
                                                                           ("x-api-key", alice.key)))
    assert same is not None


def test_event_stream_errors_name_what_was_sent_and_keep_the_stream_to_themselves(system, clients):
    alice = clients["alice"]
    task_id = alice.submit("SUBTASKS:\n- short @echo")
    wait_status(alice, task_id)

    async def stream_end():
        nc = await nats.connect(system.nats.url)
        try:
            return (await nc.jetstream().stream_info("WF_EVENTS")).state.last_seq
        finally:
            await nc.close()

    far = 10**12
    by_header = error_of(alice.http.get(f"/v1/tasks/{task_id}/events", headers={"Last-Event-ID": str(far)}), 400)
    assert by_header["param"] == "Last-Event-ID" and by_header["message"].startswith(f"Last-Event-ID {far} is past")
    by_query = error_of(alice.http.get(f"/v1/tasks/{task_id}/events", params={"from_seq": far}), 400)
    assert by_query["param"] == "from_seq" and by_query["message"].startswith(f"from_seq {far} is past")
    end = asyncio.run(stream_end())
    for error in (by_header, by_query):   # other tenants' activity is not told
        assert "last sequence" not in error["message"] and str(end) not in error["message"].replace(str(far), "")
